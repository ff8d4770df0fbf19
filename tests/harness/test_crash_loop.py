"""The short crash loop: newsrec killed with SIGKILL while it writes, three times.

The full loop (20+ kills) is `python -m tests.harness.crash_loop --runs 20`; this runs a short one
in the suite: `newsrec index` killed mid-run, `newsrec serve` killed while a client writes,
then `newsrec index` again on the index the first kill left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from embeddings import HashingEmbedder
from recommender import Article, ArticleIndex
from tests.harness.crash_loop import crash_loop
from tests.service_support import free_port


@pytest.mark.crash
def test_three_kills_lose_no_acknowledged_write_and_leave_a_consistent_index(
    tmp_path: Path,
) -> None:
    report = crash_loop(tmp_path, runs=3, articles=150, seed=7, http_window=1.0, log=False)
    assert len(report.runs) == 3
    assert [run.mode for run in report.runs] == ["index", "http", "index"]
    assert report.problems == []
    assert report.recovered == 3
    assert report.lost == 0
    assert any(run.acknowledged for run in report.runs)


def test_a_save_clears_what_a_killed_save_left_behind(tmp_path: Path) -> None:
    directory = tmp_path / "index"
    with ArticleIndex.open(directory, HashingEmbedder(64), writable=True) as index:
        index.upsert([Article(id="a", title="first")])
        index.save()
        # What SIGKILL during a save leaves: a temporary snapshot never published.
        stray = directory / ".newsrec-vectors-7.faiss.tmp"
        stray.write_bytes(b"half a snapshot")
        index.upsert([Article(id="b", title="second")])
        index.save()
    names = sorted(path.name for path in directory.iterdir())
    assert names == [
        "newsrec-manifest.json",
        "newsrec-store.sqlite",
        "newsrec-vectors-2.faiss",
        "newsrec.lock",
    ]


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "zombie" not in status


@pytest.mark.crash
def test_killing_serve_with_workers_stops_the_writer_and_readers(tmp_path: Path) -> None:
    """SIGKILL to `newsrec serve --workers 2` cannot stop its children itself: they notice
    and exit, so the port and the index's write lock are free for the restart."""
    port = free_port()
    environment = {**os.environ, "NEWSREC_EMBEDDER": "hashing", "NEWSREC_ACCESS_LOG": "false"}
    command = [
        sys.executable,
        "-m",
        "service.cli.main",
        "serve",
        "--index-dir",
        str(tmp_path / "i"),
    ]
    server = subprocess.Popen(
        [*command, "--port", str(port), "--workers", "2"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    children: list[int] = []
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            time.sleep(0.1)
        reply = httpx.put(f"{base}/articles/kept", json={"title": "Kept"}, timeout=30)
        assert reply.status_code == 201
        found = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True)
        children = [int(pid) for pid in found.stdout.split()]
        assert len(children) >= 3  # the writer and two readers
        server.send_signal(signal.SIGKILL)
        server.wait()
        deadline = time.monotonic() + 15
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in children if _alive(pid)]
    finally:
        for pid in children:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if server.poll() is None:
            server.kill()
    with ArticleIndex.open(tmp_path / "i", HashingEmbedder(), writable=True) as index:
        assert index.article("kept").title == "Kept"
