"""A relevance floor calibrated on the index itself: what "plausibly related" means here.

A raw cosine picked by eye means something else on every archive (short summaries score
higher than long articles, the dense side's share falls with length: see
`Ranking.dense_weight_for`). What is stable is the null: almost every pair of articles
drawn at random from a news archive is unrelated, so the blended scores of random pairs
are the scores of unrelated pairs. The floor is the score that fewer than 1 in `one_in` of
them reach: a related item is shown only when an unrelated article would outscore it that
rarely.

Random pairs are not all unrelated on a small archive of large stories, and at a rate of
1 in 100 even 1% of related pairs in the sample lifts the floor into the stories' own
scores. So each sampled query's own nearest neighbours (its `NEIGHBOUR_GUARD` best-scoring
articles, where its story would be) are left out of its null pairs. Measured on every
corpus (eval/studies/floor_study.py), the guarded floor withholds fewer relevant items for as many
withheld from one-off articles; on seeds/ at 1 in 100 it keeps nDCG@10 at 0.9870 where the
unguarded floor drops it to 0.42.

The null depends on the query's length (its dense weight, the spread of its TF-IDF
cosines), so it is estimated per length class of the query (distinct terms, the quantity
the blend depends on), each from a bounded sample of random pairs; a class with too few
pairs for its quantile falls back to all classes pooled. The floor is kept in the index
directory (`relevance-floor.json`) with the ranking and index size it was estimated for,
and estimated again when either changes (the size by more than `REFRESH_CHANGE`).

Pure numpy: the caller passes the scorer (`Recommender.pair_scores`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recommender.index.publish import write_json_atomically

FLOOR_FILE = "relevance-floor.json"
FLOOR_VERSION = 1
DEFAULT_ONE_IN = 1000
# Pairs scored per length class (queries x candidates each): bounded cost whatever the
# index size (1.4-3.5 s at 50k articles, guard included); at 1 in 1,000 it leaves ~30
# pairs above the floor to place it.
QUERIES_PER_CLASS = 80
CANDIDATES_PER_QUERY = 384
NEIGHBOUR_GUARD = 20
# A class needs this many times `one_in` pairs, from at least MIN_QUERIES queries (pairs
# of one query are alike), to estimate its own quantile.
MIN_EXCEEDANCES = 10
MIN_QUERIES = 20
# Recalibrate when the index has grown or shrunk by more than this share.
REFRESH_CHANGE = 0.1

PairScorer = Callable[[int, np.ndarray], np.ndarray]
# Each query's NEIGHBOUR_GUARD-th best score (+inf, no guard, when it has fewer
# neighbours): the queries' row ids (q,) in, their guards (q,) out, in one batch.
GuardScores = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class RelevanceFloor:
    """Floors per length class of the query. `bounds[i]` is the largest number of distinct
    terms of class i; the last class is open-ended (len(floors) == len(bounds) + 1)."""

    one_in: int
    bounds: tuple[int, ...]
    floors: tuple[float, ...]
    pairs: tuple[int, ...]  # pairs sampled per class (0: the class used the pooled floor)
    articles: int  # index size when estimated
    ranking: str  # repr of the Ranking it was estimated for

    def __post_init__(self) -> None:
        if len(self.floors) != len(self.bounds) + 1 or len(self.pairs) != len(self.floors):
            raise ValueError("a floor needs one value and one sample size per length class")

    def floor_for(self, distinct_terms: int) -> float:
        """The floor for a query with this many distinct terms."""
        return self.floors[length_class(np.asarray([distinct_terms]), self.bounds)[0]]

    def to_dict(self) -> dict[str, Any]:
        return {"version": FLOOR_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RelevanceFloor:
        return cls(
            int(raw["one_in"]),
            tuple(int(b) for b in raw["bounds"]),
            tuple(float(f) for f in raw["floors"]),
            tuple(int(p) for p in raw["pairs"]),
            int(raw["articles"]),
            str(raw["ranking"]),
        )

    def fits(self, one_in: int, articles: int, ranking: str) -> bool:
        """Whether this floor still holds for an index of `articles` ranked with `ranking`."""
        drift = abs(articles - self.articles) / max(self.articles, 1)
        return self.one_in == one_in and self.ranking == ranking and drift <= REFRESH_CHANGE


def length_bounds(short_text_terms: int, long_text_terms: int) -> tuple[int, ...]:
    """Class bounds: up to the short length (constant blend), two log-even steps to the long
    length, past it (constant blend again)."""
    middle = round(math.sqrt(short_text_terms * long_text_terms))
    return tuple(sorted({short_text_terms, middle, long_text_terms - 1}))


def length_class(distinct_terms: np.ndarray, bounds: tuple[int, ...]) -> np.ndarray:
    """The class of each count of distinct terms: (n,) int."""
    return np.searchsorted(np.asarray(bounds), distinct_terms, side="left")


def floors_from_null(
    null_scores: np.ndarray,
    classes: np.ndarray,
    class_count: int,
    one_in: int,
    queries: np.ndarray | None = None,
) -> tuple[tuple[float, ...], tuple[int, ...]]:
    """Per class, the score fewer than 1 in `one_in` of its null pairs exceed.

    null_scores: (m,) scores of (nearly all) unrelated pairs; classes: (m,) the length class
    of each pair's query; queries: (m,) which query each pair is of (None: all distinct). A
    class with fewer than MIN_EXCEEDANCES * one_in pairs or MIN_QUERIES queries takes the
    pooled quantile (and reports 0 pairs of its own).
    """
    if not len(null_scores):
        raise ValueError("no pairs to calibrate on")
    level = 1.0 - 1.0 / one_in
    pooled = float(np.quantile(null_scores, level, method="higher"))
    floors, pairs = [], []
    for kind in range(class_count):
        members = classes == kind
        mine = null_scores[members]
        asked = len(mine) if queries is None else len(np.unique(queries[members]))
        if len(mine) >= MIN_EXCEEDANCES * one_in and asked >= MIN_QUERIES:
            floors.append(float(np.quantile(mine, level, method="higher")))
            pairs.append(len(mine))
        else:
            floors.append(pooled)
            pairs.append(0)
    return tuple(floors), tuple(pairs)


def sampled_pairs(
    distinct_terms: np.ndarray,
    bounds: tuple[int, ...],
    random_state: int = 0,
    queries_per_class: int = QUERIES_PER_CLASS,
    candidates_per_query: int = CANDIDATES_PER_QUERY,
) -> list[tuple[int, np.ndarray]]:
    """Random (query position, candidate positions) over rows 0..n-1, at most
    `queries_per_class` queries of each length class, candidates drawn without the query.
    A small index is scored exhaustively."""
    rng = np.random.default_rng(random_state)
    n = len(distinct_terms)
    classes = length_class(distinct_terms, bounds)
    found = []
    for kind in range(len(bounds) + 1):
        members = np.flatnonzero(classes == kind)
        if len(members) > queries_per_class:
            members = rng.choice(members, queries_per_class, replace=False)
        for query in members:
            others = np.delete(np.arange(n), query)
            if len(others) > candidates_per_query:
                others = rng.choice(others, candidates_per_query, replace=False)
            found.append((int(query), others))
    return found


def calibrate(
    row_ids: np.ndarray,
    distinct_terms: np.ndarray,
    score_pairs: PairScorer,
    *,
    guard: GuardScores | None = None,
    one_in: int = DEFAULT_ONE_IN,
    bounds: tuple[int, ...],
    ranking: str,
    random_state: int = 0,
) -> RelevanceFloor:
    """Estimate the floor of an index from random pairs of its rows.

    row_ids, distinct_terms: (n,) every article's row id and distinct terms;
    `score_pairs(query_row_id, candidate_row_ids)` gives the ranking's blended scores;
    `guard(query_row_ids)` the queries' NEIGHBOUR_GUARD-th best scores (None: no guard).
    """
    if len(row_ids) < 2:
        raise ValueError("an index of fewer than 2 articles has no pairs to calibrate on")
    scores, classes, queries = null_sample(
        row_ids, distinct_terms, score_pairs, bounds, random_state, guard
    )
    if not len(scores):
        raise ValueError("every sampled pair is a near neighbour: the index is too small")
    floors, pairs = floors_from_null(scores, classes, len(bounds) + 1, one_in, queries)
    return RelevanceFloor(one_in, bounds, floors, pairs, len(row_ids), ranking)


def null_sample(
    row_ids: np.ndarray,
    distinct_terms: np.ndarray,
    score_pairs: PairScorer,
    bounds: tuple[int, ...],
    random_state: int = 0,
    guard: GuardScores | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The scores of random pairs (`sampled_pairs`) without those scoring at or above their
    query's guard, each pair's query length class and query position: three (m,) arrays."""
    pairs = sampled_pairs(distinct_terms, bounds, random_state)
    queried = row_ids[[query for query, _ in pairs]]
    guards = guard(queried) if guard is not None else np.full(len(pairs), np.inf)
    scores, classes, queries = [], [], []
    for (query, candidates), limit in zip(pairs, guards, strict=True):
        found = np.asarray(score_pairs(int(row_ids[query]), row_ids[candidates]))
        found = found[found < limit]
        scores.append(found)
        classes.append(np.full(len(found), length_class(distinct_terms[[query]], bounds)[0]))
        queries.append(np.full(len(found), query))
    return np.concatenate(scores), np.concatenate(classes), np.concatenate(queries)


def load_floor(index_dir: Path) -> RelevanceFloor | None:
    """The floor kept in the index directory; None when there is none or it is unreadable
    (it is estimated again: it is derived data, not a setting)."""
    try:
        raw = json.loads((index_dir / FLOOR_FILE).read_text(encoding="utf-8"))
        if raw.get("version") != FLOOR_VERSION:
            return None
        return RelevanceFloor.from_dict(raw)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def save_floor(index_dir: Path, floor: RelevanceFloor) -> None:
    write_json_atomically(index_dir / FLOOR_FILE, floor.to_dict())


__all__ = [
    "DEFAULT_ONE_IN",
    "FLOOR_FILE",
    "NEIGHBOUR_GUARD",
    "RelevanceFloor",
    "calibrate",
    "floors_from_null",
    "length_bounds",
    "length_class",
    "load_floor",
    "null_sample",
    "sampled_pairs",
    "save_floor",
]
