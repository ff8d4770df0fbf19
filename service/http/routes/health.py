"""Liveness, readiness and metrics."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from service.http.dependencies import Live
from service.http.schemas import ReadyResponse

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers. No I/O, no lock."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=ReadyResponse,
    responses={503: {"description": "The index is not loaded (yet); `detail` says why."}},
)
async def readyz(live: Live) -> Response:
    """200 once the index is loaded; 503 before (or when it cannot be loaded)."""
    status = live.status()
    if status["ready"]:
        return JSONResponse(ReadyResponse(**status).model_dump())
    if status["error"]:
        status["error"] = without_directories(status["error"])
    detail = status["error"] or "the index is still loading"
    return JSONResponse({"detail": detail, **status}, status_code=503, headers={"Retry-After": "1"})


# An absolute path: "/" then directories, up to the last name. Anyone may ask /readyz; where
# the index lives is for the log (which has the whole message), not for them.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~:/])/(?:[^\s/:'\"(),]+/)*([^\s/:'\"(),]+)")


def without_directories(text: str) -> str:
    """`text` with each absolute path cut to its last name ("/srv/data/x.sqlite" -> "x.sqlite")."""
    return _ABSOLUTE_PATH.sub(r"\1", text)


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus text format: requests and latency by route, index size and version."""
    registry = request.app.state.metrics
    return Response(registry.render(), media_type=registry.content_type)
