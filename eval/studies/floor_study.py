"""Does the calibrated relevance floor (recommender/ranking/relevance_floor.py) give one-off
articles fewer items without costing story articles theirs? Measured at several rates.

Two kinds of run:

- Assembled corpora (JSONL with `story`; articles without one are one-offs): every pair is
  scored with the ranking's blend as in `eval.studies.relevance_study` (MiniLM vectors cached in
  `--vectors-dir`), the floor is estimated from the same bounded random sample the product
  draws (`relevance_floor.sampled_pairs`), per length class and pooled, and applied to each
  query's top 10.
- An index (`--index DIR`, e.g. a copy of the WCEP index): the product end to end. The floor
  is estimated by `Recommender.relevance_floor` over the index, and `related_results` gives
  each query's list with the floor off and on; gold stories are read from the store's
  `story` column (articles without one are counted as "unlabelled", not as one-offs).

For each rate: nDCG@10 off -> on (paired t-test), the share of relevant items of the top 10
withheld, and the items shown of 10 for one-offs (or unlabelled) and for story articles.

    python -m eval.studies.floor_study /tmp/corpora/seeds-wikinews.jsonl \
        /tmp/corpora/wcep-pairs.jsonl /tmp/corpora/wcep-digests.jsonl seeds/articles.jsonl \
        --vectors-dir /tmp/floor/vec
    python -m eval.studies.floor_study --index /tmp/floor/wcep-idx --queries 500
"""

from __future__ import annotations

import argparse
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import ttest_rel

from eval.quality.assembled_corpora import read_jsonl
from eval.studies.relevance_study import ScoredCorpus, article_text, scored_corpus
from recommender import Settings
from recommender.index.lexical import term_vectors
from recommender.ranking.query import RelatedFilters
from recommender.ranking.recommender import Recommender
from recommender.ranking.relevance_floor import (
    FLOOR_FILE,
    NEIGHBOUR_GUARD,
    calibrate,
    floors_from_null,
    length_bounds,
    length_class,
    null_sample,
)
from recommender.ranking.scoring import Ranking
from recommender.ranking.slots import SLOT_RELEVANCE_FLOOR
from recommender.system import build_ranking, open_index

RATES = (30, 100, 1000, 10000)
K = 10
GUARD = NEIGHBOUR_GUARD
SAMPLES = 5
_DISCOUNTS = 1.0 / np.log2(np.arange(2, K + 2))


@dataclass
class FloorOutcome:
    """One rate's effect on one corpus."""

    ndcg_off: np.ndarray  # (queries,)
    ndcg_on: np.ndarray
    relevant_shown_off: int
    relevant_withheld: int
    shown_one_offs: list[int]
    shown_stories: list[int]

    def line(self, label: str, other: str = "one-offs") -> str:
        test = ttest_rel(self.ndcg_on, self.ndcg_off)
        withheld = self.relevant_withheld / max(self.relevant_shown_off, 1)
        pvalue = test.pvalue if np.isfinite(test.pvalue) else 1.0
        return (
            f"  {label:28s} nDCG@10 {self.ndcg_off.mean():.4f} -> {self.ndcg_on.mean():.4f}"
            f" (p={pvalue:.2g}); relevant withheld {withheld:.1%};"
            f" shown of {K}: {other} {np.mean(self.shown_one_offs or [0]):.2f},"
            f" story articles {np.mean(self.shown_stories):.2f}"
        )


def _ndcg(gains: list[bool], relevant: int) -> float:
    ideal = _DISCOUNTS[: min(relevant, K)].sum()
    return float(np.asarray(gains, float) @ _DISCOUNTS[: len(gains)]) / ideal if gains else 0.0


def corpus_outcome(corpus: ScoredCorpus, query_floors: np.ndarray) -> FloorOutcome:
    """The floor (one per query row: (n,)) applied to each query's top 10 of the blend."""
    off, on, shown_stories = [], [], []
    relevant_shown = withheld = 0
    for query in corpus.queries:
        row = corpus.scores[query]
        top = np.argpartition(-row, K)[:K]
        top = top[np.argsort(-row[top], kind="stable")]
        gains = [int(position) in corpus.relevant[query] for position in top]
        kept = row[top] >= query_floors[query]
        off.append(_ndcg(gains, len(corpus.relevant[query])))
        on.append(
            _ndcg(
                [g for g, keep in zip(gains, kept, strict=True) if keep],
                len(corpus.relevant[query]),
            )
        )
        relevant_shown += sum(gains)
        withheld += sum(g and not keep for g, keep in zip(gains, kept, strict=True))
        shown_stories.append(int(kept.sum()))
    shown_one_offs = []
    for query in corpus.one_offs:
        row = corpus.scores[query]
        top = np.partition(-row, K)[:K]
        shown_one_offs.append(int((-top >= query_floors[query]).sum()))
    return FloorOutcome(
        np.asarray(off), np.asarray(on), relevant_shown, withheld, shown_one_offs, shown_stories
    )


