"""Which blend of dense, lexical and time evidence ranks same-story articles best?

Runs the real `Recommender` over an existing index with several `Ranking` settings and
scores "same story" relevance with ranx on a sample of queries (every article whose story
has another member).

    python -m eval.studies.ranking_study INDEX_DIR CORPUS [--queries 2000] [--pool 200]
    python -m eval.studies.ranking_study INDEX_DIR CORPUS --variant 0.6,1,180,0.5,5 --variant ...

A variant is dense weight, time boost, decay days, feedback weight, feedback depth (the
last two optional: no feedback). `--long-weight W` sets the dense weight for long articles
(the default keeps the Ranking's).
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
# (dense weight, time boost, decay days, feedback weight, feedback depth): dense only,
# lexical only, blends, time boosts, pseudo-relevance feedback.
VARIANTS = [
    (1.0, 0.0, 180.0, 0.0, 5),
    (0.0, 0.0, 180.0, 0.0, 5),
    (0.5, 0.0, 180.0, 0.0, 5),
    (0.6, 0.0, 180.0, 0.0, 5),
    (0.5, 1.0, 90.0, 0.0, 5),
    (0.5, 1.0, 30.0, 0.0, 5),
    (0.5, 1.0, 365.0, 0.0, 5),
    (0.6, 1.0, 180.0, 0.0, 5),
    (0.4, 1.0, 90.0, 0.0, 5),
    (0.5, 2.0, 90.0, 0.0, 5),
    (0.6, 1.0, 180.0, 0.5, 5),
    (0.6, 1.0, 180.0, 1.0, 5),
    (0.6, 1.0, 180.0, 1.0, 10),
]


def _variant(text: str) -> tuple[float, float, float, float, int]:
    parts = [float(part) for part in text.split(",")]
    if len(parts) not in (3, 5):
        raise argparse.ArgumentTypeError("a variant is w,boost,days[,feedback,depth]")
    weight, boost, days = parts[:3]
    feedback, depth = (parts[3], int(parts[4])) if len(parts) == 5 else (0.0, 5)
    return weight, boost, days, feedback, depth


def main() -> None:
    parser = argparse.ArgumentParser(description="Ranking ablation on a story-labelled corpus")
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--pool", type=int, default=200)
    parser.add_argument("--variant", type=_variant, action="append", help="w,boost,days[,fb,m]")
    parser.add_argument("--long-weight", type=float, action="append", help="long-text dense w")
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
        f"{'dense w':>8}{'long w':>7}{'boost':>7}{'days':>7}{'fb':>6}{'fb m':>6}"
        + "".join(f"{m:>13}" for m in METRICS)
        + "  ms/query"
    )
    with open_index(settings, embedder=build_embedder(settings)) as index:
        variants = [
            (*variant, long_weight)
            for variant in arguments.variant or VARIANTS
            for long_weight in arguments.long_weight or [None]
        ]
        for weight, boost, days, feedback, depth, long_weight in variants:
            ranking = Ranking(
                dense_weight=weight,
                dense_weight_long=weight if long_weight is None else long_weight,
                time_boost=boost,
                time_decay_days=days,
                pool_depth=arguments.pool,
                feedback_weight=feedback,
                feedback_depth=depth,
            )
            started = time.perf_counter()
            lists = Recommender(index, ranking).related_many(queries, k=20)
            per_query = (time.perf_counter() - started) / len(queries) * 1000
            run = Run({q: {hit.id: hit.score for hit in hits} for q, hits in lists.items()})
            scores = evaluate(qrels, run, METRICS)
            row = "".join(f"{scores[m]:>13.4f}" for m in METRICS)
            print(
                f"{weight:>8.2f}{ranking.dense_weight_long:>7.2f}{boost:>7.1f}{days:>7.0f}"
                f"{feedback:>6.2f}{depth:>6d}"
                f"{row}{per_query:>10.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
