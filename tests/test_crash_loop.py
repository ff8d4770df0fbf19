"""The short crash loop: newsrec killed with SIGKILL while it writes, three times.

The full loop (20+ kills) is `python -m eval.crash_loop --runs 20`; this runs a short one
in the suite: `newsrec index` killed mid-run, `newsrec serve` killed while a client writes,
then `newsrec index` again on the index the first kill left.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from embeddings import HashingEmbedder
from eval.crash_loop import crash_loop
from recommender import Article, ArticleIndex


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
