"""Core errors mapped to HTTP status codes, at the edge; every error body is {"detail": ...}."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from embeddings import ModelNotInstalledError
from recommender import (
    ArticleNotFoundError,
    IndexBusyError,
    IndexCorruptError,
    IndexMismatchError,
    InvalidInputError,
    NewsrecError,
)
from service.live_index import IndexNotReadyError, SnapshotPublishError, WritesRefusedError

logger = logging.getLogger("newsrec.service")

_STATUS: list[tuple[type[Exception], int]] = [
    (ArticleNotFoundError, 404),
    (InvalidInputError, 422),
    (WritesRefusedError, 403),
    (IndexNotReadyError, 503),
    (IndexBusyError, 503),
    (IndexMismatchError, 503),
    (IndexCorruptError, 503),
    (SnapshotPublishError, 503),
    (ModelNotInstalledError, 503),
    (NewsrecError, 422),
]


def install(app: FastAPI) -> None:
    for kind, status in _STATUS:
        app.add_exception_handler(kind, _handler(status))
    app.add_exception_handler(Exception, _unexpected)


def _handler(status: int):  # type: ignore[no-untyped-def]
    async def handle(request: Request, error: Exception) -> JSONResponse:
        headers = {"Retry-After": "1"} if status == 503 else None
        return JSONResponse({"detail": str(error)}, status_code=status, headers=headers)

    return handle


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    return JSONResponse(
        {"detail": f"internal error ({type(error).__name__}); see the service log"},
        status_code=500,
    )
