"""uvicorn's HTTP protocol with what it lacks for an open port: a deadline for a request's
head, and its own 400s in the API's JSON error shape.

uvicorn times out idle keep-alive connections, but not a client that sends half a request
and waits (each such connection is held for good: a few hundred exhaust a server). Here
the request line and headers must arrive within `NEWSREC_REQUEST_HEAD_TIMEOUT` seconds of
the connection opening or the previous response ending, or the connection is closed.
The body has its own deadline (`BodyLimitMiddleware`), where the app reads it.

`uvicorn_options` hands it to uvicorn with the deadline bound in (a picklable partial, so
`--workers` processes get it too).
"""

from __future__ import annotations

import asyncio
import json
from functools import partial
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

from service.settings import ServiceSettings


class GuardedHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """The default protocol (httptools, else h11) with a request-head deadline."""

    def __init__(self, *args: Any, head_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timeout = head_timeout
        self._head_deadline: asyncio.TimerHandle | None = None
        self._timed_cycle: object = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def data_received(self, data: bytes) -> None:
        # Between requests (none yet, or the last one answered), new bytes start a head.
        if self._head_deadline is None and (self.cycle is None or self.cycle.response_complete):
            self._arm_head_deadline()
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        """A request uvicorn cannot parse (an over-long or non-ASCII request line): the
        API's `{"detail": ...}` shape instead of plain text."""
        body = json.dumps({"detail": f"malformed HTTP request: {msg}"}).encode()
        head = [b"HTTP/1.1 400 Bad Request"]
        head += [name + b": " + value for name, value in self.server_state.default_headers]
        head += [
            b"content-type: application/json",
            b"content-length: " + str(len(body)).encode(),
            b"connection: close",
        ]
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        self.transport.close()

    def _arm_head_deadline(self) -> None:
        self._disarm_head_deadline()
        self._timed_cycle = self.cycle
        self._head_deadline = self.loop.call_later(self._head_timeout, self._head_overdue)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_overdue(self) -> None:
        self._head_deadline = None
        if self.cycle is not self._timed_cycle:
            return  # a request head arrived meanwhile: its cycle replaced the one timed
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


def uvicorn_options(service: ServiceSettings) -> dict[str, Any]:
    """The keyword arguments `uvicorn.run`/`uvicorn.Config` take from the service settings."""
    return {
        # uvicorn builds each connection's protocol with its own arguments only.
        "http": partial(GuardedHTTPProtocol, head_timeout=service.request_head_timeout),
        "timeout_keep_alive": service.keep_alive_timeout,
        "limit_concurrency": service.max_connections,
    }
