"""The baselines `newsrec eval stories` shows beside the project's clustering, each swept
over its threshold: connected components of the TF-IDF cosine graph (`tfidf_components`)
and single-pass clustering on the dense vectors in date order (`dense_single_pass`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sparse
from scipy.sparse.csgraph import connected_components
from sklearn.feature_extraction.text import TfidfVectorizer

from eval.quality.story_scores import clustering_scores, labelled_mask
from recommender import ArticleIndex

BASELINE_SWEEP = tuple(round(0.1 + 0.05 * step, 2) for step in range(17))  # 0.10 .. 0.90
_SINGLE_PASS_NEIGHBOURS = 32


def tfidf_components(texts: list[str], gold: list[str]) -> dict[str, Any]:
    matrix = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit_transform(texts)
    matrix = sparse.csr_matrix(matrix, dtype=np.float32)
    lowest = min(BASELINE_SWEEP)
    links: list[sparse.coo_matrix] = []
    for start in range(0, matrix.shape[0], 2000):
        block = (matrix[start : start + 2000] @ matrix.T).tocoo()
        keep = (block.data >= lowest) & (block.row + start < block.col)
        links.append(
            sparse.coo_matrix(
                (block.data[keep], (block.row[keep] + start, block.col[keep])),
                shape=(matrix.shape[0], matrix.shape[0]),
            )
        )
    graph = sparse.coo_matrix(sum(links) if links else (matrix.shape[0], matrix.shape[0]))
    sweep = []
    for threshold in BASELINE_SWEEP:
        keep = graph.data >= threshold
        edges = sparse.coo_matrix(
            (np.ones(int(keep.sum())), (graph.row[keep], graph.col[keep])), shape=graph.shape
        )
        _, labels = connected_components(edges, directed=False)
        sweep.append(
            {
                "threshold": threshold,
                "scores": clustering_scores(gold, labels, labelled=labelled_mask(gold)),
            }
        )
    return _best_of(sweep)


def earlier_neighbours(index: ArticleIndex, rows: list[int]) -> list[np.ndarray]:
    """For each row (in date order), the positions of its nearest dense neighbours met
    before it: up to 32 of its 64 nearest overall."""
    position_of = {row: position for position, row in enumerate(rows)}
    row_array = np.asarray(rows, dtype=np.int64)
    found = []
    for start in range(0, len(rows), 1024):
        vectors = index.vectors_of(row_array[start : start + 1024])
        _, hits = index.dense_search(vectors, 2 * _SINGLE_PASS_NEIGHBOURS)
        for offset, row_hits in enumerate(hits):
            positions = [position_of[int(h)] for h in row_hits if h >= 0 and int(h) in position_of]
            earlier = [p for p in positions if p < start + offset]
            found.append(np.asarray(earlier[:_SINGLE_PASS_NEIGHBOURS], dtype=np.int64))
    return found


def dense_single_pass(
    vectors: np.ndarray, near: list[np.ndarray], gold: list[str]
) -> dict[str, Any]:
    """vectors: (n, dimension) unit rows in date order; near: earlier neighbours' positions."""
    count = len(vectors)
    sweep = []
    for threshold in BASELINE_SWEEP:
        labels = np.full(count, -1, dtype=np.int64)
        sums: list[np.ndarray] = []
        for position in range(count):
            best, best_score = -1, threshold
            for cluster in sorted({int(labels[i]) for i in near[position]}):
                centroid = sums[cluster]
                score = float(centroid @ vectors[position]) / float(np.linalg.norm(centroid))
                if score >= best_score:
                    best, best_score = cluster, score
            if best < 0:
                best = len(sums)
                sums.append(vectors[position].astype(np.float64).copy())
            else:
                sums[best] = sums[best] + vectors[position]
            labels[position] = best
        sweep.append(
            {
                "threshold": threshold,
                "scores": clustering_scores(gold, labels, labelled=labelled_mask(gold)),
            }
        )
    return _best_of(sweep)


def _best_of(sweep: list[dict[str, Any]]) -> dict[str, Any]:
    best = max(sweep, key=lambda entry: entry["scores"]["bcubed_f1"])
    found = {"best": best["scores"], "threshold": best["threshold"], "sweep": sweep}
    labelled = [e for e in sweep if not np.isnan(e["scores"].get("labelled_bcubed_f1", np.nan))]
    unlabelled_too = any(
        e["scores"]["labelled_bcubed_f1"] != e["scores"]["bcubed_f1"] for e in labelled
    )
    if labelled and unlabelled_too:
        best_labelled = max(labelled, key=lambda entry: entry["scores"]["labelled_bcubed_f1"])
        found["best_labelled"] = best_labelled["scores"]
        found["labelled_threshold"] = best_labelled["threshold"]
    return found
