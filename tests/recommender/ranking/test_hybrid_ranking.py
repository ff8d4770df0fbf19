"""The blended score: dense cosine, whole-text TF-IDF cosine and the time-proximity boost."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from embeddings import HashingEmbedder
from recommender import ArticleIndex, InvalidInputError, Ranking, Recommender, Settings
from recommender.index.lexical import LexicalIndex, term_vectors
from tests.conftest import make_article

WORDS = [f"word{i}" for i in range(40)]


def _corpus(count: int = 30, seed: int = 7) -> list:
    rng = np.random.default_rng(seed)
    return [
        make_article(
            f"a{n}",
            f"headline {n}",
            " ".join(rng.choice(WORDS, size=int(rng.integers(8, 40)))),
            published=f"2024-{1 + n % 12:02d}-{1 + n % 27:02d}T08:00:00Z",
        )
        for n in range(count)
    ]


def _tfidf_oracle(texts: list[str]) -> np.ndarray:
    """scikit-learn's TF-IDF: smooth idf and sublinear tf, as the lexical side uses."""
    matrix = TfidfVectorizer(sublinear_tf=True, stop_words="english").fit_transform(texts)
    return (matrix @ matrix.T).toarray()


def test_lexical_scores_match_scikit_learn_tfidf() -> None:
    texts = [article.text for article in _corpus()]
    lexical = LexicalIndex(np.arange(len(texts)) * 3, term_vectors(texts))
    oracle = _tfidf_oracle(texts)
    for row in range(len(texts)):
        scores = lexical.scores(lexical.query_of(row * 3), np.arange(len(texts)) * 3)
        assert scores == pytest.approx(oracle[row], abs=1e-5)


def test_lexical_index_tracks_removals_and_upserts() -> None:
    texts = [article.text for article in _corpus()]
    lexical = LexicalIndex(np.arange(len(texts)), term_vectors(texts))
    lexical.remove(np.arange(10, 30))
    lexical.upsert(np.asarray([5]), term_vectors([texts[20]]))
    remaining = texts[:10]
    remaining[5] = texts[20]
    oracle = _tfidf_oracle(remaining)
    scores = lexical.scores(lexical.query_of(5), np.arange(10))
    assert scores == pytest.approx(oracle[5], abs=1e-5)
    assert lexical.scores(lexical.query_of(5), np.asarray([25]))[0] == 0.0


@pytest.mark.parametrize("dense_weight", [0.0, 0.5, 1.0])
def test_blended_scores_and_order_match_an_oracle(
    open_test_index: Callable[..., ArticleIndex], embedder: HashingEmbedder, dense_weight: float
) -> None:
    corpus = _corpus()
    index = open_test_index()
    index.upsert(corpus)
    ranking = Ranking(
        dense_weight=dense_weight,
        dense_weight_long=dense_weight,
        time_boost=0.0,
        pool_depth=len(corpus),
        neighbour_weight=0.0,
    )
    recommender = Recommender(index, ranking)
    vectors = embedder.encode([article.text for article in corpus])
    blended = dense_weight * (vectors @ vectors.T) + (1 - dense_weight) * _tfidf_oracle(
        [article.text for article in corpus]
    )
    for position, article in enumerate(corpus[:10]):
        hits = recommender.related(article.id, k=5)
        expected = sorted(
            (score, other.id)
            for other, score in zip(corpus, blended[position], strict=True)
            if other.id != article.id
        )[::-1][:5]
        assert [hit.score for hit in hits] == pytest.approx([s for s, _ in expected], abs=1e-5)


