"""Prometheus metrics: requests and latency by route, and the index's size and version.

Each app has its own registry (tests build many apps; a global one would mix them). With
`--workers N` each worker counts its own requests; scrape them through one address and
the figures are those of the worker that answered (see the service notes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, status: Callable[[], dict[str, Any]]) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "newsrec_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "newsrec_http_request_duration_seconds",
            "Time from request to the end of the response, by method and route template.",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        articles = Gauge(
            "newsrec_index_articles", "Articles in the loaded index.", registry=self.registry
        )
        articles.set_function(lambda: float(status()["articles"] or 0))
        generation = Gauge(
            "newsrec_index_generation",
            "Store generation of the loaded index (bumped by every write).",
            registry=self.registry,
        )
        generation.set_function(lambda: float(status()["generation"] or 0))
        ready = Gauge(
            "newsrec_index_ready", "1 once the index is loaded, else 0.", registry=self.registry
        )
        ready.set_function(lambda: 1.0 if status()["ready"] else 0.0)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self._requests.labels(method, route, str(status)).inc()
        self._latency.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
