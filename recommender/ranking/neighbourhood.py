"""Shared-neighbour re-ranking: the articles of one story are each other's neighbours.

A candidate gains a bounded bonus when its own nearest neighbours agree with the query's:

    score + weight * (|N(q) & N(c)| / k + [c in N(q) and q in N(c)]) / 2

where N(x) is x's k best-scoring articles. Pairwise scoring sees one pair at a time; the
bonus lets the rest of a story vouch for a candidate whose own words or opening differ from
the query's. Every neighbour set is taken within the query's candidate pool (the query and
its best candidates, scored pairwise with the ranking's own blend), so it is computed from
the index as it stands when the list is ranked: nothing is stored beside the related lists,
and no write can leave a neighbour set stale.

Measured in `eval.studies.fusion_study` (exhaustive scoring, paired t-tests against the blend
alone): with k = 7, weight 0.2 and sets taken within the query's best 50 candidates it gains
on every corpus assembled here (Wikinews one-offs beside the seeds, two-article WCEP stories,
WCEP monthly digests, the seeds, a WCEP slice), where query expansion with the same
neighbours lost on two-article stories. Sets over the whole corpus, or within 200, measure
the same; 50 keeps the cost to a few milliseconds a list (`eval.bench.neighbours`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import scipy.sparse as sparse


def pairwise_scores(
    vectors: np.ndarray, terms: sparse.csr_matrix, dense_weight_for: Callable[[int], float]
) -> np.ndarray:
    """(m, m) blended scores of m articles with each other, from unit vectors and unit
    TF-IDF rows; row i is scored from article i's side, with the dense weight its number of
    distinct terms gives (`Ranking.dense_weight_for`). No time factor."""
    dense = np.asarray(vectors @ vectors.T, dtype=np.float64)
    lexical = np.asarray(_gram(terms).toarray(), dtype=np.float64)
    counts = np.diff(terms.indptr)
    # One call per distinct count: rows of a pool share few of them.
    weight_of = {int(n): dense_weight_for(int(n)) for n in np.unique(counts)}
    weights = np.asarray([weight_of[int(n)] for n in counts], dtype=np.float64)[:, None]
    return weights * dense + (1.0 - weights) * lexical


def _gram(terms: sparse.csr_matrix) -> sparse.csr_matrix:
    """terms @ terms.T over the rows' own terms only: a product over the hashed space's
    million columns costs tens of milliseconds in scipy's bookkeeping alone (measured).

    Each distinct term is renumbered to the position of its last occurrence among the
    stored entries (a lookup, where np.unique's sort cost as much as the product itself on
    pools of full-length articles). Only the labels change, not the order of each row's
    entries, so every sum is taken in the same order and the products are unchanged."""
    indices = terms.indices
    positions = np.arange(len(indices), dtype=indices.dtype)
    label = _term_labels(int(terms.shape[1]))
    label[indices] = positions  # a term seen twice keeps its last position
    compact = sparse.csr_matrix(
        (terms.data, label[indices], terms.indptr), shape=(terms.shape[0], max(len(indices), 1))
    )
    return compact @ compact.T


_LABELS = threading.local()


def _term_labels(features: int) -> np.ndarray:
    """A per-thread scratch array, one slot per hashed feature. Never cleared: a call reads
    back only the slots it has just written."""
    labels: np.ndarray | None = getattr(_LABELS, "array", None)
    if labels is None or len(labels) < features:
        labels = np.empty(features, dtype=np.int32)
        _LABELS.array = labels
    return labels


def shared_neighbour_bonus(local_scores: np.ndarray, count: int) -> np.ndarray:
    """The agreement of neighbour sets, in [0, 1], of each candidate with the query.

    local_scores: (m + 1, m + 1) pairwise scores, row and column 0 the query, then its m
    candidates; each row is scored from that article's side (the diagonal is ignored).
    Returns (m,).
    """
    size = local_scores.shape[0]
    candidates = size - 1
    if candidates < 1:
        return np.zeros(0, dtype=np.float64)
    count = min(count, candidates)
    scores = np.array(local_scores, dtype=np.float64, copy=True)
    np.fill_diagonal(scores, -np.inf)
    # Ties broken by position, so the sets (and the ranking) are the same on every run.
    order = np.argsort(-scores, axis=1, kind="stable")[:, :count]
    sets = np.zeros((size, size), dtype=bool)
    np.put_along_axis(sets, order, True, axis=1)
    overlap = (sets[0][None, :] & sets[1:]).sum(axis=1) / count
    reciprocal = sets[0, 1:] & sets[1:, 0]
    return np.asarray((overlap + reciprocal) / 2.0, dtype=np.float64)
