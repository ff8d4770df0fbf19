"""Shared-neighbour re-ranking: the bonus, its oracle, and the ranking that uses it."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import scipy.sparse as sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from embeddings import HashingEmbedder
from recommender import ArticleIndex, InvalidInputError, Ranking, Recommender
from recommender.ranking.neighbourhood import pairwise_scores, shared_neighbour_bonus
from tests.conftest import make_article

WORDS = [f"word{i}" for i in range(60)]


def _oracle_bonus(scores: np.ndarray, count: int) -> np.ndarray:
    """Neighbour sets as Python sets, scored as the module's docstring says."""
    size = len(scores)
    count = min(count, size - 1)
    sets = [
        set(sorted((j for j in range(size) if j != i), key=lambda j, i=i: -scores[i, j])[:count])
        for i in range(size)
    ]
    return np.asarray(
        [
            (len(sets[0] & sets[c]) / count + float(c in sets[0] and 0 in sets[c])) / 2
            for c in range(1, size)
        ]
    )


@pytest.mark.parametrize("seed", range(5))
def test_the_bonus_matches_a_set_oracle(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.random((12, 12))
    assert shared_neighbour_bonus(scores, 4) == pytest.approx(_oracle_bonus(scores, 4))


def test_a_story_gains_over_a_candidate_close_to_the_query_alone() -> None:
    # 0 the query; 1, 2, 3 its story (each other's neighbours); 4 scores highest with the
    # query, but its own neighbours are 5 and 6, elsewhere.
    scores = np.full((7, 7), 0.1)
    scores[:4, :4] = 0.6
    scores[0, 4] = scores[4, 0] = 0.65
    scores[4, 5] = scores[4, 6] = scores[5, 4] = scores[6, 4] = scores[5, 6] = scores[6, 5] = 0.9
    bonus = shared_neighbour_bonus(scores, 2)
    assert bonus[:3].min() > 0.0 == bonus[3]
    assert ((bonus >= 0.0) & (bonus <= 1.0)).all()


def test_too_few_candidates_shrink_the_sets() -> None:
    assert shared_neighbour_bonus(np.zeros((1, 1)), 7).shape == (0,)
    scores = np.asarray([[0.0, 0.5], [0.5, 0.0]])
    assert shared_neighbour_bonus(scores, 7) == pytest.approx([0.5])  # reciprocal, no overlap


def test_pairwise_scores_use_each_rows_own_dense_weight() -> None:
    vectors = np.eye(3, dtype=np.float32)[:, :3]
    vectors[1] = vectors[0]
    terms = sparse.csr_matrix(np.asarray([[1, 0, 0, 0], [0.6, 0.8, 0, 0], [0, 0, 0, 1.0]]))

    scores = pairwise_scores(vectors, terms, lambda terms_count: 0.25 * terms_count)

    # Row 0 has one term (weight 0.25), row 1 two (weight 0.5).
    assert scores[0, 1] == pytest.approx(0.25 * 1.0 + 0.75 * 0.6)
    assert scores[1, 0] == pytest.approx(0.5 * 1.0 + 0.5 * 0.6)
    assert scores[2, 0] == pytest.approx(0.0)


def test_pairwise_lexical_side_is_bitwise_the_product_over_the_used_columns() -> None:
    # Stored pairwise scores must not move by a bit: the relabelled product equals scipy's
    # product over the columns renumbered by np.unique (the earlier way), entry for entry,
    # on rows that share hashed terms far apart in the million-column space.
    rng = np.random.default_rng(5)
    rows = []
    for _ in range(31):
        columns = rng.choice(2**20, size=rng.integers(1, 400), replace=False)
        columns[: len(columns) // 2] = rng.choice(300, size=len(columns) // 2, replace=False)
        values = rng.random(len(columns)).astype(np.float32)
        rows.append(sparse.csr_matrix((values, (np.zeros(len(columns)), columns)), (1, 2**20)))
    rows.insert(7, sparse.csr_matrix((1, 2**20), dtype=np.float32))  # an article without terms
    terms = normalize(sparse.vstack(rows, format="csr"))
    used, columns = np.unique(terms.indices, return_inverse=True)
    compact = sparse.csr_matrix(
        (terms.data, columns.reshape(-1), terms.indptr), shape=(terms.shape[0], len(used))
    )
    expected = np.asarray((compact @ compact.T).toarray(), dtype=np.float64)
    vectors = np.zeros((terms.shape[0], 4), dtype=np.float32)

    scores = pairwise_scores(vectors, terms, lambda terms_count: 0.0)

    assert np.array_equal(scores, expected)
    assert np.count_nonzero(expected[~np.eye(len(expected), dtype=bool)]) > 100


def _random_corpus(count: int = 40, seed: int = 3) -> list:
    rng = np.random.default_rng(seed)
    return [
        make_article(f"a{n}", f"headline {n}", " ".join(rng.choice(WORDS, size=25)))
        for n in range(count)
    ]


def test_related_scores_are_the_blend_plus_the_neighbour_bonus(
    open_test_index: Callable[..., ArticleIndex], embedder: HashingEmbedder
) -> None:
    corpus = _random_corpus()
    index = open_test_index()
    index.upsert(corpus)
    ranking = Ranking(dense_weight=0.5, dense_weight_long=0.5, neighbour_weight=0.1)
    plain = Recommender(index, Ranking(dense_weight=0.5, dense_weight_long=0.5, neighbour_weight=0))
    recommender = Recommender(index, ranking)
    texts = [article.text for article in corpus]
    vectors = embedder.encode(texts)
    tfidf = TfidfVectorizer(sublinear_tf=True, stop_words="english").fit_transform(texts)
    blend = 0.5 * (vectors @ vectors.T) + 0.5 * (tfidf @ tfidf.T).toarray()
    ids = [article.id for article in corpus]

    for position in range(10):
        # The pool holds every other article: the neighbour sets are the corpus's own.
        order = [position] + [j for j in range(len(corpus)) if j != position]
        bonus = _oracle_bonus(blend[np.ix_(order, order)], ranking.neighbour_count)
        expected = {
            ids[j]: min(blend[position, j] + 0.1 * b, 1.0)
            for j, b in zip(order[1:], bonus, strict=True)
        }
        hits = recommender.related(ids[position], k=10)
        assert [hit.score for hit in hits] == pytest.approx(
            sorted(expected.values(), reverse=True)[:10], abs=1e-5
        )
        for hit in hits:
            assert hit.score == pytest.approx(expected[hit.id], abs=1e-5)
        # Off, the same pool is ranked by the blend alone.
        for hit in plain.related(ids[position], k=10):
            assert hit.score == pytest.approx(blend[position, ids.index(hit.id)], abs=1e-5)


def test_neighbour_settings_are_checked() -> None:
    for bad in ({"neighbour_weight": -0.1}, {"neighbour_count": 0}, {"neighbour_pool": 0}):
        with pytest.raises(InvalidInputError, match=next(iter(bad))):
            Ranking(**bad)  # type: ignore[arg-type]
