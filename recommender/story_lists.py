"""Related lists shaped for a page that also shows the slots and the story.

- `exclude_slots`: the list leaves out the articles of the previous/next slots, so a page
  that shows both does not repeat them (one request instead of two and a client filter).
- `max_per_story`: at most N items of any one story (the query's own too), so a sidebar
  can mix the story's latest with other related stories. The list is read deeper and
  capped, so it still holds k items when the index has them.

Both are answered live (a stored list holds neither); without them this is `related_many`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from recommender.errors import InvalidInputError
from recommender.related import MAX_K, Recommender, RelatedArticle, RelatedFilters

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
    explain: bool = False,
) -> dict[str, list[RelatedArticle]]:
    """`Recommender.related_many` with the page options above."""
    filters = filters or RelatedFilters()
    if max_per_story is not None and max_per_story < 1:
        raise InvalidInputError(f"max_per_story must be >= 1, got {max_per_story}")
    if not exclude_slots and max_per_story is None:
        return recommender.related_many(article_ids, k, filters, explain=explain)
    slots = recommender.slots_many(article_ids) if exclude_slots else {}
    depth = k
    if max_per_story is not None:
        depth = min(MAX_K, max(_CAPPED_DEPTH_FACTOR * k, k + _CAPPED_DEPTH_MARGIN))
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
        found[article_id] = items[:k]
    return found


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
