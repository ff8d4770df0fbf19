"""The scorings the fusion study compares, numpy and scipy in and out: lexical weightings
(TF-IDF variants, BM25), fusions of the dense and lexical sides (fixed and length-dependent
weights, z-scores, reciprocal rank fusion), and shared-neighbour bonuses (over all articles,
within the query's pool, per view)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from eval.studies.fusion_corpus import Corpus, Row
from eval.studies.relevance_study import article_text
from recommender.ranking.neighbourhood import shared_neighbour_bonus
from recommender.ranking.scoring import Ranking

# -- the lexical side -------------------------------------------------------------------------


def tfidf_rows(texts: list[str], **options: object) -> sparse.csr_matrix:
    settings: dict[str, object] = {"sublinear_tf": True, "stop_words": "english"}
    settings.update(options)
    return TfidfVectorizer(**settings).fit_transform(texts).tocsr()  # type: ignore[arg-type]


def bm25_rows(texts: list[str], k1: float = 1.2, b: float = 0.75) -> sparse.csr_matrix:
    """Documents as BM25-weighted term vectors (saturated tf, length-normalised), unit rows."""
    counts = TfidfVectorizer(use_idf=False, norm=None, stop_words="english").fit_transform(texts)
    counts = counts.tocsr().astype(np.float32)
    lengths = np.asarray(counts.sum(axis=1)).ravel()
    scale = k1 * (1 - b + b * lengths / max(lengths.mean(), 1e-9))
    rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    counts.data = counts.data * (k1 + 1) / (counts.data + scale[rows])
    documents = counts.shape[0]
    frequency = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = np.log(1 + (documents - frequency + 0.5) / (frequency + 0.5))
    weighted = counts.multiply(idf[None, :]).tocsr()
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
    return sparse.csr_matrix(sparse.diags(1 / np.maximum(norms, 1e-9)) @ weighted)


def _title_twice(row: Row) -> str:
    return f"{row['title']}\n{article_text(row)}"


def lexical_variants(corpus: Corpus) -> dict[str, Callable[[], sparse.csr_matrix]]:
    texts = [article_text(row) for row in corpus.rows]
    return {
        "shipped (unigrams, stop words)": lambda: tfidf_rows(texts),
        "+ bigrams": lambda: tfidf_rows(texts, ngram_range=(1, 2)),
        "+ bigrams, min_df 2": lambda: tfidf_rows(texts, ngram_range=(1, 2), min_df=2),
        "max_df 0.1": lambda: tfidf_rows(texts, max_df=0.1),
        "min_df 2": lambda: tfidf_rows(texts, min_df=2),
        "no stop words": lambda: tfidf_rows(texts, stop_words=None),
        "title twice": lambda: tfidf_rows([_title_twice(row) for row in corpus.rows]),
        "bm25 vectors": lambda: bm25_rows(texts),
        "case kept (names)": lambda: tfidf_rows(texts, lowercase=False),
    }


# -- fusion and neighbourhoods ----------------------------------------------------------------


def _zscores(scores: np.ndarray, queries: np.ndarray) -> np.ndarray:
    masked = scores.copy()
    masked[np.arange(len(queries)), queries] = np.nan
    mean = np.nanmean(masked, axis=1, keepdims=True)
    spread = np.nanstd(masked, axis=1, keepdims=True) + 1e-6
    return (scores - mean) / spread


def _reciprocal_ranks(scores: np.ndarray, constant: float = 60.0) -> np.ndarray:
    ranks = np.argsort(np.argsort(-scores, axis=1), axis=1)
    return 1.0 / (constant + ranks)


def fusion_variants(
    dense: np.ndarray, lexical: np.ndarray, lengths: np.ndarray, queries: np.ndarray
) -> dict[str, np.ndarray]:
    ranking = Ranking()
    shipped_weight = np.asarray([ranking.dense_weight_for(int(n)) for n in lengths])[:, None]
    variants = {
        "shipped length-dependent weight": shipped_weight * dense + (1 - shipped_weight) * lexical,
        "lexical only": lexical,
        "dense only": dense,
    }
    for weight in (0.2, 0.35, 0.5):
        variants[f"fixed dense weight {weight}"] = weight * dense + (1 - weight) * lexical
    dense_z, lexical_z = _zscores(dense, queries), _zscores(lexical, queries)
    for weight in (0.3, 0.5):
        variants[f"z-scored sides, dense weight {weight}"] = (
            weight * dense_z + (1 - weight) * lexical_z
        )
    variants["reciprocal rank fusion"] = _reciprocal_ranks(dense) + _reciprocal_ranks(lexical)
    return variants


def neighbour_sets(full: np.ndarray, k: int) -> sparse.csr_matrix:
    """(n, n) 0/1 rows: each article's top-k by `full` (self excluded)."""
    n = full.shape[0]
    top = np.argpartition(-full, k, axis=1)[:, :k]
    return sparse.csr_matrix(
        (np.ones(n * k, np.float32), top.ravel(), np.arange(0, n * k + 1, k)), shape=(n, n)
    )


