"""What story assignment adds to indexing: one process indexes a sample without assigning
(encoding, store, vector and lexical index), then assigns every article, each phase timed
on the same machine in the same run; the ratio is what `newsrec index` pays for stories.

    python -m eval.bench.stories ../shared/data/wcep/wcep_current_events.jsonl.gz --limit 2000

The sample's `story` field is removed (an editorial story needs no clustering). Uses the
configured embedder (NEWSREC_EMBEDDER; MiniLM by default) and a temporary directory.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from recommender import Settings, load_articles
from recommender.stories.assigner import StoryAssigner
from recommender.system import build_story_assigner, open_index


def measure(corpus: Path, limit: int, base: Settings) -> dict[str, float]:
    articles = [replace(a, story=None) for a in load_articles([corpus]).articles[-limit:]]
    with tempfile.TemporaryDirectory(prefix="newsrec-bench-stories-") as directory:
        settings = base.model_copy(update={"index_dir": Path(directory), "tag_on_index": False})
        with open_index(settings, writable=True) as index:
            index.story_assigner = None
            started, cpu = time.perf_counter(), time.process_time()
            index.upsert(articles)
            indexed = (time.perf_counter() - started, time.process_time() - cpu)
            assigner = build_story_assigner(settings, index)
            started, cpu = time.perf_counter(), time.process_time()
            assigned = assigner.assign_pending()
            stories = (time.perf_counter() - started, time.process_time() - cpu)
            # The centroid guard's share: a rebuild with it and one without, same index.
            rebuilds = {}
            for label, floor in (
                ("guarded", assigner.clustering.centroid_floor),
                ("unguarded", -1.0),
            ):
                rebuild = StoryAssigner(
                    assigner.recommender, replace(assigner.clustering, centroid_floor=floor)
                )
                started, cpu = time.perf_counter(), time.process_time()
                rebuild.recluster(editorial=False)
                rebuilds[label] = (time.perf_counter() - started, time.process_time() - cpu)
    return {
        "articles": float(assigned),
        "index_seconds": indexed[0],
        "index_cpu_seconds": indexed[1],
        "assign_seconds": stories[0],
        "assign_cpu_seconds": stories[1],
        "ratio": stories[0] / indexed[0],
        "cpu_ratio": stories[1] / indexed[1],
        "recluster_guarded_cpu_seconds": rebuilds["guarded"][1],
        "recluster_unguarded_cpu_seconds": rebuilds["unguarded"][1],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--limit", type=int, default=2000, help="the corpus's last N articles")
    options = parser.parse_args(argv)
    found = measure(options.corpus, options.limit, Settings())
    print(
        f"{int(found['articles']):,} articles: indexing without stories "
        f"{found['index_seconds']:.1f} s ({found['index_cpu_seconds']:.1f} s CPU), assigning "
        f"them {found['assign_seconds']:.1f} s ({found['assign_cpu_seconds']:.1f} s CPU): "
        f"+{found['ratio']:.1%} wall, +{found['cpu_ratio']:.1%} CPU; recluster with the "
        f"centroid guard {found['recluster_guarded_cpu_seconds']:.2f} s CPU, without "
        f"{found['recluster_unguarded_cpu_seconds']:.2f} s"
    )


if __name__ == "__main__":
    main()
