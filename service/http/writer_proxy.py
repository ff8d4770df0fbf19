"""Forwarding writes from a reader worker to the one writer process, over a Unix socket.

With `newsrec serve --workers N`, every worker answers reads from its own read-only copy
of the index; a write that reaches a worker is sent on, unchanged (method, raw path,
body, Authorization), to the single writer, whose answer is returned as it is. The
writer publishes each write; every worker loads the new version within
`reload_interval` seconds plus the load time (see `LiveIndex`).
"""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import Request, Response

_FORWARDED_HEADERS = ("authorization", "content-type")


class WriterProxy:
    def __init__(self, socket: Path, *, timeout: float = 600.0) -> None:
        self._client = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=str(socket)),
            base_url="http://newsrec-writer",
            timeout=timeout,
        )

    async def forward(self, request: Request) -> Response:
        target = request.scope.get("raw_path") or request.url.path.encode()
        query = request.scope.get("query_string", b"")
        url = target.decode("ascii") + (f"?{query.decode('ascii')}" if query else "")
        headers = {k: v for k, v in request.headers.items() if k in _FORWARDED_HEADERS}
        try:
            reply = await self._client.request(
                request.method, url, content=await request.body(), headers=headers
            )
        except httpx.TransportError:
            return Response(
                b'{"detail": "the writer process is not reachable; retry shortly"}',
                status_code=503,
                media_type="application/json",
                headers={"Retry-After": "1"},
            )
        return Response(
            reply.content,
            status_code=reply.status_code,
            media_type=reply.headers.get("content-type"),
        )

    async def aclose(self) -> None:
        await self._client.aclose()
