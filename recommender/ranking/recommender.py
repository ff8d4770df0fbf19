"""The recommender: related lists and previous/next slots for stored articles and new texts.

Its public methods compose the parts: the query (query.py), its scored candidates
(candidates.py, with `Ranking` from scoring.py), the slot strategies (slots.py), the floors
a list must clear (floor_gate.py) and the items a reader sees (results.py). Related-by-id
and slots are read from the lists stored in the index when they answer the request, and
ranked live otherwise; both give the same items.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from recommender.dates import parse_published
from recommender.errors import InvalidInputError
from recommender.index.article_index import ArticleIndex
from recommender.index.fingerprint import text_signature
from recommender.index.related_lists import RankedLists
from recommender.ranking.candidates import FIRST_DEPTH_MARGIN
from recommender.ranking.explain import ExplainedQuery
from recommender.ranking.floor_gate import FloorGate
from recommender.ranking.query import Query, RelatedFilters, stored_queries
from recommender.ranking.relevance_floor import DEFAULT_ONE_IN, RelevanceFloor
from recommender.ranking.results import (
    Neighbours,
    RelatedArticle,
    RelatedResult,
    Slots,
    best_first,
    explained_queries,
    materialise,
    slots_of,
)
from recommender.ranking.scoring import Ranking
from recommender.ranking.slots import (
    SLOT_FLOOR_BONUS_CAP,
    SLOT_RELEVANCE_FLOOR,
    SLOT_STRATEGIES,
    SLOT_STRATEGY,
    SlotPicker,
)

# The most items one call of the core ranks (its candidate pool grows with k). The HTTP
# API asks for fewer (service.http.schemas.API_MAX_K); this bounds the core's own callers.
MAX_RANKED_K = 1000


class Recommender(SlotPicker, FloorGate):
    """Answers related and slots questions over an open `ArticleIndex`.

    Related-by-id without filters (k up to `list_depth`) and slots are read from the lists
    stored in the index when there are any for this ranking (see `related_lists.py`), and
    ranked live otherwise; both give the same items. `list_depth=0`: always live.
    """

    def __init__(
        self,
        index: ArticleIndex,
        ranking: Ranking | None = None,
        *,
        list_depth: int = 20,
        slot_floor: float = SLOT_RELEVANCE_FLOOR,
        slot_strategy: str = SLOT_STRATEGY,
        calibrated_floor: bool = False,
        floor_one_in: int = DEFAULT_ONE_IN,
    ) -> None:
        self.index = index
        self.ranking = ranking or Ranking()
        self.list_depth = list_depth
        self.slot_floor = slot_floor
        if slot_strategy not in SLOT_STRATEGIES:
            raise InvalidInputError(
                f"slot strategy must be one of {', '.join(SLOT_STRATEGIES)}, got {slot_strategy!r}"
            )
        self.slot_strategy = slot_strategy
        # Related items must clear the index's calibrated floor (see relevance_floor.py):
        # fewer than 1 in `floor_one_in` random pairs score above it. Off by default.
        self.calibrated_floor = calibrated_floor
        self.floor_one_in = floor_one_in
        self._floor: RelevanceFloor | None = None
        self._floor_lock = threading.Lock()
        # A list ranked k deep uses a pool of max(pool_depth, 4k): past pool_depth / 4 its
        # first items would no longer be what a live request for fewer ranks. Deeper (or 0):
        # no stored list is read or ranked.
        self.reads_lists = 0 < list_depth <= self.ranking.pool_depth // 4

    @functools.cached_property
    def list_signature(self) -> str:
        """What stored lists must have been ranked with to be read by this recommender."""
        return (
            f"{self.scoring} depth={self.list_depth} duplicates={self.index.duplicate_threshold}"
            f" slot_floor={self.slot_floor} slot_floor_bonus_cap={SLOT_FLOOR_BONUS_CAP}"
            f" slot_strategy={self.slot_strategy}"
        )

    def ranked_lists(self, article_ids: Sequence[str]) -> dict[int, RankedLists]:
        """Rank the lists to store for these articles (by row id), live."""
        depth = self.list_depth
        if not self.reads_lists:
            raise InvalidInputError(
                f"stored related lists hold 1 to {self.ranking.pool_depth // 4} items with a "
                f"candidate pool of {self.ranking.pool_depth}; the list depth is {depth}"
            )
        queries = stored_queries(
            self.index, article_ids, depth=max(depth + FIRST_DEPTH_MARGIN, self.ranking.pool_depth)
        )
        found = {}
        for query in queries.values():
            related = self._pick(query, depth, RelatedFilters())
            query.chosen.clear()
            previous, following = self._pick_slots(query)
            assert query.row_id is not None
            found[query.row_id] = RankedLists(related, previous, following)
        return found

    # -- public --------------------------------------------------------------------------

    def related(
        self,
        article_id: str,
        k: int = 10,
        filters: RelatedFilters | None = None,
        *,
        explain: bool = False,
    ) -> list[RelatedArticle]:
        return self.related_many([article_id], k, filters, explain=explain)[article_id]

    def related_many(
        self,
        article_ids: Sequence[str],
        k: int = 10,
        filters: RelatedFilters | None = None,
        *,
        explain: bool = False,
    ) -> dict[str, list[RelatedArticle]]:
        """Related lists for several indexed articles; one batched search underneath.

        Raises ArticleNotFoundError for the first unknown id; check ids first to answer
        the others (`ArticleIndex.__contains__`). `explain` adds each item's reasons
        (see `explain.py`): it reads and tokenises the query texts, so it is opt-in.
        """
        found = self.related_results(article_ids, k, filters, explain=explain)
        return {article_id: result.items for article_id, result in found.items()}

    def related_results(
        self,
        article_ids: Sequence[str],
        k: int = 10,
        filters: RelatedFilters | None = None,
        *,
        explain: bool = False,
    ) -> dict[str, RelatedResult]:
        """`related_many` with how many items of each top k the floors withheld."""
        _check_k(k)
        filters = filters or RelatedFilters()
        picked: dict[str, list[tuple[int, float]]] = {}
        if not explain and self._lists_serve(k, filters):
            for article_id, ranked in self._stored_lists(article_ids).items():
                picked[article_id] = best_first(ranked.related[:k])
        unranked = [article_id for article_id in article_ids if article_id not in picked]
        queries = stored_queries(
            self.index, unranked, depth=max(k + FIRST_DEPTH_MARGIN, self.ranking.pool_depth)
        )
        for article_id, query in queries.items():
            picked[article_id] = best_first(self._pick(query, k, filters))
        kept = {
            article_id: self._floored(self._query_of(article_id), hits, filters)
            for article_id, hits in picked.items()
        }
        items = materialise(
            self.index, kept, explained_queries(self.index, queries) if explain else None
        )
        return {
            article_id: RelatedResult(items[article_id], len(picked[article_id]) - len(hits))
            for article_id, hits in kept.items()
        }

    def stored_related(
        self, article_id: str, k: int = 10, filters: RelatedFilters | None = None
    ) -> RelatedResult | None:
        """`related_results` when a stored list answers it (a few reads, no ranking);
        else None, also while the calibrated floor it needs is not estimated yet (the
        service answers this on its event loop: the estimate takes seconds)."""
        _check_k(k)
        filters = filters or RelatedFilters()
        if not self._lists_serve(k, filters):
            return None
        if self._floor_on(filters) and not self._floor_current():
            return None
        ranked = self._stored_lists([article_id]).get(article_id)
        if ranked is None:
            return None
        picked = best_first(ranked.related[:k])
        kept = self._floored(self._query_of(article_id), picked, filters)
        items = materialise(self.index, {article_id: kept})[article_id]
        return RelatedResult(items, len(picked) - len(kept))

    def stored_slots(self, article_id: str) -> Slots | None:
        """`slots` when they are stored (a few reads, no ranking); else None."""
        ranked = self._stored_lists([article_id]).get(article_id)
        if ranked is None:
            return None
        return slots_of(self.index, {article_id: [ranked.previous, ranked.next]})[article_id]

    def related_to_text(
        self,
        title: str,
        body: str = "",
        k: int = 10,
        filters: RelatedFilters | None = None,
        *,
        published: str | None = None,
        explain: bool = False,
    ) -> list[RelatedArticle]:
        """Related articles for a text that is not indexed. Runs the embedder once."""
        _check_k(k)
        if not title.strip() and not body.strip():
            raise InvalidInputError("title and body are both empty")
        text = f"{title}\n{body}" if body else title
        try:
            moment = parse_published(published) if published is not None else None
        except ValueError as error:
            raise InvalidInputError(f"published: {error}") from None
        query = Query(
            self.index.embedder.encode([text])[0],
            text_signature(text),
            moment,
            self.index.terms_for_text(text),
        )
        filters = filters or RelatedFilters()
        picked = self._floored(
            lambda: replace(query, scoring=None, chosen=[]),
            best_first(self._pick(query, k, filters)),
            filters,
        )
        explained = {"": ExplainedQuery(text, query.terms, (), moment)} if explain else None
        return materialise(self.index, {"": picked}, explained)[""]

    def slots(self, article_id: str, *, explain: bool = False) -> Slots:
        return self.slots_many([article_id], explain=explain)[article_id]

    def slots_many(self, article_ids: Sequence[str], *, explain: bool = False) -> dict[str, Slots]:
        """Previous = an earlier article of the same story, next = a later one, kind "story":
        the best scored (`slot_strategy` "story-related", the default), or the nearest in
        time ("story-nearest"; see SLOT_STRATEGIES).

        A side where the story has none takes the most related article on that side of the
        date if it scores at least `slot_floor` (kind "related"), else stays None. Never an
        article on the wrong side of the date: an undated article has no slots. The two
        slots are never the same story copy. `explain` adds the reasons of each slot, as for
        `related_many`.
        """
        picked: dict[str, list[tuple[int, float] | None]] = {}
        if not explain:
            for article_id, ranked in self._stored_lists(article_ids).items():
                picked[article_id] = [ranked.previous, ranked.next]
        unranked = [article_id for article_id in article_ids if article_id not in picked]
        queries = stored_queries(self.index, unranked, depth=self.ranking.pool_depth)
        for article_id, query in queries.items():
            picked[article_id] = self._pick_slots(query)
        return slots_of(
            self.index, picked, explained_queries(self.index, queries) if explain else None
        )

    # -- stored lists --------------------------------------------------------------------

    def _lists_serve(self, k: int, filters: RelatedFilters) -> bool:
        """Whether a stored list answers this request: its first k items are the live answer
        (the live ranking takes items in pool order), unless filters change the pool."""
        unfiltered = not filters.restricts_candidates and not filters.exclude_ids
        return self.reads_lists and unfiltered and k <= self.list_depth

    def _stored_lists(self, article_ids: Sequence[str]) -> dict[str, RankedLists]:
        """The stored lists there are for these ids (unknown ids are left to the live path)."""
        signature = self.list_signature
        found: dict[str, RankedLists] = {}
        if not self.reads_lists:
            return found
        for article_id in dict.fromkeys(article_ids):
            ranked = self.index.stored_lists(article_id, signature)
            if ranked is not None:
                found[article_id] = ranked
        return found

    # -- stories ---------------------------------------------------------------------------

    def neighbours(self, article_ids: Sequence[str], depth: int) -> dict[str, Neighbours]:
        """Each stored article's dense and lexical candidates (`depth` of each, near-duplicates
        included, itself not) with their blended scores, best first, and the dense weight of
        its blend: what story clustering compares an article with (see `stories.py`)."""
        found: dict[str, Neighbours] = {}
        for article_id, query in stored_queries(self.index, article_ids, depth=depth).items():
            assert query.first_block is not None
            candidates = query.first_block[1][query.first_block[1] >= 0]
            if min(self.ranking.dense_weight, self.ranking.dense_weight_long) < 1.0:
                lexical_ids = self.index.lexical_search(query.terms, depth)[0]
                candidates = np.union1d(candidates, lexical_ids)
            candidates = np.unique(candidates[candidates != query.row_id])
            scores = self._fused(query, candidates)
            order = np.argsort(-scores, kind="stable")
            found[article_id] = Neighbours(
                self.ranking.dense_weight_for(query.terms.nnz),
                [(int(candidates[i]), float(scores[i])) for i in order],
            )
        return found


def _check_k(k: int) -> None:
    if not 1 <= k <= MAX_RANKED_K:
        raise InvalidInputError(f"k must be between 1 and {MAX_RANKED_K}, got {k}")


__all__ = ["MAX_RANKED_K", "Recommender"]
