"""The HTTP service: `create_app(settings, service_settings)` builds it; nothing is built at
import time. `app_from_environment` is the service's composition root: the one place its
settings are read (uvicorn's factory, and each process of `newsrec serve --workers N`).

    uvicorn --factory service.http.app:app_from_environment   # settings from NEWSREC_* variables
    newsrec serve [--index-dir DIR] [--workers N]      # the same, with request logs set up

The index loads in the background after start-up: /healthz answers at once, /readyz turns
200 once the index is loaded, and other endpoints answer 503 until then.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from embeddings import Embedder
from recommender import Settings
from service.http import errors as http_errors
from service.http.fast_reads import StoredListReads
from service.http.live_index import LiveIndex
from service.http.metrics import Metrics
from service.http.middleware import (
    ArticlePathMiddleware,
    BodyLimitMiddleware,
    JSONTextMiddleware,
    ObservabilityMiddleware,
)
from service.http.routes import articles as routes_articles
from service.http.routes import demo as routes_demo
from service.http.routes import docs as routes_docs
from service.http.routes import health as routes_health
from service.http.routes import stories as routes_stories
from service.http.routes import summary as routes_summary
from service.http.routes import text as routes_text
from service.http.routes import writes as routes_writes
from service.http.writer_proxy import WriterProxy
from service.settings import ServiceSettings

DESCRIPTION = """Related stories and previous/next slots for a newsroom's articles.

Article ids may hold any character: percent-encode them in paths (`/` as `%2F`).
Errors are `{"detail": ...}`. Writes need `Authorization: Bearer <token>` when the service
has a token (NEWSREC_API_TOKEN)."""


def app_from_environment() -> FastAPI:
    """The app with the settings of NEWSREC_* variables (a bad one fails here, in one line)."""
    return create_app(Settings(), ServiceSettings())


def create_app(
    settings: Settings,
    service_settings: ServiceSettings,
    *,
    embedder: Embedder | None = None,
) -> FastAPI:
    """The app for one index. `embedder` overrides the configured one (tests)."""
    configure_logging(access_log=service_settings.access_log)
    live = LiveIndex(settings, service_settings, embedder=embedder)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        forwards = service_settings.role == "reader" and service_settings.accepts_writes
        app.state.proxy = (
            WriterProxy(service_settings.writer_socket)
            if forwards and service_settings.writer_socket is not None
            else None
        )
        app.state.live = live
        live.start()
        try:
            yield
        finally:
            if app.state.proxy is not None:
                await app.state.proxy.aclose()
            await run_in_threadpool(live.stop)

    app = FastAPI(
        title="newsrec",
        description=DESCRIPTION,
        version="0.1.0",
        lifespan=lifespan,
        # Ours instead (routes_docs): FastAPI's load Swagger UI and ReDoc from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.service_settings = service_settings
    app.state.metrics = Metrics(live.status)
    app.state.proxy = None
    http_errors.install(app)
    # Summary routes before the articles' catch-all `/articles/{id}`, which would match them.
    for module in (
        routes_health,
        routes_summary,
        routes_stories,
        routes_articles,
        routes_writes,
        routes_text,
        routes_demo,
        routes_docs,
    ):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=routes_demo.STATIC_DIR), name="static")

    # Added innermost first: the last one added sees the request first.
    app.add_middleware(StoredListReads)
    app.add_middleware(ArticlePathMiddleware)
    app.add_middleware(JSONTextMiddleware)  # inside the body limit: reads at most that much
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=service_settings.max_body_bytes,
        timeout=service_settings.request_body_timeout,
    )
    if service_settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=service_settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(
        ObservabilityMiddleware,
        metrics=app.state.metrics,
        access_log=service_settings.access_log,
    )
    return app


def configure_logging(*, access_log: bool) -> None:
    """Request lines on stdout; the service's own messages on stderr. Idempotent."""
    formatter = logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s")
    for name, stream in (("newsrec.access", "stdout"), ("newsrec.service", "stderr")):
        logger = logging.getLogger(name)
        if not logger.handlers:
            handler = _CurrentStreamHandler(stream)
            handler.setFormatter(formatter)
            logger.addHandler(handler)
            logger.propagate = False
        logger.setLevel(logging.INFO)
    if not access_log:
        logging.getLogger("newsrec.access").setLevel(logging.WARNING)


class _CurrentStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stdout` (or stderr) is when a record is emitted.

    A plain StreamHandler keeps the stream it was given; servers and test runners swap
    `sys.stdout`, and the handler would then write to a closed file.
    """

    def __init__(self, stream_name: str) -> None:
        self._stream_name = stream_name
        super().__init__()

    @property
    def stream(self) -> object:
        return getattr(sys, self._stream_name)

    @stream.setter
    def stream(self, value: object) -> None:
        pass  # StreamHandler.__init__ assigns it; the property always reads sys.<name>
