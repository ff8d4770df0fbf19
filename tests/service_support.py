"""Helpers for the service tests: a small dated corpus, an index of it, a running app.

The index uses the hashing embedder (Settings(embedder="hashing")): deterministic, instant,
and it never loads the model.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from embeddings import HashingEmbedder, WrappedEmbedder
from recommender import Article, Settings, open_index
from service.http.app import create_app
from service.settings import ServiceSettings

# Ids with the characters a path makes awkward: '/', '%', '?', '#', '+', spaces, non-ASCII,
# and one that ends like a sub-resource ("/related").
AWKWARD_IDS = (
    "world/europe/2025/talks",
    "50% off? #deal + more",
    "café/naïve ünïcode",
    "story/related",
)

_STORIES = {
    "libya": (
        "Libya Russia security cooperation Haftar Moscow defence talks counterterrorism",
        ["2025-08-12T10:15:00Z", "2025-09-03T14:40:00Z", "2025-09-24T08:20:00Z"],
    ),
    "election": (
        "election ballot parliament vote coalition candidates campaign polling turnout",
        ["2025-03-01", "2025-03-09T20:00:00Z", "2025-03-15T09:00:00Z"],
    ),
    "flood": (
        "flood river rain evacuation rescue dam villages emergency water levels",
        ["2024-11-02T06:00:00Z", "2024-11-03T12:00:00Z", "2024-11-10T12:00:00Z"],
    ),
    "cup": (
        "football cup final goal striker penalty stadium tournament semi-final",
        ["2025-06-01T19:00:00Z", "2025-06-08T19:00:00Z", "2025-06-15T19:00:00Z"],
    ),
}


def corpus() -> list[Article]:
    """Four stories of three dated articles, plus the awkward ids (in the Libya story)."""
    articles = []
    for story, (words, dates) in _STORIES.items():
        for number, published in enumerate(dates, start=1):
            articles.append(
                Article(
                    id=f"{story}-{number}",
                    title=f"{story.title()} report {number}: {words.split()[number]} news",
                    body=f"{words} part {number} {words} update {number * 7}",
                    published=published,
                    source=f"Wire {number}",
                    story=story,
                )
            )
    words = _STORIES["libya"][0]
    for number, article_id in enumerate(AWKWARD_IDS, start=4):
        articles.append(
            Article(
                id=article_id,
                title=f"Libya follow-up {number}",
                body=f"{words} follow-up {number} {article_id}",
                published=f"2025-10-{number:02d}T09:00:00Z",
                source="Desk",
                extra={"note": "awkward id", "rank": number},
            )
        )
    return articles


def hashing_settings(index_dir: Path, **overrides: Any) -> Settings:
    return Settings(index_dir=index_dir, embedder="hashing", **overrides)


def build_index(index_dir: Path, articles: list[Article] | None = None) -> Settings:
    settings = hashing_settings(index_dir)
    with open_index(settings, writable=True) as index:
        index.upsert(corpus() if articles is None else articles)
        index.save()
    return settings


def wait_ready(client: TestClient, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/readyz").status_code == 200:
            return
        time.sleep(0.02)
    raise AssertionError(f"not ready after {timeout} s: {client.get('/readyz').json()}")


@contextmanager
def app_client(
    settings: Settings, service: ServiceSettings | None = None, **app_options: Any
) -> Iterator[TestClient]:
    app = create_app(settings, service or ServiceSettings(), **app_options)
    with TestClient(app, raise_server_exceptions=False) as client:
        wait_ready(client)
        yield client


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_server(app: FastAPI) -> Iterator[str]:
    """A real uvicorn server on 127.0.0.1 in a background thread; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class CountingEmbedder(WrappedEmbedder):
    """The hashing embedder, counting the texts it encodes (to prove the model never ran)."""

    def __init__(self) -> None:
        super().__init__(HashingEmbedder(256))
        self.encoded = 0

    def encode(self, texts: Any, *, progress: Any = None) -> np.ndarray:
        self.encoded += len(texts)
        return self.inner.encode(texts, progress=progress)
