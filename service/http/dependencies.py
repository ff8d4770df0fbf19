"""FastAPI dependencies shared by the routers: the live index, article ids, write access."""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, HTTPException, Path, Request

from service.http.live_index import IndexNotReadyError, LiveIndex
from service.settings import ServiceSettings


async def live_index(request: Request) -> LiveIndex:
    live: LiveIndex | None = getattr(request.app.state, "live", None)
    if live is None:
        raise IndexNotReadyError("the service has not started (lifespan not run)")
    return live


async def service_settings(request: Request) -> ServiceSettings:
    settings: ServiceSettings = request.app.state.service_settings
    return settings


async def article_id(
    article_id: Annotated[
        str,
        Path(description="The article id, percent-encoded: any character works, '/' too."),
    ],
) -> str:
    # ArticlePathMiddleware routes the id fully percent-encoded; this is its inverse.
    return unquote(article_id)


async def require_write_access(
    request: Request, settings: Annotated[ServiceSettings, Depends(service_settings)]
) -> None:
    """401 without a token, 403 with a wrong one (when NEWSREC_API_TOKEN is set); 403 read-only."""
    if settings.api_token is not None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HTTPException(
                401,
                "this endpoint writes: send `Authorization: Bearer <token>`",
                headers={"WWW-Authenticate": "Bearer"},
            )
        expected = settings.api_token.get_secret_value().encode()
        if not hmac.compare_digest(token.strip().encode(), expected):
            raise HTTPException(403, "the bearer token is not valid for writes")
    if not settings.accepts_writes:
        raise HTTPException(403, "this service is read-only (NEWSREC_READ_ONLY)")


def check_k(k: int, settings: ServiceSettings) -> None:
    """The schema bounds k by the API's ceiling; a service may set a lower limit."""
    if not settings.allows_k(k):
        raise HTTPException(
            422, f"k={k} is over this service's limit of {settings.max_k} (NEWSREC_MAX_K)"
        )


Live = Annotated[LiveIndex, Depends(live_index)]
ArticleId = Annotated[str, Depends(article_id)]
WriteAccess = Depends(require_write_access)