def study_corpus(
    path: Path, vectors_dir: Path, ranking: Ranking, settings: Settings
) -> Iterator[str]:
    corpus = scored_corpus(path, vectors_dir, ranking, settings)
    rows = list(read_jsonl(path))
    terms = np.diff(term_vectors([article_text(row) for row in rows]).indptr)
    bounds = length_bounds(ranking.short_text_terms, ranking.long_text_terms)
    classes = length_class(terms, bounds)
    # The product's sample (relevance_floor.null_sample) over the exhaustive scores.
    null, null_classes, null_queries = null_sample(
        np.arange(len(rows)), terms, lambda row, others: corpus.scores[row, others], bounds
    )
    # Variant: leave each query's GUARD best-scoring articles out of its null pairs (on a
    # small archive of large stories, random pairs are often related).
    kth = -np.partition(-corpus.scores, GUARD - 1, axis=1)[:, GUARD - 1]
    unguarded = null < kth[null_queries]
    counts = np.bincount(classes, minlength=len(bounds) + 1)
    yield (
        f"{corpus.name}: {len(corpus.queries)} story queries, {len(corpus.one_offs)} one-offs;"
        f" articles per length class {counts.tolist()} (bounds {bounds}); {len(null)} pairs,"
        f" {len(null) - int(unguarded.sum())} of them among their query's top {GUARD}"
    )
    yield "  " + _slot_floor_rates(null, null_classes, len(bounds) + 1)
    for one_in in RATES:
        floors, own = floors_from_null(null, null_classes, len(bounds) + 1, one_in, null_queries)
        guarded, _ = floors_from_null(
            null[unguarded],
            null_classes[unguarded],
            len(bounds) + 1,
            one_in,
            null_queries[unguarded],
        )
        pooled = np.full(len(rows), np.quantile(null, 1 - 1 / one_in, method="higher"))
        yield f"  1 in {one_in}: floors per class {_floors(floors, own)} (*: pooled)"
        yield corpus_outcome(corpus, np.asarray(floors)[classes]).line("per class, no guard")
        yield corpus_outcome(corpus, pooled).line("one floor, no guard")
        yield corpus_outcome(corpus, np.asarray(guarded)[classes]).line(
            f"per class, top {GUARD} guarded"
        )


def _floors(floors: tuple[float, ...], own: tuple[int, ...]) -> str:
    return ", ".join(f"{f:.3f}" + ("" if n else "*") for f, n in zip(floors, own, strict=True))


def _slot_floor_rates(null: np.ndarray, classes: np.ndarray, class_count: int) -> str:
    """What the slots' fixed floor is as a rate: 1 in how many random pairs clear it."""
    rates = []
    for kind in range(class_count):
        mine = null[classes == kind]
        above = int((mine >= SLOT_RELEVANCE_FLOOR).sum())
        rates.append(f"1 in {len(mine) / above:,.0f}" if above else f"0 of {len(mine)}")
    return f"slot floor {SLOT_RELEVANCE_FLOOR} per class: " + ", ".join(rates)


