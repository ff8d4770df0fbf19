"""Which picks a list shows: those reaching the request's `min_score` and, when on, the
index's calibrated relevance floor (relevance_floor.py), kept estimated for this ranking."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import numpy as np

from recommender.ranking.candidates import CandidateRanker
from recommender.ranking.query import Query, RelatedFilters, row_query
from recommender.ranking.relevance_floor import (
    NEIGHBOUR_GUARD,
    RelevanceFloor,
    calibrate,
    length_bounds,
    load_floor,
    save_floor,
)


class FloorGate(CandidateRanker):
    """Applies the floors to picked lists; `calibrated_floor`, `floor_one_in` and the floor
    kept in memory are set by `Recommender`."""

    calibrated_floor: bool
    floor_one_in: int
    _floor: RelevanceFloor | None
    _floor_lock: threading.Lock

    def relevance_floor(self) -> RelevanceFloor:
        """The index's calibrated floor: the one kept in the index directory while it fits
        this ranking and index size, else estimated again (seconds) and kept."""
        ranking, articles = self.scoring, len(self.index)
        floor = self._floor
        if floor is not None and self._floor_current():
            return floor
        # One estimate at a time: concurrent requests wait for it rather than repeat it.
        with self._floor_lock:
            floor = self._floor
            if floor is None or not floor.fits(self.floor_one_in, articles, ranking):
                floor = load_floor(self.index.directory)
            if floor is None or not floor.fits(self.floor_one_in, articles, ranking):
                floor = self._estimated_floor(ranking)
            self._floor = floor
        return floor

    def _estimated_floor(self, ranking: str) -> RelevanceFloor:
        row_ids = self.index.row_ids
        terms = np.diff(self.index.term_rows(row_ids).indptr)
        floor = calibrate(
            row_ids,
            terms,
            self.pair_scores,
            guard=self.neighbour_guard,
            one_in=self.floor_one_in,
            bounds=length_bounds(self.ranking.short_text_terms, self.ranking.long_text_terms),
            ranking=ranking,
        )
        if self.index.writable:  # a read-only reader keeps its estimate in memory
            save_floor(self.index.directory, floor)
        return floor

    def pair_scores(self, row_id: int, candidates: np.ndarray) -> np.ndarray:
        """The ranking's scores of stored articles against a stored article: (m,)."""
        return self._fused(row_query(self.index, row_id), np.asarray(candidates, dtype=np.int64))

    def neighbour_guard(self, row_ids: np.ndarray) -> np.ndarray:
        """Stored articles' NEIGHBOUR_GUARD-th best blended score (as `pair_scores`) over
        their dense and lexical candidates: their story would score above. +inf (no guard)
        with fewer: on so small an index the guard would leave no pair at all.
        One batched dense search: (q,) row ids in, (q,) scores out."""
        depth = NEIGHBOUR_GUARD + 1  # the article itself comes first
        dense = self.index.dense_search(self.index.vectors_of(row_ids), depth)[1]
        found = np.full(len(row_ids), math.inf)
        for position, row_id in enumerate(row_ids):
            query = row_query(self.index, int(row_id))
            candidates = dense[position][dense[position] >= 0]
            if min(self.ranking.dense_weight, self.ranking.dense_weight_long) < 1.0:
                lexical = self.index.lexical_search(query.terms, NEIGHBOUR_GUARD)[0]
                candidates = np.union1d(candidates, lexical)
            candidates = np.unique(candidates[candidates != row_id])
            if len(candidates) >= NEIGHBOUR_GUARD:
                blended = self._fused(query, candidates)
                found[position] = np.sort(blended)[-NEIGHBOUR_GUARD]
        return found

    def _floor_on(self, filters: RelatedFilters) -> bool:
        asked = filters.calibrated_floor
        return self.calibrated_floor if asked is None else asked

    def _floor_current(self) -> bool:
        """Whether the floor in memory holds for the index as it is (no file read)."""
        floor = self._floor
        return floor is not None and floor.fits(self.floor_one_in, len(self.index), self.scoring)

    def _query_of(self, article_id: str) -> Callable[[], Query]:
        return lambda: row_query(self.index, self.index.row_id(article_id))

    def _floored(
        self, query: Callable[[], Query], picked: list[tuple[int, float]], filters: RelatedFilters
    ) -> list[tuple[int, float]]:
        """The picks (best first) that reach `min_score` (their shown score) and, when on,
        the calibrated floor. Applied when a list is read, so stored lists and the live
        ranking agree whatever the floors are.

        The calibrated floor is compared with the pair's blended score, without the
        shared-neighbour bonus of the list's own ranking: the floor was estimated on
        blended scores of random pairs (`pair_scores`), which get no bonus. `query` is
        built only then."""
        kept = [hit for hit in picked if filters.min_score is None or hit[1] >= filters.min_score]
        if not self._floor_on(filters) or not kept or len(self.index) < 2:
            return kept
        scoring = query()
        floor = self.relevance_floor().floor_for(scoring.terms.nnz)
        blended = self._fused(scoring, np.asarray([row_id for row_id, _ in kept], dtype=np.int64))
        return [hit for hit, score in zip(kept, blended, strict=True) if score >= floor]
