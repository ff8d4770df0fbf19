"""Readers keep working while writes and deletes happen: no 5xx, no torn reads, and no
result that points at a deleted or unknown article.

A real uvicorn server (in a thread) on 127.0.0.1, so requests really run in parallel in
its thread pool; reader threads hammer the read endpoints while one thread upserts,
bulk-upserts and deletes. A delete is acknowledged before the next request starts, so any
related list or slot asked for after that must not name the deleted article.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.http.app import create_app
from service.settings import ServiceSettings
from tests.service_support import build_index, corpus, running_server

pytestmark = pytest.mark.slow

VERSIONS = {
    "A version": "election ballot parliament vote coalition version A",
    "B version": "flood river rain evacuation rescue version B",
}
# Deleted one by one during the run and never written again: each is related to the
# articles the readers ask about.
VICTIMS = ["flood-2", "libya-3", "cup-2", "election-3", "flood-1", "cup-3"]
# A longer soak:
# NEWSREC_SOAK_SECONDS=120 python -m pytest tests/service/http/test_service_concurrency.py
READ_SECONDS = float(os.environ.get("NEWSREC_SOAK_SECONDS", "4"))
MIN_WRITES = 14


class World:
    """What the writer has acknowledged: ids ever written, and when each delete returned."""

    def __init__(self) -> None:
        self.known = {article.id for article in corpus()} | {"flip"}
        self.deleted_at: dict[str, float] = {}
        self.lock = threading.Lock()

    def written(self, article_id: str) -> None:
        with self.lock:
            self.known.add(article_id)

    def deleted(self, article_id: str) -> None:
        with self.lock:
            self.deleted_at[article_id] = time.monotonic()

    def check(self, asked_at: float, ids: list[str]) -> list[str]:
        with self.lock:
            unknown = [i for i in ids if i not in self.known]
            gone = [i for i in ids if self.deleted_at.get(i, asked_at) < asked_at]
        return [f"unknown ids {unknown}"] * bool(unknown) + [f"deleted ids {gone}"] * bool(gone)


def _listed(path: str, body: dict[str, Any]) -> list[str]:
    if "/related" in path:
        return [item["id"] for item in body["related"]]
    if "/slots" in path:
        return [slot["id"] for slot in (body["previous"], body["next"]) if slot]
    return [item["id"] for item in body.get("articles", [])]


def test_readers_see_no_errors_and_no_deleted_articles_while_one_writes(tmp_path: Path) -> None:
    settings = build_index(tmp_path / "index")
    app = create_app(settings, ServiceSettings(access_log=False))
    world = World()
    statuses: Counter[int] = Counter()
    problems: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def reader(base: str, number: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            while not stop.is_set():
                for path in (
                    "/articles/flip",
                    "/articles/flip/related?k=5",
                    "/articles/flood-3/related?k=20",
                    f"/articles/libya-1/related?k={number + 2}",
                    "/articles/election-2/slots",
                    "/articles/cup-1/slots",
                    "/articles/flip/slots",
                    "/articles?q=report",
                    f"/articles/churn-{number}/related?k=10",
                ):
                    asked_at = time.monotonic()
                    reply = client.get(path)
                    with lock:
                        statuses[reply.status_code] += 1
                    if reply.status_code >= 500:
                        problems.append(f"{path}: {reply.status_code} {reply.text[:200]}")
                    if reply.status_code != 200:
                        continue
                    body = reply.json()
                    if path == "/articles/flip" and VERSIONS.get(body["title"]) != body["body"]:
                        problems.append(f"torn article: {body}")
                        continue
                    listed = [] if path == "/articles/flip" else _listed(path, body)
                    if "id" in body and body["id"] in listed:
                        problems.append(f"{path}: an article related to itself")
                    problems.extend(f"{path}: {p}" for p in world.check(asked_at, listed))
                    with lock:
                        statuses[-1] += bool(set(listed) & set(VICTIMS))

    def writer(client: httpx.Client) -> int:
        writes = 0
        victims = iter(VICTIMS)
        deadline = time.monotonic() + READ_SECONDS
        # At least MIN_WRITES whatever the machine's speed (a loaded CI runner writes slower):
        # the checks below need writes to interleave with the reads, not a write rate.
        while time.monotonic() < deadline or writes < MIN_WRITES:
            for title, body in VERSIONS.items():
                reply = client.put("/articles/flip", json={"title": title, "body": body})
                assert reply.status_code in (200, 201), reply.text
            churn = [f"churn-{writes + n}" for n in range(3)]
            for article_id in churn:
                world.written(article_id)
            bulk = [{"id": i, "title": f"Churn {i}", "body": "cup goal flood river"} for i in churn]
            assert client.post("/articles", json={"articles": bulk}).status_code == 200
            for article_id in churn:
                assert client.delete(f"/articles/{article_id}").status_code == 204
                world.deleted(article_id)
            victim = next(victims, None)
            if victim is not None:
                assert client.delete(f"/articles/{victim}").status_code == 204
                world.deleted(victim)
            writes += 6 + (victim is not None)
        return writes

    with running_server(app) as base, httpx.Client(base_url=base, timeout=60) as client:
        deadline = time.monotonic() + 30
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.02)
        first = {"title": "A version", "body": VERSIONS["A version"]}
        assert client.put("/articles/flip", json=first).status_code == 201
        readers = [threading.Thread(target=reader, args=(base, n)) for n in range(6)]
        for thread in readers:
            thread.start()
        try:
            writes = writer(client)
        finally:
            stop.set()
            for thread in readers:
                thread.join(timeout=60)
        for victim in world.deleted_at:
            assert client.get(f"/articles/{victim}").status_code == 404

    victims_listed = statuses.pop(-1, 0)
    print(f"{writes} writes, {sum(statuses.values())} reads {dict(statuses)}")  # soak figure
    assert not problems, problems[:5]
    assert set(world.deleted_at) >= set(VICTIMS[:2])
    assert victims_listed > 0, "the victims were never listed: the check would be empty"
    assert statuses[200] > 50
    assert set(statuses) <= {200, 404}, statuses  # 404: a churn article between put and delete