def study_index(settings: Settings, queries: int, random_state: int = 0) -> Iterator[str]:
    """The product end to end on the settings' index (a copy: opening migrates it)."""
    index_dir = settings.index_dir
    with sqlite3.connect(index_dir / "newsrec-store.sqlite") as db:
        gold = dict(db.execute("SELECT id, story FROM articles").fetchall())
    members: dict[str, set[str]] = {}
    for article_id, story in gold.items():
        if story:
            members.setdefault(story, set()).add(article_id)
    rng = np.random.default_rng(random_state)
    storied = sorted(a for a, s in gold.items() if s and len(members[s]) > 1)
    unlabelled = sorted(a for a, s in gold.items() if not s)
    picked_stories = list(rng.choice(storied, min(queries, len(storied)), replace=False))
    picked_others = list(rng.choice(unlabelled, min(queries, len(unlabelled)), replace=False))
    yield f"{index_dir}: {len(storied)} story articles, {len(unlabelled)} unlabelled"
    with open_index(settings, writable=True) as index:
        ranking = build_ranking(settings, index_dir)
        recommender = Recommender(index, ranking, list_depth=0)
        row_ids = index.row_ids
        terms = np.asarray([index.terms_of(int(row)).nnz for row in row_ids])
        bounds = length_bounds(ranking.short_text_terms, ranking.long_text_terms)
        counts = np.bincount(length_class(terms, bounds), minlength=len(bounds) + 1)
        yield f"  articles per length class {counts.tolist()} (bounds {bounds})"
        null, null_classes, _ = null_sample(row_ids, terms, recommender.pair_scores, bounds)
        yield "  " + _slot_floor_rates(null, null_classes, len(bounds) + 1)
        for one_in in (100, 1000):
            # How much the estimate moves with the sample drawn.
            estimates = np.asarray(
                [
                    calibrate(
                        row_ids,
                        terms,
                        recommender.pair_scores,
                        guard=recommender.neighbour_guard,
                        one_in=one_in,
                        bounds=bounds,
                        ranking="",
                        random_state=seed,
                    ).floors
                    for seed in range(SAMPLES)
                ]
            )
            spread = ", ".join(
                f"{m:.3f} +- {sd:.3f}"
                for m, sd in zip(estimates.mean(0), estimates.std(0), strict=True)
            )
            yield f"  1 in {one_in}, {SAMPLES} samples: floors per class {spread}"
        for one_in in RATES:
            (index_dir / FLOOR_FILE).unlink(missing_ok=True)
            recommender = Recommender(index, ranking, list_depth=0, floor_one_in=one_in)
            started = time.perf_counter()
            floor = recommender.relevance_floor()
            took = time.perf_counter() - started
            yield (
                f"  1 in {one_in}: floors per class {_floors(floor.floors, floor.pairs)}"
                f" (*: pooled); estimated in {took:.1f} s"
            )
            outcome = _index_outcome(recommender, picked_stories, picked_others, gold, members)
            yield outcome.line(f"per class, top {GUARD} guarded", "unlabelled")


def _index_outcome(
    recommender: Recommender,
    stories: list[str],
    others: list[str],
    gold: dict[str, str | None],
    members: dict[str, set[str]],
) -> FloorOutcome:
    off_lists = recommender.related_results(
        stories + others, K, RelatedFilters(calibrated_floor=False)
    )
    on_lists = recommender.related_results(
        stories + others, K, RelatedFilters(calibrated_floor=True)
    )
    off, on, shown_stories = [], [], []
    relevant_shown = withheld = 0
    for article_id in stories:
        relevant = members[str(gold[article_id])] - {article_id}
        gains_off = [item.id in relevant for item in off_lists[article_id].items]
        gains_on = [item.id in relevant for item in on_lists[article_id].items]
        off.append(_ndcg(gains_off, len(relevant)))
        on.append(_ndcg(gains_on, len(relevant)))
        relevant_shown += sum(gains_off)
        withheld += sum(gains_off) - sum(gains_on)
        shown_stories.append(len(on_lists[article_id].items))
    shown_others = [len(on_lists[article_id].items) for article_id in others]
    return FloorOutcome(
        np.asarray(off), np.asarray(on), relevant_shown, withheld, shown_others, shown_stories
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="The calibrated relevance floor, measured")
    parser.add_argument("corpora", type=Path, nargs="*")
    parser.add_argument("--vectors-dir", type=Path, default=Path("/tmp/newsrec-relevance-study"))
    parser.add_argument(
        "--index", type=Path, help="an index directory (a copy: it is opened writable)"
    )
    parser.add_argument("--queries", type=int, default=500)
    arguments = parser.parse_args()
    ranking, settings = Ranking(), Settings()
    for path in arguments.corpora:
        for line in study_corpus(path, arguments.vectors_dir, ranking, settings):
            print(line, flush=True)
    if arguments.index is not None:
        on_index = settings.model_copy(update={"index_dir": arguments.index})
        for line in study_index(on_index, arguments.queries):
            print(line, flush=True)


if __name__ == "__main__":
    main()
