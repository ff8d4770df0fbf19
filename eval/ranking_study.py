"""Which blend of dense, lexical and time evidence ranks same-story articles best?

Runs the real `Recommender` over an existing index with several `Ranking` settings and
scores "same story" relevance with ranx on a sample of queries (every article whose story
has another member).

    python -m eval.ranking_study INDEX_DIR CORPUS [--queries 2000] [--pool 200]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from ranx import Qrels, Run, evaluate

from recommender import Ranking, Recommender, Settings, build_embedder, load_articles, open_index

METRICS = ["ndcg@10", "mrr", "precision@5", "recall@10"]
# (dense weight, time boost, decay days): dense only, lexical only, blends, time boosts.
VARIANTS = [
    (1.0, 0.0, 180.0),
    (0.0, 0.0, 180.0),
    (0.5, 0.0, 180.0),
    (0.6, 0.0, 180.0),
    (0.5, 1.0, 90.0),
    (0.5, 1.0, 30.0),
    (0.5, 1.0, 365.0),
    (0.6, 1.0, 180.0),
    (0.4, 1.0, 90.0),
    (0.5, 2.0, 90.0),
]


def main() -> None:
    parser = argparse.ArgumentParser(description="Ranking ablation on a story-labelled corpus")
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--pool", type=int, default=200)
    arguments = parser.parse_args()

    articles = load_articles([arguments.corpus]).articles
    members: dict[str, list[str]] = defaultdict(list)
    for article in articles:
        if article.story:
            members[article.story].append(article.id)
    story = {article.id: article.story for article in articles}
    queries = [a.id for a in articles if a.story and len(members[a.story]) >= 2]
    if len(queries) > arguments.queries:
        rng = np.random.default_rng(0)
        queries = [str(q) for q in rng.choice(queries, arguments.queries, replace=False)]
    qrels = Qrels(
        {q: {other: 1 for other in members[str(story[q])] if other != q} for q in queries}
    )
    settings = Settings(index_dir=arguments.index_dir)
    print(f"{len(queries)} queries; pool {arguments.pool}")
    print(
        f"{'dense w':>8}{'boost':>7}{'days':>7}"
        + "".join(f"{m:>13}" for m in METRICS)
        + "  ms/query"
    )
    with open_index(settings, embedder=build_embedder(settings)) as index:
        for weight, boost, days in VARIANTS:
            ranking = Ranking(
                dense_weight=weight,
                time_boost=boost,
                time_decay_days=days,
                pool_depth=arguments.pool,
            )
            started = time.perf_counter()
            lists = Recommender(index, ranking).related_many(queries, k=20)
            per_query = (time.perf_counter() - started) / len(queries) * 1000
            run = Run({q: {hit.id: hit.score for hit in hits} for q, hits in lists.items()})
            scores = evaluate(qrels, run, METRICS)
            row = "".join(f"{scores[m]:>13.4f}" for m in METRICS)
            print(f"{weight:>8.1f}{boost:>7.1f}{days:>7.0f}{row}{per_query:>10.1f}", flush=True)


if __name__ == "__main__":
    main()
