"""The zero-shot tagger with the real all-MiniLM-L6-v2 on the demo corpus (marked `model`)."""

from __future__ import annotations

import numpy as np
import pytest

from embeddings import MiniLMEmbedder
from recommender import Article, load_articles
from recommender.topics import ZeroShotTagger, default_taxonomy, evaluate_assignments
from tests.conftest import MODEL_INSTALLED, SEEDS_DIR

pytestmark = [
    pytest.mark.model,
    pytest.mark.skipif(not MODEL_INSTALLED, reason="the packaged MiniLM model is not installed"),
]

SECURITY_COOPERATION = [f"sec-libya-0{n}" for n in range(1, 7)]


@pytest.fixture(scope="module")
def seeds() -> tuple[list[Article], np.ndarray, ZeroShotTagger]:
    embedder = MiniLMEmbedder()
    articles = load_articles([SEEDS_DIR / "articles.jsonl"]).articles
    vectors = embedder.encode([article.text for article in articles])
    return articles, vectors, ZeroShotTagger.from_taxonomy(default_taxonomy(), embedder)


def test_security_cooperation_articles_are_security_and_diplomacy(
    seeds: tuple[list[Article], np.ndarray, ZeroShotTagger],
) -> None:
    articles, vectors, tagger = seeds
    rows = [i for i, article in enumerate(articles) if article.id in SECURITY_COOPERATION]
    assert len(rows) == 6

    for row, assignment in zip(rows, tagger.tag(vectors[rows]), strict=True):
        labels = set(assignment.labels)
        assert {"security", "diplomacy"} <= labels, (articles[row].id, assignment.scores)
        assert assignment.primary in {"security", "diplomacy"}


def test_zero_shot_on_the_hand_labelled_seeds(
    seeds: tuple[list[Article], np.ndarray, ZeroShotTagger],
) -> None:
    articles, vectors, tagger = seeds

    report = evaluate_assignments(
        tagger.tag(vectors), [list(article.topics or ()) for article in articles]
    )

    # Measured 1.00 and 0.77; the bounds leave room for small numeric drift only.
    assert report.multi_label
    assert report.accuracy >= 0.95
    assert report.macro_f1 >= 0.72
