"""The ingest stage split: every stage is timed inside a real `newsrec index`, then restored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recommender.index.article_index import ArticleIndex
from recommender.topics.zero_shot import ZeroShotTagger
from tests.harness import ingest_stages

pytestmark = pytest.mark.slow  # a whole `newsrec index` in process


def test_stages_are_timed_in_a_real_run_and_restored_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSREC_EMBEDDER", "hashing")
    corpus = tmp_path / "articles.jsonl"
    rows = [
        {"id": f"a{n}", "title": f"Harbour story {n}", "body": f"Ferry {n % 3} crossing delayed."}
        for n in range(12)
    ]
    corpus.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    planning = ArticleIndex.__dict__["plan_upsert"]
    prompts = ZeroShotTagger.__dict__["from_taxonomy"]

    stages, whole = ingest_stages.measure(corpus)

    calls = {label: stage.calls for label, stage in stages.items()}
    assert calls["planning the upsert"] == 1
    assert calls["  MinHash fingerprints"] == 1
    assert calls["  ranking them"] >= 1  # every new article gets its stored list
    assert calls["  taxonomy prompts"] == 1  # a classmethod, wrapped as one
    assert calls["model load (torch, sentence-transformers)"] == 0  # the hashing embedder
    assert all(stage.cpu_seconds >= 0.0 for stage in stages.values())
    assert whole.cpu_seconds >= stages["planning the upsert"].cpu_seconds
    # The originals are back once the run is over.
    assert ArticleIndex.__dict__["plan_upsert"] is planning
    assert ZeroShotTagger.__dict__["from_taxonomy"] is prompts
