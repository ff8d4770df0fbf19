"""Previous/next slots for every compared system.

The project's recommender answers slots itself (`Recommender.slots_many`). A baseline has
no slot logic, so the core's rule is applied to its ranked list: `previous` is the best
ranked article published strictly before the query, `next` the best strictly after, and an
empty side (both, for an undated query) takes the best remaining article of the list. That
shows what each ranking would put in the slots; `recency` gives the chronological
neighbours a plain "previous/next article" widget shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from eval.datasets import LabelledCorpus
from eval.systems import Ranked
from recommender import Recommender

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
