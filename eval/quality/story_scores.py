"""How well a clustering matches the gold stories: pairwise precision, recall and F1,
BCubed precision, recall and F1 and the adjusted Rand index, over all articles and over the
labelled ones. An article without a gold story is a story of its own (`UNLABELLED`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import adjusted_rand_score
from sklearn.metrics.cluster import contingency_matrix, pair_confusion_matrix

UNLABELLED = "\0"  # the gold story of an article without one: its own


def clustering_scores(
    gold: Sequence[str], predicted: Sequence[Any], *, labelled: Sequence[bool] | None = None
) -> dict[str, float]:
    """The scores of all articles, and with `labelled` those of the labelled ones too
    (`labelled_*`: a corpus whose unlabelled articles are not known to stand alone, as
    WCEP's, is judged on its labelled ones)."""
    found = _scores(gold, predicted)
    if labelled is not None:
        keep = np.asarray(labelled, dtype=bool)
        subset = _scores(
            [g for g, k in zip(gold, keep, strict=True) if k],
            [p for p, k in zip(predicted, keep, strict=True) if k],
        )
        found.update({f"labelled_{name}": value for name, value in subset.items()})
    return found


def _scores(gold: Sequence[str], predicted: Sequence[Any]) -> dict[str, float]:
    """Pairwise precision/recall/F1, BCubed precision/recall/F1 and ARI of one clustering."""
    pairs = pair_confusion_matrix(gold, predicted)
    together = float(pairs[1, 1])
    precision = together / (together + pairs[0, 1]) if together + pairs[0, 1] else 1.0
    recall = together / (together + pairs[1, 0]) if together + pairs[1, 0] else 1.0
    table = contingency_matrix(gold, predicted, sparse=True).tocoo()
    gold_sizes = np.bincount(table.row, weights=table.data)
    predicted_sizes = np.bincount(table.col, weights=table.data)
    squared = table.data.astype(np.float64) ** 2
    total = float(len(gold))
    b_precision = float((squared / predicted_sizes[table.col]).sum() / total)
    b_recall = float((squared / gold_sizes[table.row]).sum() / total)
    return {
        "pair_precision": precision,
        "pair_recall": recall,
        "pair_f1": _f1(precision, recall),
        "bcubed_precision": b_precision,
        "bcubed_recall": b_recall,
        "bcubed_f1": _f1(b_precision, b_recall),
        "ari": float(adjusted_rand_score(gold, predicted)),
    }


def gold_story_id(gold: str, article_id: str) -> str:
    return f"alone:{article_id}" if gold.startswith(UNLABELLED) else f"gold:{gold}"


def labelled_mask(gold: list[str]) -> list[bool]:
    return [not story.startswith(UNLABELLED) for story in gold]


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0
