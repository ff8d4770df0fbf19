"""Previous/next slots for every compared system.

The project's recommender answers slots itself (`Recommender.slots_many`). A baseline has
no slot logic, so the core's rule is applied to its ranked list: `previous` is the best
ranked article published strictly before the query, `next` the best strictly after, and an
empty side (both, for an undated query) takes the best remaining article of the list. That
shows what each ranking would put in the slots; `recency` gives the chronological
neighbours a plain "previous/next article" widget shows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from math import nan
from typing import Any, Protocol

import numpy as np

from eval.quality.datasets import LabelledCorpus
from eval.quality.systems import Ranked
from recommender import Article, Recommender
from recommender.ranking.slots import SLOT_STRATEGIES

SlotPair = tuple[str | None, str | None]
"""(previous id, next id); None for an empty slot."""


class SlotSource(Protocol):
    def slots(self, query_ids: Sequence[str]) -> dict[str, SlotPair]: ...


class RecommenderSlots:
    def __init__(self, recommender: Recommender) -> None:
        self.recommender = recommender

    def slots(self, query_ids: Sequence[str]) -> dict[str, SlotPair]:
        found = self.recommender.slots_many(list(query_ids))
        return {
            query_id: (
                pair.previous.id if pair.previous is not None else None,
                pair.next.id if pair.next is not None else None,
            )
            for query_id, pair in found.items()
        }


class RankingSlots:
    """Slots read off a baseline's ranked lists with the core's previous/next rule."""

    def __init__(self, corpus: LabelledCorpus, rankings: dict[str, Ranked]) -> None:
        self.corpus = corpus
        self.rankings = rankings

    def slots(self, query_ids: Sequence[str]) -> dict[str, SlotPair]:
        return {query_id: self._pair(query_id) for query_id in query_ids}

    def _pair(self, query_id: str) -> SlotPair:
        ranked = [article_id for article_id, _ in self.rankings.get(query_id, [])]
        moment = self.corpus.article(query_id).published_time
        previous = following = None
        if moment is not None:
            for article_id in ranked:
                other = self.corpus.article(article_id).published_time
                if other is None:
                    continue
                if previous is None and other.before(moment):
                    previous = article_id
                elif following is None and moment.before(other):
                    following = article_id
        remaining = (a for a in ranked if a not in (previous, following))
        if previous is None:
            previous = next(remaining, None)
        if following is None:
            following = next(remaining, None)
        return previous, following


# -- the slot strategies, side by side ----------------------------------------------------

Progress = Callable[[str, int, int], None]
NO_FLOOR = -2.0  # below any blended score: the side's most related article, always


def slot_rates(
    recommender: Recommender,
    articles: Sequence[Article],
    limit: int | None,
    advance: Progress | None = None,
) -> dict[str, float]:
    """The recommender's slots judged against the articles' gold `story`.

    Queries: the articles whose gold story holds another (a seeded sample of `limit`);
    every article when no article has a story (one-off articles: how often a slot is
    filled at all). `same_story`: of the sides where the gold story has an article, those
    whose slot holds one; `filler`: of the sides where it has none, those filled anyway;
    `wrong_side`: filled slots not strictly on their side of the date (must be 0)."""
    members: dict[str, list[Article]] = defaultdict(list)
    for article in articles:
        if article.story:
            members[article.story].append(article)
    queries = [a for a in articles if a.story and len(members[a.story]) > 1]
    if not members:
        queries = list(articles)
    if limit is not None and len(queries) > limit:
        chosen = np.random.default_rng(0).choice(len(queries), limit, replace=False)
        queries = [queries[i] for i in sorted(chosen)]
    story_of = {a.id: a.story for a in articles}
    moment_of = {a.id: a.published_time for a in articles}
    has_side = same = filled_without = without = wrong = filled = related = 0
    for start in range(0, len(queries), 256):
        chunk = queries[start : start + 256]
        found = recommender.slots_many([a.id for a in chunk])
        for query in chunk:
            moment = query.published_time
            slots = found[query.id]
            for side, item in ((0, slots.previous), (1, slots.next)):
                story_side = moment is not None and any(
                    _on_side(moment_of[m.id], moment, side)
                    for m in members[query.story or ""]
                    if m.id != query.id
                )
                if item is not None:
                    filled += 1
                    related += item.kind == "related"
                    other = moment_of[item.id]
                    if moment is None or other is None or not _on_side(other, moment, side):
                        wrong += 1
                if story_side:
                    has_side += 1
                    same += item is not None and story_of.get(item.id) == query.story
                else:
                    without += 1
                    filled_without += item is not None
        if advance is not None:
            advance("slots", len(chunk), len(queries))
    return {
        "queries": float(len(queries)),
        "same_story": same / has_side if has_side else nan,
        "wrong_side": float(wrong),
        "filler": filled_without / without if without else nan,
        "related_kind": related / filled if filled else nan,
    }


def strategy_rates(
    recommender: Recommender,
    articles: Sequence[Article],
    limit: int | None,
    advance: Progress | None = None,
) -> dict[str, dict[str, float]]:
    """`slot_rates` of every slot strategy (recommender.SLOT_STRATEGIES) over the index's
    stories as they stand, each live (no stored list), at the recommender's floor; and
    "related, no floor", the old rule (the side's most related article, however weak)."""
    found = {}
    variants = [(name, name, recommender.slot_floor) for name in SLOT_STRATEGIES]
    variants.append(("related, no floor", "related", NO_FLOOR))
    for label, strategy, floor in variants:
        live = Recommender(
            recommender.index,
            recommender.ranking,
            list_depth=0,
            slot_floor=floor,
            slot_strategy=strategy,
        )
        found[label] = slot_rates(live, articles, limit, advance)
    return found


def _on_side(other: Any, moment: Any, side: int) -> bool:
    if other is None:
        return False
    return bool(other.before(moment) if side == 0 else moment.before(other))


def story_side_rates(corpus: LabelledCorpus, slots: dict[str, SlotPair]) -> dict[str, float]:
    """`eval related`'s story figures of the slots, as `slot_rates` counts them:
    `slot_story`: of the sides where the query's story has an article, those whose slot
    holds one; `slot_filler`: of the sides where it has none, those filled anyway."""
    has_side = same = without = filled_without = 0
    members: dict[str, list[Article]] = defaultdict(list)
    for article in corpus.articles:
        if article.story:
            members[article.story].append(article)
    for query_id, pair in slots.items():
        query = corpus.article(query_id)
        moment = query.published_time
        for side, slot in enumerate(pair):
            story_side = moment is not None and any(
                _on_side(m.published_time, moment, side)
                for m in members[query.story or ""]
                if m.id != query_id
            )
            if story_side:
                has_side += 1
                same += slot is not None and corpus.story_of(slot) == query.story
            else:
                without += 1
                filled_without += slot is not None
    return {
        "slot_story": same / has_side if has_side else nan,
        "slot_filler": filled_without / without if without else nan,
    }
