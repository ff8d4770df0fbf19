"""Integration tests with the real all-MiniLM-L6-v2 on the demo corpus (marked `model`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from embeddings import MiniLMEmbedder
from recommender import ArticleIndex, Recommender, load_articles
from tests.conftest import MODEL_INSTALLED, SEEDS_DIR

pytestmark = [
    pytest.mark.model,
    pytest.mark.skipif(not MODEL_INSTALLED, reason="the packaged MiniLM model is not installed"),
]

SECURITY_STORY = "libya-russia-security"


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture(scope="module")
def seeds_index(
    tmp_path_factory: pytest.TempPathFactory, embedder: MiniLMEmbedder
) -> Iterator[ArticleIndex]:
    directory: Path = tmp_path_factory.mktemp("seeds-index")
    articles = load_articles([SEEDS_DIR / "articles.jsonl"]).articles
    with ArticleIndex.open(directory, embedder, writable=True) as index:
        index.upsert(articles)
        index.save()
    with ArticleIndex.open(directory, embedder) as index:
        yield index


def test_vectors_are_unit_length_and_match_sentence_transformers(embedder: MiniLMEmbedder) -> None:
    texts = ["Haftar meets Russian defence officials in Moscow", "Brisken win the cup final"]
    vectors = embedder.encode(texts)
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    direct = embedder._loaded_model().encode(texts, normalize_embeddings=True)
    assert np.allclose(vectors, direct, atol=1e-5)


def test_chunk_pooling_equals_truncation_for_a_short_text() -> None:
    text = "A short report on a naval exercise in the Gulf of Guinea."
    plain = MiniLMEmbedder().encode([text])
    pooled = MiniLMEmbedder(max_chunks=4).encode([text])
    assert float(plain[0] @ pooled[0]) > 0.999


def test_security_story_articles_come_first_in_each_others_lists(seeds_index: ArticleIndex) -> None:
    recommender = Recommender(seeds_index)
    members = [i for i in seeds_index.ids() if seeds_index.article(i).story == SECURITY_STORY]
    assert len(members) >= 6
    for member in members:
        related = recommender.related(member, k=10)
        stories = [seeds_index.article(hit.id).story for hit in related]
        # The near-duplicate pair collapses to one entry, so the story has one fewer slot.
        story_slots = len(members) - 2
        assert stories[:story_slots] == [SECURITY_STORY] * story_slots, (member, stories)


def test_seed_article_slots_stay_in_the_story(seeds_index: ArticleIndex) -> None:
    slots = Recommender(seeds_index).slots("sec-libya-03")
    assert slots.previous is not None and slots.next is not None
    for hit in (slots.previous, slots.next):
        assert seeds_index.article(hit.id).story == SECURITY_STORY
    assert slots.previous.published < "2025-09-24"  # type: ignore[operator]
    assert slots.next.published > "2025-09-24"  # type: ignore[operator]


def test_related_to_text_finds_the_story_without_indexing(seeds_index: ArticleIndex) -> None:
    before = len(seeds_index)
    hits = Recommender(seeds_index).related_to_text(
        "Libyan commander Haftar and Moscow deepen counterterrorism cooperation",
        "Russian officers will train the Libyan National Army under a new security pact.",
        k=3,
    )
    assert [seeds_index.article(hit.id).story for hit in hits] == [SECURITY_STORY] * 3
    assert len(seeds_index) == before
