"""`serve --workers 2`: reader workers answer reads, writes go through to the one writer,
and every worker picks up the new version."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.service_support import build_index, free_port

pytestmark = pytest.mark.slow

TOKEN = "workers-token"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    build_index(tmp_path / "index")
    port = free_port()
    env = {
        **os.environ,
        "NEWSREC_EMBEDDER": "hashing",
        "NEWSREC_API_TOKEN": TOKEN,
        "NEWSREC_RELOAD_INTERVAL": "0.2",
        "NEWSREC_ACCESS_LOG": "false",
    }
    command = [sys.executable, "-m", "service.cli.serve", "--index-dir", str(tmp_path / "index")]
    command += ["--port", str(port), "--workers", "2"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "newsrec serve exited"
            time.sleep(0.1)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise


def _all_answer(client: httpx.Client, path: str, status: int, timeout: float = 15.0) -> None:
    """20 answers in a row with `status`: both workers have the version."""
    deadline = time.monotonic() + timeout
    streak = 0
    while streak < 20:
        assert time.monotonic() < deadline, f"{path} not {status} on every worker"
        streak = streak + 1 if client.get(path).status_code == status else 0


def test_workers_forward_writes_and_reload(served: str) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    article = {"title": "Workers flood report", "body": "flood river rain evacuation"}
    with httpx.Client(base_url=served, timeout=30) as client:
        assert client.put("/articles/w%2F1", json=article).status_code == 401
        added = client.put("/articles/w%2F1", json=article, headers=auth)
        assert added.status_code == 201, added.text
        assert added.json()["id"] == "w/1"
        _all_answer(client, "/articles/w%2F1", 200)
        related = client.get("/articles/w%2F1/related", params={"k": 3}).json()
        assert related["id"] == "w/1" and len(related["related"]) == 3

        bulk = [{**article, "id": f"bulk-{n}"} for n in range(3)]
        assert client.post("/articles", json={"articles": bulk}, headers=auth).json()["added"] == 3
        assert client.delete("/articles/w%2F1", headers=auth).status_code == 204
        _all_answer(client, "/articles/w%2F1", 404)
        _all_answer(client, "/articles/bulk-2", 200)
        assert client.delete("/articles/w%2F1", headers=auth).status_code == 404
