"""Pure ASGI middleware: article ids in paths, the body size limit, metrics and request logs.

Pure ASGI rather than `BaseHTTPMiddleware`: these run on every request, and the latter
costs a task and a stream per request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from urllib.parse import quote, unquote

from fastapi import HTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recommender.articles import json_value_problem
from service.http.metrics import Metrics

ARTICLE_PREFIX = "/articles/"
ARTICLE_SUFFIXES = frozenset({"related", "slots", "topics", "summary", "story"})

access_logger = logging.getLogger("newsrec.access")


class ArticlePathMiddleware:
    """Route `/articles/{id}[/suffix]` on the raw path, so any id works.

    The server decodes `%2F` to `/` before routing, so `/articles/a%2Frelated` (the article
    "a/related") would look like the related list of "a". Here the id is cut from the raw
    path instead: the last raw segment is a suffix only when it is unencoded. The routed
    path then carries the id fully percent-encoded (one path segment), and the route's
    `ArticleId` dependency decodes it back.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(ARTICLE_PREFIX):
            routed = _routed_path(scope)
            if routed is not None:
                scope["path"] = routed
        await self.app(scope, receive, send)


def _routed_path(scope: Scope) -> str | None:
    raw_path: bytes = scope.get("raw_path") or b""
    try:
        raw = raw_path.decode("ascii")
    except UnicodeDecodeError:
        return None  # a client sent raw non-ASCII bytes: route the decoded path as it is
    start = raw.find(ARTICLE_PREFIX)
    if start < 0:
        return None
    rest = raw[start + len(ARTICLE_PREFIX) :]
    head, slash, last = rest.rpartition("/")
    suffix = ""
    if slash and last in ARTICLE_SUFFIXES:
        rest, suffix = head, f"/{last}"
    article_id = unquote(rest) if rest else ""
    prefix = scope["path"][: scope["path"].find(ARTICLE_PREFIX)]
    return f"{prefix}{ARTICLE_PREFIX}{quote(article_id, safe='')}{suffix}"


class BodyLimitMiddleware:
    """413 for a body over `max_bytes`: at once from Content-Length, else while reading;
    408 when a part of it takes over `timeout` seconds to arrive (a client that stalls)."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = f"request body over the limit of {self.max_bytes:,} bytes"
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await _send_json(send, 413, {"detail": detail})
                return
        received = 0
        complete = False

        async def limited() -> Message:
            nonlocal received, complete
            if complete or self.timeout is None:
                message = await receive()  # after the body: waits for a disconnect, untimed
            else:
                try:
                    message = await asyncio.wait_for(receive(), self.timeout)
                except TimeoutError:
                    raise HTTPException(
                        408, f"the request body did not arrive within {self.timeout:g} s"
                    ) from None
            if message["type"] == "http.request":
                complete = not message.get("more_body", False)
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the route's body read: FastAPI lets an HTTPException
                    # through, and its handler answers with JSON.
                    raise HTTPException(413, detail)
            return message

        await self.app(scope, limited, send)


# What a body must hold for `JSONTextMiddleware` to parse it: an escape in the surrogate
# range, or a NaN or Infinity literal. Separate searches with a literal start, which scan
# a few MB in milliseconds (one pattern with alternatives took 150 ms for 4 MB). A number
# that overflows to infinity (1e400) is not looked for: the core refuses it in an article,
# and a 422 that echoes it is rendered safely (http_errors).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class JSONTextMiddleware:
    """422 for a JSON body that parses but holds what JSON text cannot: an unpaired surrogate
    escape ("\\ud800": no UTF-8 encoding, so any hash, store or echo of it fails) or a
    NaN/Infinity (Python's parser accepts them; no JSON answer can carry them).

    Checked once, here, for every route; only bodies with such a pattern are parsed again.
    Raised inside the route's body read, like the body limit, so the answer is JSON.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def checked() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                    chunks.clear()
                    problem = _json_text_problem(body)
                    if problem is not None:
                        raise HTTPException(422, f"the request body holds {problem}")
            return message

        await self.app(scope, checked, send)


def _json_text_problem(body: bytes) -> str | None:
    if not (_SURROGATE_ESCAPE.search(body) or b"NaN" in body or b"Infinity" in body):
        return None
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON at all: the route's own parsing says so
    return json_value_problem(value)


class ObservabilityMiddleware:
    """Counts and times every request by route template; one log line each on stdout."""

    def __init__(self, app: ASGIApp, metrics: Metrics, access_log: bool) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        # Routing rewrites the path (ArticlePathMiddleware, mounts): keep the one asked for.
        asked = (scope["path"], scope.get("root_path", ""))

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route") or _starlette_route(scope, *asked)
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope["method"], template, status, elapsed)
            if self.access_log:
                query = scope.get("query_string", b"")
                target = scope.get("raw_path", b"").decode("latin-1") or scope["path"]
                if query:
                    target += "?" + redacted_query(query.decode("latin-1"))
                client = scope.get("client")
                access_logger.info(
                    '%s "%s %s" %d %.1fms',
                    client[0] if client else "-",
                    scope["method"],
                    target,
                    status,
                    elapsed * 1000,
                )


def _starlette_route(scope: Scope, path: str, root_path: str) -> BaseRoute | None:
    """The route or mount that answered when it was not one of FastAPI's.

    FastAPI's routes put themselves in the scope; Starlette's (`/openapi.json`, the
    `/static` mount) do not, and would be counted as unmatched with the real 404s. Looked
    up again only for those requests.
    """
    app = scope.get("app")
    router = getattr(app, "router", None)
    probe = {**scope, "path": path, "root_path": root_path}
    for route in getattr(router, "routes", ()):
        if route.matches(probe)[0] is Match.FULL:
            return route
    return None


# Query parameters named like a credential. Refused anyway (a token goes in the
# Authorization header), but a client that tries must not leave it in the log.
_SECRET_NAME = re.compile(
    r"token|secret|passw|pwd|api[-_]?key|^key$|auth|session|signature|^sig$|credential",
    re.IGNORECASE,
)


def redacted_query(query: str) -> str:
    """`query` with the value of every secret-named parameter replaced by `***`."""
    parts = []
    for part in query.split("&"):
        name, equals, _ = part.partition("=")
        if equals and _SECRET_NAME.search(unquote(name)):
            part = f"{name}=***"
        parts.append(part)
    return "&".join(parts)


async def _send_json(send: Send, status: int, body: dict[str, str]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