def test_time_boost_prefers_the_closer_of_two_equally_similar_stories(
    open_test_index: Callable[..., ArticleIndex],
) -> None:
    body = "harbour cranes strike dockworkers union wages"
    corpus = [
        make_article("query", "port strike", body, published="2024-06-01T00:00:00Z"),
        make_article("far", "port strike", body + " far", published="2021-06-01T00:00:00Z"),
        make_article("near", "port strike", body + " near", published="2024-06-20T00:00:00Z"),
    ]
    index = open_test_index(duplicate_threshold=1.0)
    index.upsert(corpus)
    pairwise = Ranking(time_boost=0.0, neighbour_weight=0.0)
    plain = Recommender(index, pairwise).related("query", k=2)
    assert plain[0].score == pytest.approx(plain[1].score, abs=1e-6)
    boosted_ranking = replace(pairwise, time_boost=1.0, time_decay_days=90)
    boosted = Recommender(index, boosted_ranking).related("query", k=2)
    assert [hit.id for hit in boosted] == ["near", "far"]
    closeness = math.exp(-19 / 90)
    assert boosted[0].score == pytest.approx(plain[0].score * (1 + closeness) / 2, abs=1e-5)
    assert all(hit.score <= 1.0 + 1e-6 for hit in boosted)


def test_time_is_not_a_relevance_signal_by_default(
    open_test_index: Callable[..., ArticleIndex],
) -> None:
    # A story that runs for years must not lose to the same week's news because of its date.
    corpus = [
        make_article("query", "dam", "reservoir dam turbines river", published="2024-06-01"),
        make_article("years-ago", "dam", "reservoir dam turbines silt", published="2019-06-01"),
        make_article("same-week", "vote", "reservoir council vote", published="2024-06-02"),
    ]
    index = open_test_index(duplicate_threshold=1.0)
    index.upsert(corpus)
    default = Recommender(index, Ranking()).related("query", k=2)
    plain = Recommender(index, Ranking(time_boost=0.0)).related("query", k=2)
    assert Ranking().time_boost == 0.0 and Settings().time_boost == 0.0
    assert [(hit.id, hit.score) for hit in default] == [(hit.id, hit.score) for hit in plain]
    assert default[0].id == "years-ago"


def test_ranking_rejects_out_of_range_weights() -> None:
    with pytest.raises(InvalidInputError, match="dense_weight"):
        Ranking(dense_weight=1.5)
    with pytest.raises(InvalidInputError, match="time_decay_days"):
        Ranking(time_decay_days=0)


def test_the_dense_weight_falls_log_linearly_with_the_query_length() -> None:
    ranking = Ranking(
        dense_weight=0.6, dense_weight_long=0.1, short_text_terms=32, long_text_terms=128
    )
    assert ranking.dense_weight_for(5) == 0.6
    assert ranking.dense_weight_for(32) == 0.6
    assert ranking.dense_weight_for(64) == pytest.approx(0.35)  # halfway on a log scale
    assert ranking.dense_weight_for(128) == pytest.approx(0.1)
    assert ranking.dense_weight_for(5000) == pytest.approx(0.1)
    with pytest.raises(InvalidInputError, match="dense_weight_long"):
        Ranking(dense_weight_long=-0.1)
    with pytest.raises(InvalidInputError, match="short_text_terms"):
        Ranking(short_text_terms=200, long_text_terms=100)


def test_a_long_article_is_scored_with_the_long_weight(
    open_test_index: Callable[..., ArticleIndex], embedder: HashingEmbedder
) -> None:
    long_body = " ".join(f"term{i}" for i in range(200))
    corpus = [
        make_article("long", "a long report", long_body),
        make_article("near", "a long report", " ".join(f"term{i}" for i in range(0, 200, 2))),
        make_article("far", "another report", " ".join(f"term{i}" for i in range(150, 260))),
    ]
    index = open_test_index()
    index.upsert(corpus)
    ranking = Ranking(dense_weight=0.9, dense_weight_long=0.2, time_boost=0.0, neighbour_weight=0)
    hits = {hit.id: hit.score for hit in Recommender(index, ranking).related("long", k=2)}
    texts = [article.text for article in corpus]
    vectors = embedder.encode(texts)
    lexical = _tfidf_oracle(texts)
    for position, article_id in ((1, "near"), (2, "far")):
        dense = float(vectors[0] @ vectors[position])
        expected = 0.2 * dense + 0.8 * lexical[0, position]
        assert hits[article_id] == pytest.approx(expected, abs=1e-4)
