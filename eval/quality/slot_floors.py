"""The slots' related fallback under other floor rules, side by side
(`python -m eval.quality.slot_comparison CORPUS --floors`).

The default rule (recommender/ranking/slots.py) takes the side's most related article only
when its score, the shared-neighbour bonus counted up to `SLOT_FLOOR_BONUS_CAP`, clears the
slot floor. A rule here changes that test, the candidates' order, or (a `Rescue`) takes a
candidate below the floor on other evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from eval.quality.slots import Progress, slot_rates
from recommender import Article, Recommender
from recommender.ranking.neighbourhood import pairwise_scores
from recommender.ranking.slots import SLOT_FLOOR_BONUS_CAP


@dataclass(frozen=True)
class FloorRule:
    """How a slot's related fallback (`Recommender._related_slot`) decides that the side's
    most related article is plausibly related. `bonus_cap`: the most its shared-neighbour
    bonus counts toward the slot floor (None: all of it, the rule before the cap);
    `by_blend`: the side's candidates taken in blended order, bonus ignored, rather than
    the related list's; `calibrated`: its blended score must also clear the index's
    calibrated relevance floor (recommender/ranking/relevance_floor.py, 1 in 1,000 random pairs)
    for the query's length; `slot_floor` and `neighbour_weight`: instead of the
    recommender's; `rescue`: when the side's first candidate misses the floor, what takes it
    anyway."""

    label: str
    bonus_cap: float | None = SLOT_FLOOR_BONUS_CAP
    by_blend: bool = False
    calibrated: bool = False
    slot_floor: float | None = None
    neighbour_weight: float | None = None
    rescue: Rescue | None = None


@dataclass(frozen=True)
class Rescue:
    """A below-floor candidate taken anyway (issue 15: a split story's article on a side
    its clustered story leaves empty). The candidate is the first of the side's `depth`
    first acceptable pool hits (the related list's order) to pass every test set here:
    - `mutual`: it is among the query's `mutual` best and the query among its, scored
      pairwise within the query's best `neighbour_pool` (recommender/ranking/neighbourhood.py);
    - `best_overall`: it is the query's best related article, whatever the side;
    - `relative`: its score (bonus included) is at least this times the query's best;
    - `minimum`: its blended score (bonus ignored) is at least this;
    - `calibrated`: its blended score clears the index's calibrated relevance floor for the
      query's length (recommender/ranking/relevance_floor.py);
    - `vouched`: its (clustered) story holds another pool hit that clears the slot floor;
    - `linked`: it scores at least this (blended, from the member's side) with another
      member of the query's (clustered) story;
    - `continues`: its (clustered) story lies wholly on that side of the query's date (a
      story the clustering split in time, not one running beside the query's)."""

    mutual: int | None = None
    best_overall: bool = False
    relative: float | None = None
    minimum: float = -1.0
    calibrated: bool = False
    depth: int = 1
    vouched: bool = False
    linked: float | None = None
    continues: bool = False


FLOOR_RULES = (
    FloorRule("bonus counted whole (before)", bonus_cap=None),
    FloorRule("bonus not counted, blended order", bonus_cap=0.0, by_blend=True),
    FloorRule("bonus not counted", bonus_cap=0.0),
    FloorRule("bonus counted up to 0.05", bonus_cap=0.05),
    FloorRule("bonus counted up to 0.09", bonus_cap=0.09),
    FloorRule("bonus counted up to 0.11", bonus_cap=0.11),
    FloorRule(f"bonus counted up to {SLOT_FLOOR_BONUS_CAP} (default)"),
    FloorRule("bonus counted up to 0.15", bonus_cap=0.15),
    FloorRule("bonus whole, blended >= calibrated", bonus_cap=None, calibrated=True),
    FloorRule("bonus whole, slot floor 0.40", bonus_cap=None, slot_floor=0.40),
    FloorRule("bonus whole, slot floor 0.45", bonus_cap=None, slot_floor=0.45),
    FloorRule("bonus weight 0.1, counted whole", bonus_cap=None, neighbour_weight=0.1),
    FloorRule(f"bonus weight 0.1, up to {SLOT_FLOOR_BONUS_CAP}", neighbour_weight=0.1),
    FloorRule("below floor: mutual top 7", rescue=Rescue(mutual=7)),
    FloorRule("below floor: mutual top 3", rescue=Rescue(mutual=3)),
    FloorRule("below floor: mutual top 1", rescue=Rescue(mutual=1)),
    FloorRule("below floor: best overall", rescue=Rescue(best_overall=True)),
    FloorRule("below floor: best, mutual top 3", rescue=Rescue(mutual=3, best_overall=True)),
    FloorRule("below floor: >= 0.9 x best", rescue=Rescue(relative=0.9)),
    FloorRule("below floor: >= 0.8 x best", rescue=Rescue(relative=0.8)),
    FloorRule("below floor: blend >= 0.20", rescue=Rescue(minimum=0.20)),
    FloorRule("below floor: blend >= 0.22", rescue=Rescue(minimum=0.22)),
    FloorRule("below floor: blend >= 0.25", rescue=Rescue(minimum=0.25)),
    FloorRule("below floor: blend >= calibrated", rescue=Rescue(calibrated=True)),
    FloorRule(
        "below floor: blend >= 0.20 and calibrated", rescue=Rescue(minimum=0.20, calibrated=True)
    ),
    FloorRule(
        "below floor: blend >= 0.22 and calibrated", rescue=Rescue(minimum=0.22, calibrated=True)
    ),
    FloorRule("below floor: first, story vouched", rescue=Rescue(vouched=True)),
    FloorRule("below floor: first 3, story vouched", rescue=Rescue(depth=3, vouched=True)),
    FloorRule(
        "below floor: first 3, story vouched, mutual top 3", rescue=Rescue(3, depth=3, vouched=True)
    ),
    FloorRule("below floor: linked to its story >= 0.35", rescue=Rescue(linked=0.35)),
    FloorRule("below floor: linked to its story >= 0.30", rescue=Rescue(linked=0.30)),
    FloorRule("below floor: linked to its story >= 0.25", rescue=Rescue(linked=0.25)),
    FloorRule(
        "below floor: first 3 linked to its story >= 0.35", rescue=Rescue(depth=3, linked=0.35)
    ),
    FloorRule("below floor: story continues", rescue=Rescue(continues=True)),
    FloorRule(
        "below floor: first 3, story continues, vouched",
        rescue=Rescue(depth=3, vouched=True, continues=True),
    ),
    FloorRule(
        "below floor: first 3, story continues, calibrated",
        rescue=Rescue(depth=3, continues=True, calibrated=True),
    ),
    FloorRule(
        "below floor: first 3, story vouched, calibrated",
        rescue=Rescue(depth=3, vouched=True, calibrated=True),
    ),
    FloorRule(
        "below floor: first 3, story vouched, blend >= 0.20",
        rescue=Rescue(minimum=0.2, depth=3, vouched=True),
    ),
)


class FloorRuleSlots(Recommender):
    """A live recommender whose slots' related fallback follows `rule`: the product's
    `_related_slot` with the rule's floor test and candidate order."""

    def __init__(self, recommender: Recommender, rule: FloorRule) -> None:
        ranking = recommender.ranking
        if rule.neighbour_weight is not None:
            ranking = replace(ranking, neighbour_weight=rule.neighbour_weight)
        super().__init__(
            recommender.index,
            ranking,
            list_depth=0,
            slot_floor=recommender.slot_floor if rule.slot_floor is None else rule.slot_floor,
            slot_strategy=recommender.slot_strategy,
        )
        self.rule = rule

    def _related_slot(
        self,
        query: Any,
        pool: list[tuple[int, float]],
        in_pool: np.ndarray,
        on_side: np.ndarray,
        bound: Any,
    ) -> tuple[int, float] | None:
        if self.rule.by_blend and pool:
            rows = np.asarray([row_id for row_id, _ in pool], dtype=np.int64)
            blended = self._fused(query, rows)
            order = np.argsort(-blended, kind="stable")
            pool = [(int(rows[i]), float(blended[i])) for i in order]
            in_pool = in_pool[order]
        found = super()._related_slot(query, pool, in_pool, on_side, bound)
        if found is not None or self.rule.rescue is None:
            return found
        rescue = self.rule.rescue
        side = [
            hit
            for hit, there in zip(pool, in_pool, strict=True)
            if there and not self._copies_a_pick(query, hit[0])
        ][: rescue.depth]
        side = [hit for hit in side if self._rescued(query, pool, hit, rescue)]
        if rescue.vouched:
            side = self._vouched(query, pool, side)
        return side[0] if side else None

    def _rescued(
        self, query: Any, pool: list[tuple[int, float]], hit: tuple[int, float], rescue: Rescue
    ) -> bool:
        """Whether `rescue` takes `hit`, the side's first acceptable pool hit, below the floor."""
        blended = float(self._fused(query, np.asarray([hit[0]], dtype=np.int64))[0])
        if blended < rescue.minimum:
            return False
        if rescue.calibrated and blended < self.relevance_floor().floor_for(query.terms.nnz):
            return False
        if rescue.best_overall and hit[0] != pool[0][0]:
            return False
        if rescue.relative is not None and hit[1] < rescue.relative * pool[0][1]:
            return False
        if rescue.linked is not None and self._link(query, hit[0]) < rescue.linked:
            return False
        if rescue.continues and not self._continues(query, hit[0]):
            return False
        return rescue.mutual is None or self._mutual(query, pool, hit[0], rescue.mutual)

    def _continues(self, query: Any, row: int) -> bool:
        """Whether every dated member of `row`'s story is on `row`'s side of the query."""
        stories = self.index.stories
        story = stories.stories_of([row]).get(row)
        members = np.asarray(stories.member_rows(story) if story else [row], dtype=np.int64)
        starts = self.index.starts_of(members)
        starts = starts[~np.isnan(starts)]
        moment = query.published.start
        if float(self.index.starts_of(np.asarray([row]))[0]) < moment:
            return bool((starts < moment).all())
        return bool((starts > moment).all())

    def _link(self, query: Any, row: int) -> float:
        """The best blended score of `row` from the side of another member of the query's
        story (-1 when the query's story has no other member)."""
        members = self._story_members(query)
        members = members[members != row]
        if not len(members):
            return -1.0
        rows = np.concatenate([[row], members])
        local = pairwise_scores(
            self.index.vectors_of(rows), self.index.term_rows(rows), self.ranking.dense_weight_for
        )
        return float(local[1:, 0].max())

    def _vouched(
        self, query: Any, pool: list[tuple[int, float]], side: list[tuple[int, float]]
    ) -> list[tuple[int, float]]:
        """The `side` hits whose story holds another pool hit that clears the slot floor."""
        if not side:
            return side
        clearing = {
            hit[0]
            for hit in pool
            if hit[1] >= self.slot_floor and self._clears_slot_floor(query, hit)
        }
        stories = self.index.stories
        story_of = stories.stories_of([row for row, _ in side])
        return [
            hit
            for hit in side
            if story_of.get(hit[0])
            and clearing & (set(stories.member_rows(story_of[hit[0]])) - {hit[0]})
        ]

    def _mutual(self, query: Any, pool: list[tuple[int, float]], row: int, count: int) -> bool:
        """Whether `row` and the query are among each other's `count` best, within the
        query's best `neighbour_pool` pool rows by blended score (as the bonus takes them)."""
        ranking = self.ranking
        rows = np.asarray([row_id for row_id, _ in pool], dtype=np.int64)
        blended = self._fused(query, rows)
        rows = rows[np.lexsort((rows, -blended))[: ranking.neighbour_pool]]
        where = np.flatnonzero(rows == row)
        if not len(where):
            return False
        vectors = np.vstack([query.vector[None, :], self.index.vectors_of(rows)])
        terms = self.index.term_rows(np.concatenate([[query.row_id], rows]))
        local = pairwise_scores(vectors, terms, ranking.dense_weight_for)
        np.fill_diagonal(local, -np.inf)
        order = np.argsort(-local, axis=1, kind="stable")[:, :count]
        position = int(where[0]) + 1
        return bool(position in order[0] and 0 in order[position])

    def _clears_slot_floor(self, query: Any, hit: tuple[int, float]) -> bool:
        rule = self.rule
        blended = float(self._fused(query, np.asarray([hit[0]], dtype=np.int64))[0])
        if rule.calibrated and blended < self.relevance_floor().floor_for(query.terms.nnz):
            return False
        bonus = hit[1] - blended
        counted = bonus if rule.bonus_cap is None else min(bonus, rule.bonus_cap)
        return blended + counted >= self.slot_floor


def floor_rates(
    recommender: Recommender,
    articles: Sequence[Article],
    limit: int | None,
    advance: Progress | None = None,
    *,
    only: Sequence[str] = (),
) -> dict[str, dict[str, float]]:
    """`slot_rates` of the recommender's slot strategy under every `FLOOR_RULES` rule (those
    whose label holds one of `only`, when given, beside the default)."""
    return {
        rule.label: slot_rates(FloorRuleSlots(recommender, rule), articles, limit, advance)
        for rule in FLOOR_RULES
        if not only or "(default)" in rule.label or any(part in rule.label for part in only)
    }
