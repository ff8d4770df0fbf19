"""The previous and next slots: which article of the query's story (or, failing that, which
related article above the slot floor) stands on each side of its date, by slot strategy."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np

from recommender.dates import PublishedTime
from recommender.index.vectors.protocol import PayloadConditions, earlier_than, later_than
from recommender.ranking.candidates import CandidateRanker
from recommender.ranking.query import Query

# A slot whose story has no article on its side of the date takes the most related article
# there only from this score up (else it stays empty: a reader takes "previous" literally):
# its blended score plus its shared-neighbour bonus, the bonus counted up to
# SLOT_FLOOR_BONUS_CAP (see `_clears_slot_floor`;
# `python -m eval.quality.slot_comparison CORPUS --floors`).
# Stands in for the ranking's relevance floor (issue 14) until there is one.
SLOT_RELEVANCE_FLOOR = 0.35
SLOT_FLOOR_BONUS_CAP = 0.13
# How a slot is chosen when the story may have an article on its side (`_pick_slots`):
# - "story-nearest": the story's nearest member in time on that side (ties by score);
# - "story-related": the story's best scored member on that side;
# - "related-in-story": the nearest in time of the story's members among the
#   `SLOT_RELATED_DEPTH` most related articles on that side (a member far down the ranking
#   is more likely a clustering mistake than the story's next episode);
# - "related": the most related article on that side, whatever its story;
# - "related-then-story": "related", and where that leaves a side empty (nothing above the
#   floor), the story's best scored member there.
# Each falls back to the most related article on the side above the floor. Compared on
# every corpus by `newsrec eval stories` (docs/stories.md): "story-related" finds the
# story more often than "story-nearest" on all of them (a story's nearest member in time
# is more often a clustering mistake than its best scored one), with the same filler.
SLOT_STRATEGIES = (
    "story-nearest",
    "story-related",
    "related-in-story",
    "related",
    "related-then-story",
)
SLOT_STRATEGY = "story-related"
SLOT_RELATED_DEPTH = 10


class SlotPicker(CandidateRanker):
    """Picks a query's (previous, next) slots with `slot_strategy` and `slot_floor` (set by
    `Recommender`)."""

    slot_floor: float
    slot_strategy: str

    def _pick_slots(self, query: Query) -> list[tuple[int, float] | None]:
        if query.published is None or query.row_id is None:
            return [None, None]
        catalog = self.index.catalog
        before, after = catalog.before(query.published), catalog.after(query.published)
        strategy = self.slot_strategy
        sides: list[tuple[int, float] | None] = [None, None]
        if strategy in ("story-nearest", "story-related"):
            sides = self._story_slots(query, before, after, nearest=strategy == "story-nearest")
            if sides[0] is not None and sides[1] is not None:
                return sides
        pool = self._pool(query, None, self.ranking.pool_depth)
        positions = np.searchsorted(catalog.row_ids, [row_id for row_id, _ in pool])
        if strategy == "related-in-story":
            sides = self._story_among_related(query, pool, (before, after))
        for side, on_side, bound in ((0, before, earlier_than), (1, after, later_than)):
            if sides[side] is not None or not on_side.any():
                continue
            hit = self._related_slot(query, pool, on_side[positions], on_side, bound)
            if hit is not None:
                sides[side] = self._choose(query, hit)
        if strategy == "related-then-story" and (sides[0] is None or sides[1] is None):
            missing = [side for side in (0, 1) if sides[side] is None]
            found = self._story_slots(query, before, after, nearest=False, sides=missing)
            sides = [hit if hit is not None else found[side] for side, hit in enumerate(sides)]
        return sides

    def _related_slot(
        self,
        query: Query,
        pool: list[tuple[int, float]],
        in_pool: np.ndarray,
        on_side: np.ndarray,
        bound: Callable[[PublishedTime], PayloadConditions],
    ) -> tuple[int, float] | None:
        """The side's most related acceptable article (in the related list's order, the
        shared-neighbour bonus included) if it clears the slot floor (`_clears_slot_floor`).
        `in_pool`: which pool hits are on the side. Past the pool, the side's best dense
        match."""
        for hit, there in zip(pool, in_pool, strict=True):
            if hit[1] < self.slot_floor:
                return None
            if there and not self._copies_a_pick(query, hit[0]):
                return hit if self._clears_slot_floor(query, hit) else None
        assert query.published is not None
        rows = self.index.row_selection(on_side, bound(query.published))
        beyond = self._rescored(query, next(self._acceptable(query, rows), None))
        # Its score is the blend (no bonus past the pool): one floor test covers both.
        return beyond if beyond is not None and beyond[1] >= self.slot_floor else None

    def _clears_slot_floor(self, query: Query, hit: tuple[int, float]) -> bool:
        """Whether a pool hit clears `slot_floor` with its neighbour bonus counted up to
        `SLOT_FLOOR_BONUS_CAP`. The bonus says the candidate's neighbours agree with the
        query's, which lifts an article of a neighbouring story nearly as much as one of
        the same story: counted whole (up to 0.2) it let them into slots as filler."""
        blended = float(self._fused(query, np.asarray([hit[0]], dtype=np.int64))[0])
        return min(hit[1], blended + SLOT_FLOOR_BONUS_CAP) >= self.slot_floor

    def _story_among_related(
        self, query: Query, pool: list[tuple[int, float]], sides: tuple[np.ndarray, np.ndarray]
    ) -> list[tuple[int, float] | None]:
        """On each side, the nearest in time (ties by score) of the story's members among
        the `SLOT_RELATED_DEPTH` most related articles there ("related-in-story")."""
        catalog = self.index.catalog
        members = set(self._story_members(query).tolist())
        found: list[tuple[int, float] | None] = [None, None]
        if not members or not pool or query.published is None:
            return found
        rows = np.asarray([row_id for row_id, _ in pool], dtype=np.int64)
        positions = np.searchsorted(catalog.row_ids, rows)
        for side, on_side in enumerate(sides):
            top = itertools.islice(
                (
                    hit
                    for hit, there in zip(pool, on_side[positions], strict=True)
                    if there and not self._copies_a_pick(query, hit[0])
                ),
                SLOT_RELATED_DEPTH,
            )
            in_story = [hit for hit in top if hit[0] in members]
            if in_story:
                starts = catalog.starts[np.searchsorted(catalog.row_ids, [h[0] for h in in_story])]
                distance = np.abs(starts - query.published.start)
                scores = np.asarray([h[1] for h in in_story])
                found[side] = self._choose(query, in_story[int(np.lexsort((-scores, distance))[0])])
        return found

    def _story_members(self, query: Query) -> np.ndarray:
        """The other stored members of the query's story, without its near-duplicates."""
        assert query.row_id is not None
        stories = self.index.stories
        story = stories.stories_of([query.row_id]).get(query.row_id)
        members = np.asarray(
            [m for m in (stories.member_rows(story) if story else []) if m != query.row_id],
            dtype=np.int64,
        )
        members = members[np.isin(members, self.index.row_ids)]
        if len(members):
            members = members[~self.index.near_duplicates(query.fingerprint, members)]
        return members

    def _story_slots(
        self,
        query: Query,
        before: np.ndarray,
        after: np.ndarray,
        *,
        nearest: bool = True,
        sides: Sequence[int] = (0, 1),
    ) -> list[tuple[int, float] | None]:
        """The nearest earlier and later articles of the query's story, ties by score
        (`nearest=False`: the best scored ones); only on `sides` (0 earlier, 1 later)."""
        catalog = self.index.catalog
        members = self._story_members(query)
        found: list[tuple[int, float] | None] = [None, None]
        if not len(members):
            return found
        positions = np.searchsorted(catalog.row_ids, members)
        starts = catalog.starts[positions]
        scores = self._fused(query, members)
        for side, on_side in enumerate((before[positions], after[positions])):
            if side not in sides:
                continue
            # Nearest in time first, then the better scored.
            distance = np.abs(starts - query.published.start) if query.published else starts
            order = (
                np.lexsort((-scores, distance)) if nearest else np.argsort(-scores, kind="stable")
            )
            for i in order:
                if on_side[i] and not self._copies_a_pick(query, int(members[i])):
                    found[side] = self._choose(query, (int(members[i]), float(scores[i])))
                    break
        return found
