"""Related lists shaped for a page that also shows the slots and the story.

- `exclude_slots`: the list leaves out the articles of the previous/next slots, so a page
  that shows both does not repeat them (one request instead of two and a client filter).
- `max_per_story`: at most N items of any one story (the query's own too), so a sidebar
  can mix the story's latest with other related stories. The list is read deeper and
  capped, so it still holds k items when the index has them.
- `diversity` (0..1): maximal marginal relevance over the deeper candidate list (not a
  re-order of the top k): each next item maximises (1 - d) * its score - d * its highest
  dense cosine with the items already chosen. 0 is the plain list.

All are answered live (a stored list holds none); without them this is `related_many`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from recommender.errors import InvalidInputError
from recommender.ranking.query import RelatedFilters
from recommender.ranking.recommender import MAX_RANKED_K, Recommender
from recommender.ranking.results import RelatedArticle

# How much deeper a capped list is read: enough for k items of mixed stories in practice.
_CAPPED_DEPTH_FACTOR = 4
_CAPPED_DEPTH_MARGIN = 50


def related_for_page(
    recommender: Recommender,
    article_ids: Sequence[str],
    k: int = 10,
    filters: RelatedFilters | None = None,
    *,
    exclude_slots: bool = False,
    max_per_story: int | None = None,
    diversity: float = 0.0,
    explain: bool = False,
) -> dict[str, list[RelatedArticle]]:
    """`Recommender.related_many` with the page options above."""
    filters = filters or RelatedFilters()
    if max_per_story is not None and max_per_story < 1:
        raise InvalidInputError(f"max_per_story must be >= 1, got {max_per_story}")
    if not 0.0 <= diversity <= 1.0:
        raise InvalidInputError(f"diversity must be in [0, 1], got {diversity}")
    if not exclude_slots and max_per_story is None and diversity == 0.0:
        return recommender.related_many(article_ids, k, filters, explain=explain)
    slots = recommender.slots_many(article_ids) if exclude_slots else {}
    depth = k
    if max_per_story is not None or diversity > 0.0:
        depth = min(MAX_RANKED_K, max(_CAPPED_DEPTH_FACTOR * k, k + _CAPPED_DEPTH_MARGIN))
    found: dict[str, list[RelatedArticle]] = {}
    for article_id in dict.fromkeys(article_ids):
        excluded = set(filters.exclude_ids)
        if article_id in slots:
            pair = slots[article_id]
            excluded.update(item.id for item in (pair.previous, pair.next) if item is not None)
        own = replace(filters, exclude_ids=frozenset(excluded))
        items = recommender.related_many([article_id], depth, own, explain=explain)[article_id]
        if max_per_story is not None:
            items = _capped(items, max_per_story)
        if diversity > 0.0:
            items = _most_marginal(recommender, items, k, diversity)
        found[article_id] = items[:k]
    return found


def _most_marginal(
    recommender: Recommender, items: list[RelatedArticle], k: int, diversity: float
) -> list[RelatedArticle]:
    """k items by maximal marginal relevance (see the module docstring)."""
    if len(items) <= 1:
        return items
    states = recommender.index.states([item.id for item in items])
    rows = np.asarray([states[item.id].row_id for item in items], dtype=np.int64)
    vectors = recommender.index.vectors_of(rows)
    similarity = vectors @ vectors.T  # (m, m) dense cosines: the vectors are unit length
    scores = np.asarray([item.score for item in items])
    chosen: list[int] = []
    closest = np.full(len(items), -np.inf)
    left = np.ones(len(items), dtype=bool)
    while len(chosen) < min(k, len(items)):
        redundancy = np.where(np.isfinite(closest), closest, 0.0)
        value = (1.0 - diversity) * scores - diversity * redundancy
        value[~left] = -np.inf
        pick = int(np.argmax(value))
        chosen.append(pick)
        left[pick] = False
        closest = np.maximum(closest, similarity[pick])
    return [items[i] for i in chosen]


def _capped(items: list[RelatedArticle], cap: int) -> list[RelatedArticle]:
    """Items in order, skipping those past `cap` of their story."""
    seen: Counter[str | None] = Counter()
    kept = []
    for item in items:
        if item.story is not None and seen[item.story] >= cap:
            continue
        seen[item.story] += 1
        kept.append(item)
    return kept
