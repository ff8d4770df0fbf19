"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from service.dependencies import Live
from service.schemas import ReadyResponse

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
    detail = status["error"] or "the index is still loading"
    return JSONResponse({"detail": detail, **status}, status_code=503, headers={"Retry-After": "1"})


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus text format: requests and latency by route, index size and version."""
    registry = request.app.state.metrics
    return Response(registry.render(), media_type=registry.content_type)
