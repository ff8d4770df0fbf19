"""Metrics of ranked related lists: accuracy (ranx), beyond accuracy, slots, significance.

Accuracy metrics are ranx's, never hand-written. The others are defined here:

- coverage@k: share of the corpus that appears in at least one top-k list;
- diversity@k (intra-list diversity): 1 - mean pairwise cosine of a top-k list's stored
  vectors, averaged over lists with at least two items;
- duplicates@k: share of top-k items that are a near-duplicate (MinHash estimated shingle
  Jaccard >= the index's threshold) of the query or of an item ranked above them: the
  entries a reader sees as a repeat;
- slot fill: share of the 2 slots per query that hold an article; slot same story: share
  of the filled slots that are of the query's story.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from ranx import Qrels, Run, compare, evaluate

from eval.quality.datasets import LabelledCorpus
from eval.quality.slots import SlotPair
from eval.quality.systems import Ranked
from recommender.index.fingerprint import estimated_similarity

STAT_TEST = "student"  # paired t-test over queries
SIGNIFICANCE_LEVEL = 0.05


def accuracy_metrics(k: int) -> list[str]:
    """ranx metric names; `k` is the list length a reader sees."""
    return [f"ndcg@{k}", "precision@5", "mrr", f"recall@{k}", "map@100"]


def to_run(rankings: Mapping[str, Ranked], queries: Sequence[str], name: str) -> Run:
    """A ranx run; a query with an empty list stays in it (and scores 0)."""
    return Run({q: dict(rankings.get(q, [])) for q in queries}, name=name)


def to_qrels(qrels: Mapping[str, Mapping[str, int]]) -> Qrels:
    """A ranx Qrels object. Always pass ranx objects on both sides: ranx 0.3.21 given a
    plain-dict qrels with a `Run` object pairs the queries up wrongly (silently low scores)."""
    return Qrels({query: dict(relevant) for query, relevant in qrels.items()})


def accuracy(qrels: Qrels, run: Run, metrics: Sequence[str]) -> dict[str, float]:
    """`run` must hold exactly the queries of `qrels` (`to_run` does)."""
    # Not make_comparable=True: it costs ~10 s of numba compilation per process.
    found = evaluate(qrels, run, list(metrics))
    if not isinstance(found, dict):  # ranx returns a bare number for a single metric
        return {metrics[0]: float(found)}
    return {name: float(value) for name, value in found.items()}


def per_query(run: Run, metric: str) -> dict[str, float]:
    """The per-query values ranx stored on `run` while evaluating `metric`."""
    return {query: float(value) for query, value in run.scores[metric].items()}


def coverage(rankings: Mapping[str, Ranked], corpus_size: int, k: int) -> float:
    shown = {article_id for ranked in rankings.values() for article_id, _ in ranked[:k]}
    return len(shown) / corpus_size if corpus_size else 0.0


def intra_list_diversity(
    rankings: Mapping[str, Ranked], vector_of: Callable[[Sequence[str]], np.ndarray], k: int
) -> float:
    """vector_of: ids -> (m, dimension) unit vectors."""
    values = []
    for ranked in rankings.values():
        ids = [article_id for article_id, _ in ranked[:k]]
        if len(ids) < 2:
            continue
        vectors = vector_of(ids)
        cosines = vectors @ vectors.T
        pairs = len(ids) * (len(ids) - 1)
        values.append(1.0 - float((cosines.sum() - np.trace(cosines)) / pairs))
    return float(np.mean(values)) if values else 0.0


def duplicate_rate(
    rankings: Mapping[str, Ranked],
    signature_of: Callable[[str], np.ndarray],
    k: int,
    threshold: float,
) -> float:
    repeats = items = 0
    for query_id, ranked in rankings.items():
        seen = [signature_of(query_id)]
        for article_id, _ in ranked[:k]:
            signature = signature_of(article_id)
            repeats += bool((estimated_similarity(signature, np.stack(seen)) >= threshold).any())
            items += 1
            seen.append(signature)
    return repeats / items if items else 0.0


def slot_metrics(corpus: LabelledCorpus, slots: Mapping[str, SlotPair]) -> dict[str, float]:
    filled = [(q, slot) for q, pair in slots.items() for slot in pair if slot is not None]
    same = sum(corpus.same_story(q, slot) for q, slot in filled)
    return {
        "slot_fill": len(filled) / (2 * len(slots)) if slots else 0.0,
        "slot_same_story": same / len(filled) if filled else 0.0,
    }


def significance(
    qrels: Qrels, candidate: Run, baseline: Run, metrics: Sequence[str]
) -> dict[str, dict[str, float | int]]:
    """Paired test (ranx compare) of `candidate` against `baseline`, per metric.

    Returns {metric: {"p": p-value, "wins": .., "ties": .., "losses": ..}} (wins are queries
    where the candidate scores higher).
    """
    report = compare(
        qrels, [candidate, baseline], list(metrics), stat_test=STAT_TEST, max_p=SIGNIFICANCE_LEVEL
    ).to_dict()
    mine = report[candidate.name]
    found: dict[str, dict[str, float | int]] = {}
    for metric in metrics:
        counts = mine["win_tie_loss"][baseline.name][metric]
        found[metric] = {
            "p": float(mine["comparisons"][baseline.name][metric]),
            "wins": int(counts["W"]),
            "ties": int(counts["T"]),
            "losses": int(counts["L"]),
        }
    return found
