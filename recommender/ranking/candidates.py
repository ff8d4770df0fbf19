"""The candidates of a query and their scores: the pool (dense and lexical candidates, each
scored exactly on both sides, the best of them given the shared-neighbour bonus), the dense
stream beyond it, the date and topic filters as a row selection, and the pick of a list.

A list never holds the query article, a near-duplicate of it, or two near-duplicates of each
other (the better ranked copy stands for both). Date filters become a FAISS id selector,
and the dense stream continues past the candidate pool when needed, so a list is short of k
only when the index has no more eligible articles.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator

import numpy as np
import scipy.sparse as sparse

from recommender.dates import SECONDS_PER_DAY, parse_bound
from recommender.errors import InvalidInputError
from recommender.index.article_index import ArticleIndex
from recommender.index.fingerprint import estimated_similarity
from recommender.index.vectors.faiss_index import in_bitmap
from recommender.index.vectors.protocol import PayloadConditions, RowSelection
from recommender.ranking.feedback import expanded_query
from recommender.ranking.neighbourhood import pairwise_scores, shared_neighbour_bonus
from recommender.ranking.query import Query, RelatedFilters
from recommender.ranking.scoring import Ranking

FIRST_DEPTH_MARGIN = 16


class CandidateRanker:
    """Ranks a query's candidates over `index` with `ranking`; the base the recommender's
    slots and relevance floor build on (see `Recommender`, which sets both)."""

    index: ArticleIndex
    ranking: Ranking

    @functools.cached_property
    def scoring(self) -> str:
        """What scores are computed with: the ranking, and the index's lexical cut-off when
        it has one (none adds nothing, so what was kept before the setting still holds)."""
        max_df = self.index.lexical_max_df
        return repr(self.ranking) + (f" lexical_max_df={max_df}" if max_df < 1.0 else "")

    def _pick(self, query: Query, k: int, filters: RelatedFilters) -> list[tuple[int, float]]:
        """The first k acceptable candidates in pick order: the pool's, then (only when the
        pool runs out) the dense stream's past it. See `results.best_first`."""
        allowed = self._allowed(query, filters)
        excluded = self._row_ids_of(filters.exclude_ids)
        pool = self._pool(query, allowed, max(self.ranking.pool_depth, 4 * k))
        picked: list[tuple[int, float]] = []
        for hit in itertools.chain(pool, self._beyond(query, allowed, pool)):
            if hit[0] in excluded or self._copies_a_pick(query, hit[0]):
                continue
            picked.append(self._choose(query, hit))
            if len(picked) == k:
                break
        return picked

    def _pool(
        self, query: Query, allowed: RowSelection | None, depth: int
    ) -> list[tuple[int, float]]:
        """Dense and lexical candidates, scored exactly on both sides, best first.

        Leaves out the query, its near-duplicates and rows outside `allowed`.
        """
        if allowed is None and depth in query.pools:
            return query.pools[depth]
        if allowed is None and query.first_block is not None:
            dense_ids = query.first_block[1][query.first_block[1] >= 0]
        else:
            dense_ids = self.index.dense_search(query.vector[None, :], depth, allowed)[1][0]
            dense_ids = dense_ids[dense_ids >= 0]
        candidates = dense_ids
        if min(self.ranking.dense_weight, self.ranking.dense_weight_long) < 1.0:
            lexical_ids = self.index.lexical_search(query.terms, depth)[0]
            if allowed is not None:
                lexical_ids = lexical_ids[in_bitmap(allowed.bitmap, lexical_ids)]
            candidates = np.union1d(dense_ids, lexical_ids)
        if query.row_id is not None:
            candidates = candidates[candidates != query.row_id]
        if not len(candidates):
            return []
        copies = self.index.near_duplicates(query.fingerprint, candidates)
        candidates = candidates[~copies]
        scores = self._fused(query, candidates)
        if self.ranking.feedback_weight > 0.0 and query.scoring is None:
            top = candidates[np.argsort(-scores, kind="stable")[: self.ranking.feedback_depth]]
            query.scoring = expanded_query(
                query.vector,
                query.terms,
                self.index.vectors_of(top),
                [self.index.terms_of(int(row_id)) for row_id in top],
                self.ranking.feedback_weight,
            )
            scores = self._fused(query, candidates)
        if self.ranking.neighbour_weight > 0.0:
            scores = self._with_neighbour_bonus(query, candidates, scores)
        order = np.argsort(-scores, kind="stable")
        found = [(int(candidates[i]), float(scores[i])) for i in order]
        if allowed is None:
            query.pools[depth] = found
        return found

    def _with_neighbour_bonus(
        self, query: Query, candidates: np.ndarray, scores: np.ndarray
    ) -> np.ndarray:
        """Pool scores plus the shared-neighbour bonus of the best `neighbour_pool` (ranked
        uncapped: near-copies of one story would otherwise tie at 1; shown capped, see
        `results._related`)."""
        ranking = self.ranking
        # Ties by row id, not by the engine's candidate order: FAISS and Qdrant return equal
        # scores in different orders, and the sets must not depend on it.
        best = np.lexsort((candidates, -scores))[: ranking.neighbour_pool]
        rows = candidates[best]
        vectors = np.vstack([query.vector[None, :], self.index.vectors_of(rows)])
        if query.row_id is not None:  # a stored article's terms are its stored row: one read
            terms = self.index.term_rows(np.concatenate([[query.row_id], rows]))
        else:
            terms = sparse.vstack([query.terms, self.index.term_rows(rows)], format="csr")
        local = pairwise_scores(vectors, terms, ranking.dense_weight_for)
        bonus = shared_neighbour_bonus(local, ranking.neighbour_count)
        found = scores.astype(np.float64, copy=True)
        found[best] += ranking.neighbour_weight * bonus
        return found

    def _beyond(
        self, query: Query, allowed: RowSelection | None, pool: list[tuple[int, float]]
    ) -> Iterator[tuple[int, float]]:
        """The dense stream past the pool, so a list reaches k whenever the index can."""
        seen = {row_id for row_id, _ in pool}
        for row_id, _ in self._acceptable(query, allowed):
            if row_id not in seen:
                yield row_id, float(self._fused(query, np.asarray([row_id]))[0])

    def _fused(self, query: Query, row_ids: np.ndarray) -> np.ndarray:
        """Exact blended scores of the given rows: (m,) float64."""
        ranking = self.ranking
        vector, terms = query.scoring or (query.vector, query.terms)
        dense = (self.index.vectors_of(row_ids) @ vector).astype(np.float64)
        lexical = days_apart = None
        if ranking.dense_weight_for(query.terms.nnz) < 1.0:
            lexical = self.index.lexical_scores(terms, row_ids).astype(np.float64)
        if ranking.time_boost > 0.0 and query.published is not None:
            starts = self.index.starts_of(row_ids)
            days_apart = np.abs(starts - query.published.start) / SECONDS_PER_DAY
        return ranking.combined(dense, lexical, days_apart, query.terms.nnz)

    def _rescored(self, query: Query, hit: tuple[int, float] | None) -> tuple[int, float] | None:
        if hit is None:
            return None
        return hit[0], float(self._fused(query, np.asarray([hit[0]]))[0])

    def _copies_a_pick(self, query: Query, row_id: int) -> bool:
        if not query.chosen:
            return False
        similarity = estimated_similarity(self.index.fingerprint(row_id), np.stack(query.chosen))
        return bool((similarity >= self.index.duplicate_threshold).any())

    def _choose(self, query: Query, hit: tuple[int, float]) -> tuple[int, float]:
        query.chosen.append(self.index.fingerprint(hit[0]))
        return hit

    def _first(self, query: Query, allowed: RowSelection | None) -> tuple[int, float] | None:
        hit = next(self._acceptable(query, allowed), None)
        return self._choose(query, hit) if hit is not None else None

    def _acceptable(
        self, query: Query, allowed: RowSelection | None, *, first_block_only: bool = False
    ) -> Iterator[tuple[int, float]]:
        """Candidates best first, without the query, its near-duplicates, or copies of picks."""
        threshold = self.index.duplicate_threshold
        blocks = self._blocks(query, allowed)
        if first_block_only:
            blocks = itertools.islice(blocks, 1)
        for scores, row_ids in blocks:
            keep = row_ids != (query.row_id if query.row_id is not None else -1)
            scores, row_ids = scores[keep], row_ids[keep]
            if not len(row_ids):
                continue
            fingerprints = self.index.fingerprints_of(row_ids)
            copies = estimated_similarity(query.fingerprint, fingerprints) >= threshold
            for position in np.flatnonzero(~copies):
                candidate = fingerprints[position]
                if (
                    query.chosen
                    and (estimated_similarity(candidate, np.stack(query.chosen)) >= threshold).any()
                ):
                    continue
                yield int(row_ids[position]), float(scores[position])

    def _blocks(
        self, query: Query, allowed: RowSelection | None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Successively deeper result blocks (new rows only), until the index is exhausted."""
        vectors = self.index.vectors
        total = len(vectors)
        seen = 0
        if allowed is None and query.first_block is not None:
            scores, row_ids = query.first_block
            valid = row_ids >= 0
            yield scores[valid], row_ids[valid]
            seen = int(valid.sum())
            if seen < len(row_ids):
                return
            depth = seen * 4
        else:
            depth = 2 * FIRST_DEPTH_MARGIN
        while seen < total:
            depth = min(depth, total)
            scores, row_ids = vectors.search(query.vector[None, :], depth, allowed)
            valid = row_ids[0] >= 0
            found = int(valid.sum())
            yield scores[0][valid][seen:], row_ids[0][valid][seen:]
            if found < depth:
                return
            seen = found
            depth *= 4

    def _allowed(self, query: Query, filters: RelatedFilters) -> RowSelection | None:
        """The rows passing the filters (a bitmap for FAISS, payload conditions for Qdrant),
        or None when unrestricted."""
        if not filters.restricts_candidates:
            return None
        catalog = self.index.catalog
        mask = np.ones(len(catalog), dtype=bool)
        dated = (
            filters.since is not None
            or filters.until is not None
            or filters.max_age_days is not None
        )
        since = until = None
        if dated:
            since = parse_bound(filters.since, upper=False) if filters.since else None
            until = parse_bound(filters.until, upper=True) if filters.until else None
            if filters.max_age_days is not None and query.published is not None:
                reach = filters.max_age_days * SECONDS_PER_DAY
                low, high = query.published.start - reach, query.published.end + reach
                since = low if since is None else max(since, low)
                until = high if until is None else min(until, high)
            mask &= catalog.dated_between(since, until)
        conditions = PayloadConditions(dated, since, until, topic=filters.topic)
        if filters.topic is not None:
            try:
                mask &= catalog.with_topic(filters.topic)
            except KeyError:
                known = ", ".join(sorted(catalog.topic_bits)) or "none: the index is untagged"
                raise InvalidInputError(
                    f"unknown topic {filters.topic!r}; indexed topics: {known}"
                ) from None
        return catalog.selection(mask, conditions)

    def _row_ids_of(self, article_ids: frozenset[str]) -> set[int]:
        found = self.index.states(list(article_ids)) if article_ids else {}
        return {state.row_id for state in found.values()}
