"""Core errors mapped to HTTP status codes, at the edge; every error body is {"detail": ...}."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from embeddings import ModelNotInstalledError
from recommender import (
    ArticleNotFoundError,
    IndexBusyError,
    IndexCorruptError,
    IndexMismatchError,
    InvalidInputError,
    NewsrecError,
)
from service.http.live_index import IndexNotReadyError, WritesRefusedError
from service.http.write_hooks import SnapshotPublishError, StorageFullError

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
    (StorageFullError, 507),
    (ModelNotInstalledError, 503),
    (NewsrecError, 422),
]


def install(app: FastAPI) -> None:
    for kind, status in _STATUS:
        app.add_exception_handler(kind, _handler(status))
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(Exception, _unexpected)
    _document_edge_errors(app)


# Answers that come from the edge rather than from a route, so no route declares them: the
# body limit (every operation that takes a body) and "not ready" (every operation that
# needs the index). Without them a client generated from the schema meets undocumented codes.
_EDGE_ERRORS = {
    "413": "Request body over NEWSREC_MAX_BODY_BYTES.",
    "503": "The index is not loaded (yet), or the writer is not reachable; see Retry-After.",
}
_NEEDS_NO_INDEX = frozenset({"/healthz", "/metrics"})
_FULL_DISK = "The disk is full: the write was not committed (nothing was written)."


def _document_edge_errors(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()  # cached by FastAPI after the first call; the edits are idempotent
        error = {"$ref": "#/components/schemas/ErrorResponse"}
        has_model = "ErrorResponse" in schema.get("components", {}).get("schemas", {})
        for path, item in schema.get("paths", {}).items():
            for operation in item.values():
                responses = operation.setdefault("responses", {})
                for status, description in _EDGE_ERRORS.items():
                    if status == "413" and "requestBody" not in operation:
                        continue
                    if status == "503" and path in _NEEDS_NO_INDEX:
                        continue
                    documented: dict[str, Any] = {"description": description}
                    if has_model:
                        documented["content"] = {"application/json": {"schema": error}}
                    responses.setdefault(status, documented)
                if "writes" in operation.get("tags", []):
                    documented = {"description": _FULL_DISK}
                    if has_model:
                        documented["content"] = {"application/json": {"schema": error}}
                    responses.setdefault("507", documented)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _handler(status: int):  # type: ignore[no-untyped-def]
    async def handle(request: Request, error: Exception) -> JSONResponse:
        headers = {"Retry-After": "1"} if status == 503 else None
        return JSONResponse({"detail": str(error)}, status_code=status, headers=headers)

    return handle


async def _http_error(request: Request, error: Exception) -> Response:
    # A body that is not UTF-8 fails inside FastAPI's JSON parsing as a generic 400; it is
    # malformed JSON like any other, answered 422 (as a JSON syntax error is), not an
    # undocumented status.
    assert isinstance(error, HTTPException)
    if error.status_code == 400 and error.__cause__ is not None:
        reason = _unreadable_body(error.__cause__)
        if reason is not None:
            return JSONResponse({"detail": f"the request body is {reason}"}, status_code=422)
    return await http_exception_handler(request, error)


def _unreadable_body(cause: BaseException) -> str | None:
    """Why FastAPI could not parse a body, for the parser's errors that are not a JSON syntax
    error: still malformed input (422), not the undocumented 400."""
    if isinstance(cause, UnicodeError):
        return "not valid JSON: it is not UTF-8 text"
    if isinstance(cause, RecursionError):
        return "not acceptable JSON: it nests lists or objects too deeply to read"
    if isinstance(cause, ValueError):  # e.g. an integer literal of over 4,300 digits
        return f"not acceptable JSON ({str(cause).splitlines()[0][:200]})"
    return None


async def _invalid_request(request: Request, error: Exception) -> JSONResponse:
    """FastAPI's 422, with each echoed input that JSON cannot carry (an infinity from
    `1e400`, a list nested too deep to encode) replaced by a short description."""
    assert isinstance(error, RequestValidationError)
    return JSONResponse({"detail": [_renderable(item) for item in error.errors()]}, 422)


def _renderable(item: dict[str, Any]) -> Any:
    try:
        encoded = jsonable_encoder(item)
        json.dumps(encoded, allow_nan=False)
        return encoded
    except (ValueError, RecursionError):
        shown = f"<{type(item.get('input')).__name__} that JSON cannot carry>"
        return jsonable_encoder({**item, "input": shown, "ctx": None})


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    return JSONResponse(
        {"detail": f"internal error ({type(error).__name__}); see the service log"},
        status_code=500,
    )
