"""Keeping the stored related lists in step with the index: fill them, re-rank after writes.

Ranking a list costs what a live related request costs (a few milliseconds), so filling an
index of n articles takes n of them: done by `newsrec precompute`, resumable (it ranks only
what has no list), committed in batches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from recommender.related import Recommender
from recommender.related_lists import RankedLists

_BATCH = 256


def owners_to_rank(recommender: Recommender, *, everything: bool = False) -> list[int]:
    """Row ids of the articles without a stored list for this ranking (`everything`: all)."""
    row_ids: list[int] = recommender.index.catalog.row_ids.tolist()
    if everything:
        return row_ids
    lists = recommender.index.store.related_lists
    return lists.owners_without_lists(row_ids, recommender.list_signature)


def store_lists_of(
    recommender: Recommender,
    row_ids: Sequence[int],
    *,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Rank and store the lists of these rows in batches; returns how many were stored.

    `progress` is called with each batch's size.
    """
    store = recommender.index.store
    stored = 0
    for start in range(0, len(row_ids), _BATCH):
        chunk = list(row_ids[start : start + _BATCH])
        generation = store.generation
        ids = [summary.id for summary in store.summaries_by_row_id(chunk).values()]
        batch = RankedBatch(recommender.ranked_lists(ids), generation)
        stored += len(batch.lists) if store_ranked_lists(recommender, batch) else 0
        if progress is not None:
            progress(len(chunk))
    return stored


@dataclass(frozen=True)
class RankedBatch:
    """Lists ranked at one store generation, to be stored only if the store is still there."""

    lists: dict[int, RankedLists]
    generation: int


def stale_lists_ranked(recommender: Recommender, changed_ids: Sequence[str]) -> RankedBatch:
    """After a write, rank again what it made stale or incomplete (not stored yet).

    That is: the changed articles' own lists, the lists the write dropped (they held a
    changed or deleted article), and the lists of the changed articles' related items, which
    a new article most likely belongs in. Nothing is ranked on an index whose lists are not
    in use (none stored for this ranking).
    """
    index = recommender.index
    store = index.store
    generation = store.generation
    dropped, store.dropped_list_owners = store.dropped_list_owners, set()
    if not recommender.list_depth or store.related_lists.signature() != recommender.list_signature:
        return RankedBatch({}, generation)
    present = [article_id for article_id in changed_ids if article_id in index]
    ranked = recommender.ranked_lists(present)
    owners = set(dropped)
    for lists in ranked.values():
        owners |= lists.members()
    owners -= set(ranked)
    # Dropped owners may have been deleted by the write itself.
    others = [summary.id for summary in store.summaries_by_row_id(sorted(owners)).values()]
    ranked.update(recommender.ranked_lists(others))
    return RankedBatch(ranked, generation)


def store_ranked_lists(recommender: Recommender, batch: RankedBatch) -> bool:
    """Store a batch; refused (False) if the store has been written since it was ranked."""
    if not batch.lists:
        return False
    return recommender.index.store.related_lists.put(
        batch.lists, recommender.list_signature, batch.generation
    )


def refresh_lists_after_write(recommender: Recommender, changed_ids: Sequence[str]) -> int:
    """`stale_lists_ranked` then `store_ranked_lists`; returns how many lists were stored."""
    batch = stale_lists_ranked(recommender, changed_ids)
    return len(batch.lists) if store_ranked_lists(recommender, batch) else 0
