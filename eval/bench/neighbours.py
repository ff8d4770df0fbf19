"""What the shared-neighbour bonus costs a related list: ranked with it and without, same run.

Opens an existing index read-only in spirit (nothing is stored: lists are ranked, not put)
and ranks the lists of a seeded sample of its articles with `neighbour_weight` 0 and the
default, alternating rounds so machine load falls on both alike. Prints milliseconds per
list for each and the ratio.

    python -m eval.bench.neighbours INDEX_DIR [--sample 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from recommender import Settings
from recommender.index.article_index import ArticleIndex
from recommender.system import build_recommender, open_index


def _milliseconds_per_list(index: ArticleIndex, settings: Settings, ids: list[str]) -> float:
    recommender = build_recommender(settings, index)
    started = time.perf_counter()
    recommender.ranked_lists(ids)
    return (time.perf_counter() - started) * 1000.0 / len(ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    settings = Settings(index_dir=arguments.index_dir)
    off = settings.model_copy(update={"neighbour_weight": 0.0})
    index = open_index(settings)
    try:
        ids = list(index.ids())
        ids = random.Random(0).sample(ids, min(arguments.sample, len(ids)))
        _milliseconds_per_list(index, settings, ids[:20])  # warm the caches of both
        timings: dict[str, list[float]] = {"without": [], "with": []}
        for _ in range(arguments.rounds):
            timings["without"].append(_milliseconds_per_list(index, off, ids))
            timings["with"].append(_milliseconds_per_list(index, settings, ids))
    finally:
        index.close()
    without, with_bonus = min(timings["without"]), min(timings["with"])
    print(f"{len(ids)} lists of {arguments.index_dir}, best of {arguments.rounds} rounds:")
    print(f"  without the neighbour bonus  {without:7.2f} ms per list")
    print(f"  with it (the default)        {with_bonus:7.2f} ms per list")
    print(f"  ratio {with_bonus / without:.2f}x")


if __name__ == "__main__":
    main()
