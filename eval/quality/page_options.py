"""What the related list's page options cost and buy (`newsrec eval related`).

`max_per_story` and `diversity` (recommender/stories/page_lists.py) trade same-story articles for
other stories: each is run over the default system's index for every query and judged as
the plain list is, nDCG@k against the same-story judgements and intra-list diversity
(1 - mean pairwise cosine of the top k), beside the plain list (neither option).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from eval.quality.datasets import LabelledCorpus
from eval.quality.metrics import accuracy, intra_list_diversity, to_qrels, to_run
from recommender import Recommender
from recommender.stories.page_lists import related_for_page

# The options measured: a sidebar that keeps two of a story, and a light MMR.
PAGE_OPTIONS: dict[str, dict[str, Any]] = {
    "plain": {},
    "max_per_story=2": {"max_per_story": 2},
    "max_per_story=1": {"max_per_story": 1},
    "diversity=0.3": {"diversity": 0.3},
}
_CHUNK = 64


def page_option_costs(
    recommender: Recommender,
    corpus: LabelledCorpus,
    k: int,
    vector_of: Callable[[Sequence[str]], np.ndarray],
) -> dict[str, dict[str, float]]:
    """{option: {ndcg@k, diversity, ndcg_change, diversity_change}}; changes against plain."""
    metric = f"ndcg@{k}"
    queries = [q for q in corpus.queries if corpus.qrels.get(q)]
    qrels = to_qrels({q: corpus.qrels[q] for q in queries})
    found: dict[str, dict[str, float]] = {}
    for name, options in PAGE_OPTIONS.items():
        lists: dict[str, list[tuple[str, float]]] = {}
        for start in range(0, len(queries), _CHUNK):
            chunk = queries[start : start + _CHUNK]
            for query, items in related_for_page(recommender, chunk, k, **options).items():
                # Scored by rank: a diversified list is not in score order, and ranx sorts.
                lists[query] = [(item.id, float(k - i)) for i, item in enumerate(items)]
        found[name] = {
            metric: accuracy(qrels, to_run(lists, queries, name), [metric])[metric],
            "diversity": intra_list_diversity(lists, vector_of, k),
        }
    plain = found["plain"]
    for figures in found.values():
        figures["ndcg_change"] = figures[metric] - plain[metric]
        figures["diversity_change"] = figures["diversity"] - plain["diversity"]
    return found
