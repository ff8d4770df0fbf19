"""The slot strategies (or the related fallback's floor rules) compared on one corpus, over
its clustered stories and its gold ones: `python -m eval.quality.slot_comparison CORPUS`.

Kept apart from `eval.quality.slots`, which `eval.quality.stories_eval` builds on: this
comparison builds on both.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from eval.quality.slot_floors import floor_rates
from eval.quality.slots import strategy_rates
from eval.quality.story_index import candidate_neighbours, date_order, writable_copy
from eval.quality.story_scores import UNLABELLED, gold_story_id
from recommender import Settings, load_articles
from recommender.stories.clustering import cluster_stream
from recommender.system import build_story_assigner


def compare_on_corpus(
    corpus: Path,
    *,
    index_dir: Path | None,
    queries: int | None,
    settings: Settings,
    floors: bool = False,
    rules: Sequence[str] = (),
) -> dict[str, dict[str, dict[str, float]]]:
    """The slot strategies over `corpus` clustered at the configured thresholds, and over
    its gold stories: `newsrec eval stories` without the sweep and the baselines (all of
    WCEP in minutes rather than hours). `floors`: instead, the default strategy under each
    rule of the related fallback's floor (`FLOOR_RULES`; `rules`: those whose label holds one
    of these, beside the default), over the clustered stories."""
    articles = load_articles([corpus]).articles
    gold_of = {a.id: a.story for a in articles}
    found = {}
    with writable_copy(articles, settings, index_dir, lambda *_: None) as index:
        assigner = build_story_assigner(settings, index)
        recommender, configured = assigner.recommender, assigner.clustering
        rows = date_order(index)
        names = {row: s.id for row, s in index.summaries_by_row_id(rows).items()}
        neighbours = candidate_neighbours(assigner, rows, names, lambda *_: None)
        gold = {row: gold_story_id(gold_of[names[row]] or UNLABELLED, names[row]) for row in rows}
        clustered = cluster_stream(rows, names, neighbours, configured, index.vectors_of)
        for label, stories in (("clustered", clustered), ("gold", gold))[: 1 if floors else 2]:
            index.clear_stories(editorial=True)
            index.write_stories(stories, {}, [])
            if floors:
                found[label] = floor_rates(recommender, articles, queries, only=rules)
            else:
                found[label] = strategy_rates(recommender, articles, queries)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    from eval.quality.stories_report import strategies_table

    parser = argparse.ArgumentParser(
        prog="python -m eval.quality.slot_comparison", description=compare_on_corpus.__doc__
    )
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--index-dir", type=Path, help="copy this index of CORPUS (never written)")
    parser.add_argument("--queries", type=int, help="a seeded sample of queries")
    parser.add_argument(
        "--floors", action="store_true", help="compare the related fallback's floor rules"
    )
    parser.add_argument(
        "--rules",
        default="",
        help="with --floors: only the rules whose label holds one of these (comma-separated)",
    )
    options = parser.parse_args(argv)
    found = compare_on_corpus(
        options.corpus,
        index_dir=options.index_dir,
        queries=options.queries,
        settings=Settings(),
        floors=options.floors,
        rules=[part for part in options.rules.split(",") if part],
    )
    for label, rates in found.items():
        what = "floor rules of the default strategy" if options.floors else "strategies"
        print(f"{options.corpus}: slot {what} over the {label} stories")
        print("\n".join(strategies_table(rates)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