def shared_neighbours(
    full: np.ndarray, queries: np.ndarray, k: int, weight: float, parts: str = "both"
) -> np.ndarray:
    """Scores plus `weight` times the agreement of neighbour sets: the overlap of the query's
    and each candidate's top-k (a share of k) and/or reciprocity (each in the other's top-k).

    `full` is the (n, n) score matrix (self excluded): the neighbour sets of every article."""
    membership = neighbour_sets(full, k)
    overlap = np.asarray((membership[queries] @ membership.T).toarray()) / k
    reciprocal = np.asarray(membership[queries].toarray()) * np.asarray(
        membership[:, queries].T.toarray()
    )
    bonus = {"both": (overlap + reciprocal) / 2, "overlap": overlap, "reciprocal": reciprocal}
    return full[queries] + weight * bonus[parts]


def pool_neighbours(
    full: np.ndarray,
    queries: np.ndarray,
    k: int,
    weight: float,
    pool: int,
    *,
    best_share: float | None = None,
) -> np.ndarray:
    """`shared_neighbours` with every neighbour set taken within the query's own candidate
    pool (its best `pool` by score, plus itself), scored by the product's own function.

    `best_share`: the bonus is at most this share of the pool's best score,
    min(`weight`, `best_share` x best), so it keeps a proportion to the scores whatever their
    scale (a full article's blended scores run lower than a summary's); with `weight` 1 it
    is that share alone."""
    return view_neighbours(full, [full], queries, k, weight, pool, best_share)


def _local_bonus(matrix: np.ndarray, local: np.ndarray, k: int) -> np.ndarray:
    return shared_neighbour_bonus(matrix[np.ix_(local, local)], k)


def view_neighbours(
    full: np.ndarray,
    views: list[np.ndarray],
    queries: np.ndarray,
    k: int,
    weight: float,
    pool: int = 50,
    best_share: float | None = None,
) -> np.ndarray:
    """The pool bonus with neighbour sets taken in each of `views` (e.g. the dense and the
    lexical cosines separately), averaged: each view vouches for the candidates it groups.
    See `pool_neighbours` for `best_share`."""
    out = full[queries].copy()
    for row_number, query in enumerate(queries):
        row = full[query]
        size = min(pool, len(row) - 1)
        members = np.argpartition(-row, size - 1)[:size]
        local = np.concatenate([[query], members])
        bonus = np.mean([_local_bonus(view, local, k) for view in views], axis=0)
        most = weight
        if best_share is not None:
            # A pool whose best score is negative (dense cosines can be) earns no bonus: a
            # negative share would turn the bonus into a penalty for shared neighbours.
            most = min(weight, best_share * max(float(row[members].max()), 0.0))
        out[row_number, members] = row[members] + most * bonus
    return out
