"""A real crash: `newsrec index` killed with SIGKILL mid-run, then the index is reopened."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from embeddings import HashingEmbedder
from recommender import ArticleIndex, Recommender
from recommender.index.files import STORE_FILE
from tests.harness.crash_loop import index_command

pytestmark = pytest.mark.crash

ARTICLES = 3000


def _write_corpus(path: Path) -> None:
    with path.open("w", encoding="utf-8") as stream:
        for n in range(ARTICLES):
            row = {
                "id": f"a{n}",
                "title": f"story {n % 50} update {n}",
                "body": f"words about topic{n % 50} and detail{n} " * 5,
                "published": f"2024-01-{1 + n % 28:02d}T{n % 24:02d}:00:00Z",
            }
            stream.write(json.dumps(row) + "\n")


def _committed(directory: Path) -> int:
    store = directory / STORE_FILE
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(store, timeout=1) as db:
            return int(db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])
    except sqlite3.OperationalError:  # schema not created yet
        return 0


@pytest.mark.parametrize("kill_after", [100, 1500])
def test_a_killed_index_run_leaves_a_consistent_index_and_resumes(
    tmp_path: Path, kill_after: int
) -> None:
    corpus = tmp_path / "articles.jsonl"
    _write_corpus(corpus)
    directory = tmp_path / "index"
    # Small transactions and no index-time tagging: many commits to be killed between.
    environment = {
        **os.environ,
        "NEWSREC_EMBEDDER": "hashing",
        "NEWSREC_WRITE_BATCH_SIZE": "20",
        "NEWSREC_TAG_ON_INDEX": "false",
    }
    process = subprocess.Popen(
        index_command(corpus, directory),
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while _committed(directory) < kill_after and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()

    embedder = HashingEmbedder()
    with ArticleIndex.open(directory, embedder) as index:
        stored = len(index)
        assert 0 < stored < ARTICLES, "the kill should land mid-run"
        assert len(index.vectors) == stored  # the vector index agrees with the store
        assert len(index.catalog) == stored
        if stored:
            some_id = next(index.ids())
            Recommender(index).related(some_id, k=3)

    finished = subprocess.run(
        index_command(corpus, directory), env=environment, capture_output=True, text=True
    )
    assert finished.returncode == 0, finished.stderr
    assert f"{ARTICLES - stored:,} added" in finished.stdout
    with ArticleIndex.open(directory, embedder) as index:
        assert len(index) == ARTICLES
        assert len(index.vectors) == ARTICLES
