"""Does the shared-neighbour bonus make a one-off article's list look more related than it is?

A one-off (an article with no story in the corpus) has nothing relevant to show; what can
get worse is how much of its list clears the calibrated relevance floor, i.e. how much
filler a page would show. For every article without a `story` in CORPUS (and, beside them,
every article with one), this counts the items of its top k that clear the floor
(`NEWSREC_RELEVANCE_FLOOR=calibrated`) with the bonus off and on, over an index of CORPUS,
and how many of a story article's shown items are of its story.

    python -m eval.studies.neighbours_one_offs CORPUS.jsonl INDEX_DIR [--k 10]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from eval.quality.assembled_corpora import read_jsonl
from recommender import Settings
from recommender.system import build_recommender, open_index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("--k", type=int, default=10)
    arguments = parser.parse_args()
    rows = list(read_jsonl(arguments.corpus))
    story_of = {str(row["id"]): row.get("story") for row in rows}
    one_offs = [i for i, story in story_of.items() if not story]
    with_story = [i for i, story in story_of.items() if story]
    settings = Settings(index_dir=arguments.index_dir, relevance_floor="calibrated")
    with open_index(settings) as index:
        for label, weight in (
            ("bonus off", 0.0),
            ("bonus on (default)", settings.neighbour_weight),
        ):
            recommender = build_recommender(
                settings.model_copy(update={"neighbour_weight": weight}), index
            )
            shown = recommender.related_many(one_offs, arguments.k)
            story_lists = recommender.related_many(with_story, arguments.k)
            same_story = [
                np.mean([story_of[item.id] == story_of[i] for item in items]) if items else np.nan
                for i, items in story_lists.items()
            ]
            shown_one_off = np.mean([len(items) for items in shown.values()])
            print(
                f"{label:20s} one-offs ({len(one_offs)}): {shown_one_off:.2f}"
                f" of {arguments.k} shown; story articles ({len(with_story)}):"
                f" {np.mean([len(v) for v in story_lists.values()]):.2f} shown,"
                f" {np.nanmean(same_story):.3f} of them of the story"
            )


if __name__ == "__main__":
    main()
