"""The served side of the load test: `newsrec serve` started on an index with a free port,
waited for, the ids it can be asked for, and the memory its processes hold."""

from __future__ import annotations

import gzip
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _index_embedder(index_dir: Path) -> str:
    """The NEWSREC_EMBEDDER value the index was built with (from its manifest)."""
    manifest = json.loads((index_dir / "newsrec-manifest.json").read_text(encoding="utf-8"))
    return "hashing" if str(manifest["embedder"]).startswith("hashing") else "minilm"


def start_server(
    index_dir: Path, port: int, workers: int, *, stored_lists: bool | None = None
) -> subprocess.Popen[bytes]:
    """`newsrec serve` on the index. `stored_lists` None: as the index has them. An index
    built without lists (the 1M bench index) is served with list depth 0, or the service
    would spend the measurement ranking them all in the background."""
    env = {
        **os.environ,
        "NEWSREC_EMBEDDER": _index_embedder(index_dir),
        "NEWSREC_READ_ONLY": "false",
    }
    if stored_lists is None:
        stored_lists = stored_list_count(index_dir) > 0
    if not stored_lists:
        env["NEWSREC_RELATED_LIST_DEPTH"] = "0"
    command = [
        sys.executable,
        "-m",
        "service.cli.serve",
        "--index-dir",
        str(index_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    # Request logs go to stdout; a load test would only measure the terminal.
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)


def wait_ready(base: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"the service at {base} was not ready within {timeout:.0f} s")


def sample_ids(base: str, wcep: Path, count: int, seed: int) -> list[str]:
    """Ids to ask for: WCEP's and the synthetic ones `build` made, shuffled.

    Enough distinct ids that the cold phase never asks for the same article twice.
    """
    total = httpx.get(f"{base}/readyz", timeout=10).json()["articles"]
    wcep_ids: list[str] = []
    if wcep.is_file():
        with gzip.open(wcep, "rt", encoding="utf-8") as lines:
            wcep_ids = [json.loads(line)["id"] for line in lines if line.strip()]
    synthetic = [f"synthetic-{n:06d}" for n in range(max(0, total - len(wcep_ids)))]
    ids = wcep_ids + synthetic
    random.Random(seed).shuffle(ids)
    return ids[:count]


def check_exist(base: str, ids: list[str]) -> None:
    with httpx.Client(base_url=base, timeout=10) as client:
        for article_id in ids:
            if client.get(f"/articles/{quote(article_id, safe='')}").status_code != 200:
                raise SystemExit(f"{article_id!r} is not in the served index: run `build` first")


def process_memory(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in bytes of a process and its children, from /proc."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.is_file():
        pids += [int(child) for child in children.read_text().split()]
    rss = peak = 0
    for each in pids:
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        rss += int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
        peak += int(fields.get("VmHWM", "0 kB").split()[0]) * 1024
    return rss, peak


def stored_list_count(index_dir: Path) -> int:
    """How many related lists the index has stored (`newsrec precompute`)."""
    with sqlite3.connect(index_dir / "newsrec-store.sqlite") as db:
        try:
            return int(db.execute("SELECT COUNT(*) FROM related_lists").fetchone()[0])
        except sqlite3.OperationalError:  # an index from before stored lists
            return 0
