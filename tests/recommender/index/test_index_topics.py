"""Topics in the index: tagged at write time, shown in related lists, filterable, re-taggable."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from embeddings import HashingEmbedder
from recommender import ArticleIndex, InvalidInputError, Recommender, RelatedFilters
from recommender.topics import ZeroShotTagger
from tests.conftest import make_article
from tests.topics_corpus import TAXONOMY, keyword_text


def _corpus() -> list:
    rng = random.Random(3)
    return [
        make_article(f"{label}-{n}", f"{label} report {n}", keyword_text([label], rng))
        for label in ("sport", "politics", "disaster")
        for n in range(6)
    ]


@pytest.fixture
def tagged_index(tmp_path: Path, embedder: HashingEmbedder) -> ArticleIndex:
    index = ArticleIndex.open(
        tmp_path / "index",
        embedder,
        writable=True,
        tagger=lambda: ZeroShotTagger.from_taxonomy(TAXONOMY, embedder),
    )
    index.upsert(_corpus())
    return index


def test_articles_are_tagged_as_they_are_indexed(tagged_index: ArticleIndex) -> None:
    for label in ("sport", "politics", "disaster"):
        assigned = tagged_index.topics_of(f"{label}-0")
        assert assigned is not None
        assert assigned.primary == label
        assert assigned.labels[0] == label


def test_related_lists_carry_topics_and_filter_on_them(tagged_index: ArticleIndex) -> None:
    recommender = Recommender(tagged_index)
    hits = recommender.related("sport-0", k=5)
    assert all(hit.topics and hit.topics[0] == "sport" for hit in hits)
    assert hits[0].to_dict()["topics"] == list(hits[0].topics)
    filtered = recommender.related("sport-0", k=5, filters=RelatedFilters(topic="disaster"))
    assert len(filtered) == 5
    assert all("disaster" in hit.topics for hit in filtered)


def test_an_unknown_topic_filter_is_an_input_error(tagged_index: ArticleIndex) -> None:
    with pytest.raises(InvalidInputError, match="unknown topic 'weather'"):
        Recommender(tagged_index).related("sport-0", filters=RelatedFilters(topic="weather"))


def test_topics_survive_reopening(tagged_index: ArticleIndex, embedder: HashingEmbedder) -> None:
    directory = tagged_index.directory
    tagged_index.save()
    tagged_index.close()
    with ArticleIndex.open(directory, embedder) as reopened:
        hits = Recommender(reopened).related(
            "politics-1", k=3, filters=RelatedFilters(topic="politics")
        )
        assert [hit.topics[0] for hit in hits] == ["politics"] * 3


def test_retag_replaces_every_articles_topics(
    open_test_index: Callable[..., ArticleIndex], embedder: HashingEmbedder
) -> None:
    index = open_test_index()
    index.upsert(_corpus())
    assert index.topics_of("sport-2") is None
    generation = index.store.generation
    retagged = index.retag(ZeroShotTagger.from_taxonomy(TAXONOMY, embedder))
    assert retagged == len(_corpus())
    assert index.store.generation == generation + 1
    assigned = index.topics_of("sport-2")
    assert assigned is not None and assigned.primary == "sport"
    filtered = Recommender(index).related("politics-0", k=4, filters=RelatedFilters(topic="sport"))
    assert {hit.id.split("-")[0] for hit in filtered} == {"sport"}
