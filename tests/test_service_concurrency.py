"""Readers keep working while writes happen: no 5xx, no torn reads.

A real uvicorn server (in a thread) on 127.0.0.1, so requests really run in parallel in
its thread pool; reader threads hammer the read endpoints while one thread writes.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from service.api import create_app
from service.settings import ServiceSettings
from tests.service_support import build_index, running_server

VERSIONS = {
    "A version": "election ballot parliament vote coalition version A",
    "B version": "flood river rain evacuation rescue version B",
}
READ_SECONDS = 4.0


def test_readers_see_no_errors_and_no_torn_articles_while_one_writes(tmp_path: Path) -> None:
    settings = build_index(tmp_path / "index")
    app = create_app(settings, ServiceSettings(access_log=False))
    statuses: Counter[int] = Counter()
    problems: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def record(reply: httpx.Response) -> None:
        with lock:
            statuses[reply.status_code] += 1
            if reply.status_code >= 500:
                problems.append(f"{reply.request.url}: {reply.status_code} {reply.text[:200]}")

    def reader(base: str, number: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            while not stop.is_set():
                for path in (
                    "/articles/flip",
                    "/articles/flip/related?k=5",
                    "/articles/libya-2/related?k=10",
                    f"/articles/libya-1/related?k={number + 2}",
                    "/articles/election-2/slots",
                    "/articles/flip/slots",
                    "/articles?q=report",
                    "/articles/churn-3",
                ):
                    reply = client.get(path)
                    record(reply)
                    if path == "/articles/flip" and reply.status_code == 200:
                        article = reply.json()
                        if VERSIONS.get(article["title"]) != article["body"]:
                            problems.append(f"torn article: {article}")
                    if "/related" in path and reply.status_code == 200:
                        body = reply.json()
                        if body["id"] in [item["id"] for item in body["related"]]:
                            problems.append(f"an article related to itself: {body}")

    def writer(base: str) -> int:
        writes = 0
        with httpx.Client(base_url=base, timeout=60) as client:
            deadline = time.monotonic() + READ_SECONDS
            while time.monotonic() < deadline:
                for title, body in VERSIONS.items():
                    reply = client.put("/articles/flip", json={"title": title, "body": body})
                    assert reply.status_code in (200, 201), reply.text
                    writes += 1
                churn = f"churn-{writes % 5}"
                assert client.put(
                    f"/articles/{churn}", json={"title": f"Churn {writes}", "body": "cup goal"}
                ).status_code in (200, 201)
                assert client.delete(f"/articles/{churn}").status_code == 204
                writes += 2
        return writes

    with running_server(app) as base:
        with httpx.Client(base_url=base) as client:
            deadline = time.monotonic() + 30
            while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.02)
            first = {"title": "A version", "body": VERSIONS["A version"]}
            assert client.put("/articles/flip", json=first).status_code == 201
        readers = [threading.Thread(target=reader, args=(base, n)) for n in range(6)]
        for thread in readers:
            thread.start()
        try:
            writes = writer(base)
        finally:
            stop.set()
            for thread in readers:
                thread.join(timeout=60)

    assert not problems, problems[:5]
    assert writes >= 6
    assert statuses[200] > 50
    assert set(statuses) <= {200, 404}, statuses  # 404: a churn article between put and delete
