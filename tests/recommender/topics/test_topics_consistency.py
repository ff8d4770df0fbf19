"""One answer everywhere: the primary topic is the best score, never null, always first in
`topics`; when nothing clears the threshold `topics` holds just it, marked not confident.
Checked in the CLI's tagged rows, the stored tags, and the API."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from embeddings import HashingEmbedder
from recommender import (
    ArticleIndex,
    InvalidInputError,
    Recommender,
    RelatedFilters,
    open_index,
)
from recommender.index.records import AssignedTopics
from recommender.topics import ZeroShotTagger, tag_file
from tests.conftest import make_article
from tests.service_support import app_client, hashing_settings
from tests.topics_corpus import TAXONOMY, keyword_text


def _articles() -> list:
    rng = random.Random(5)
    return [
        make_article(f"{label}-{n}", f"{label} {n}", keyword_text([label], rng))
        for label in ("sport", "politics", "disaster")
        for n in range(3)
    ]


def _check_row(topics: list[dict], primary: str) -> None:
    assert topics, "topics is never empty"
    assert topics[0]["label"] == primary
    assert all({"label", "score", "iptc", "confident"} <= set(topic) for topic in topics)
    assert all(topic["iptc"] is not None for topic in topics)
    scores = [topic["score"] for topic in topics]
    assert scores == sorted(scores, reverse=True)
    flags = [topic["confident"] for topic in topics]
    assert all(flags) or flags == [False]


@pytest.mark.parametrize("threshold", [0.0, 0.5, 1.0])
def test_tagged_rows_list_the_primary_first(
    tmp_path: Path, embedder: HashingEmbedder, threshold: float
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(a.to_record()) + "\n" for a in _articles()), "utf-8")
    tagger = ZeroShotTagger.from_taxonomy(TAXONOMY, embedder, threshold=threshold)
    tag_file(source, tmp_path / "out.jsonl", tagger, embedder)

    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(rows) == 9
    for row in rows:
        _check_row(row["topics"], row["primary_topic"])
        assert row["primary_topic"] == row["id"].split("-")[0]
        if threshold == 1.0:
            assert [t["confident"] for t in row["topics"]] == [False]
        if threshold == 0.0:
            assert len(row["topics"]) == 3 and all(t["confident"] for t in row["topics"])


def test_stored_tags_keep_the_unconfident_primary(
    tmp_path: Path, embedder: HashingEmbedder
) -> None:
    unsure = ZeroShotTagger.from_taxonomy(TAXONOMY, embedder, threshold=1.0)
    with ArticleIndex.open(tmp_path / "ix", embedder, writable=True, tagger=lambda: unsure) as ix:
        ix.upsert(_articles())
        ix.save()
    with ArticleIndex.open(tmp_path / "ix", embedder) as reopened:
        assigned = reopened.topics_of("sport-1")
        assert assigned is not None
        assert assigned.primary == "sport" and not assigned.confident
        assert [t[0] for t in assigned.topics] == ["sport"] and assigned.topics[0][2]
        # Below the threshold: shown as the best guess, but no topic filter matches it.
        assert assigned.labels == ()
        with pytest.raises(InvalidInputError, match="unknown topic 'sport'"):
            Recommender(reopened).related("sport-0", filters=RelatedFilters(topic="sport"))


def test_confident_tags_round_trip_through_the_store() -> None:
    assigned = AssignedTopics((("sport", 0.9, "medtop:15000000"), ("politics", 0.5, None)), "sport")
    back = AssignedTopics.from_columns(assigned.to_json(), assigned.primary)
    assert back == assigned and back.labels == ("sport", "politics")
    unsure = AssignedTopics((("sport", 0.2, "medtop:15000000"),), "sport", confident=False)
    back = AssignedTopics.from_columns(unsure.to_json(), "sport")
    assert back == unsure and back.labels == ()


def test_an_empty_stored_list_reads_as_untagged() -> None:
    # Stores written before the fix hold "[]" beside a primary: read as untagged, so the API
    # scores the stored vector again rather than answer "[]" and a primary at once.
    assert AssignedTopics.from_columns("[]", "disaster") is None


def test_the_api_gives_the_same_shape(tmp_path: Path) -> None:
    model = tmp_path / "unsure-model"
    ZeroShotTagger.from_taxonomy(TAXONOMY, HashingEmbedder(), threshold=1.0).save(model)
    settings = hashing_settings(tmp_path / "index", topic_model=model)
    with open_index(settings, writable=True) as index:
        index.upsert(_articles())
        index.save()
    with app_client(settings) as client:
        stored = client.get("/articles/politics-2/topics").json()
        assert stored["assigned_at_index_time"] is True
        _check_row(stored["topics"], stored["primary"])
        assert stored["primary"] == "politics" and stored["topics"][0]["confident"] is False
        text = client.post("/topics", json={"title": "ballot vote", "body": "parliament"}).json()
        _check_row(text["topics"], text["primary"])
        assert text["primary"] == "politics" and text["topics"][0]["confident"] is False
