"""The hottest reads answered before FastAPI's routing: stored related lists and slots.

A news site asks for `GET /articles/{id}/related` (often with only `k`) and `/slots` on
every page view. With stored lists, answering takes a few reads; FastAPI's routing,
dependencies and per-parameter validation would cost more than that. So those plain requests
are answered here, from the response cache or the stored lists, with the same bytes the
routes produce (both read through `related_reads.py`). Anything else (another parameter, a k out
of range, an unknown id, no stored list, a write holding the index) goes on to the routes
unchanged, which also give every error its answer.
"""

from __future__ import annotations

from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from recommender import RelatedFilters
from service.http.live_index import LiveIndex
from service.http.middleware import ARTICLE_PREFIX
from service.http.related_reads import answer_now, related_request, slots_request

_DEFAULT_K = 10
_NO_FILTERS = RelatedFilters()
_HEADERS = [(b"content-type", b"application/json")]


class _Template:
    """What `ObservabilityMiddleware` reads of a route: its path template (metrics label)."""

    def __init__(self, path: str) -> None:
        self.path = path


_RELATED = _Template("/articles/{article_id:path}/related")
_SLOTS = _Template("/articles/{article_id:path}/slots")


class StoredListReads:
    """Innermost middleware: sees the path after `ArticlePathMiddleware` (id encoded once)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            body = self._answer(scope)
            if body is not None:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [*_HEADERS, (b"content-length", str(len(body)).encode())],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    def _answer(self, scope: Scope) -> bytes | None:
        path: str = scope["path"]
        if not path.startswith(ARTICLE_PREFIX):
            return None
        encoded, slash, suffix = path[len(ARTICLE_PREFIX) :].partition("/")
        if not slash or not encoded or suffix not in ("related", "slots"):
            return None
        live: LiveIndex | None = getattr(scope["app"].state, "live", None)
        if live is None:
            return None
        article_id = unquote(encoded)
        query: bytes = scope.get("query_string", b"")
        if suffix == "slots":
            if query:
                return None
            scope["route"] = _SLOTS
            return answer_now(live, slots_request(article_id))
        k = _plain_k(query)
        if k is None or not live.service.allows_k(k):
            return None
        scope["route"] = _RELATED
        return answer_now(live, related_request(article_id, k, _NO_FILTERS))


def _plain_k(query: bytes) -> int | None:
    """k from a query string that is empty or exactly `k=<digits>`; else None (the caller
    checks it against the service's limit, `ServiceSettings.allows_k`)."""
    if not query:
        return _DEFAULT_K
    name, equals, value = query.partition(b"=")
    if name != b"k" or not equals or not value.isdigit() or len(value) > 4:
        return None
    return int(value)
