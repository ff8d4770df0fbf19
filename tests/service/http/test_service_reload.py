"""A read-only service picks up versions published by another writer, and never tears.

The other writer here is an `ArticleIndex` opened for writing in the test process (the
service opens the index read-only and holds no lock); `newsrec serve --workers N` runs the
same code in its reader workers.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from recommender import Article, open_index
from service.settings import ServiceSettings
from tests.service_support import app_client, build_index

pytestmark = pytest.mark.slow


def _until(client: TestClient, path: str, status: int, timeout: float = 10.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if client.get(path).status_code == status:
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"{path} did not answer {status} within {timeout} s")


def test_reader_reloads_each_published_version(tmp_path: Path) -> None:
    settings = build_index(tmp_path / "index")
    service = ServiceSettings(read_only=True, reload_interval=0.2)
    with app_client(settings, service) as client, open_index(settings, writable=True) as writer:
        writer.upsert([Article(id="late/news", title="Late news", body="flood river rain")])
        writer.save()
        assert _until(client, "/articles/late%2Fnews", 200) < 5.0
        assert client.get("/readyz").json()["articles"] == 17
        related = client.get("/articles/flood-1/related", params={"k": 20}).json()["related"]
        assert "late/news" in [item["id"] for item in related]

        writer.delete(["late/news"])
        writer.save()
        assert _until(client, "/articles/late%2Fnews", 404) < 5.0


def test_reader_shows_one_version_until_the_next_is_published(tmp_path: Path) -> None:
    settings = build_index(tmp_path / "index")
    service = ServiceSettings(read_only=True, reload_interval=0.1)
    with app_client(settings, service) as client, open_index(settings, writable=True) as writer:
        # Committed to the store but not yet published (no save): the reader's pinned
        # snapshot must not see the row, or a related query would find no vector for it.
        writer.upsert([Article(id="unpublished", title="Flood", body="flood river rain")])
        time.sleep(0.5)
        assert client.get("/articles/unpublished").status_code == 404
        assert client.get("/articles/unpublished/related").status_code == 404
        assert client.get("/articles/flood-1/related?k=20").status_code == 200
        writer.save()
        _until(client, "/articles/unpublished/related", 200)
