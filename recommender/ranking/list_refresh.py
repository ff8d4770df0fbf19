"""Keeping the stored related lists in step with the index: fill them, re-rank after writes.

The lists are part of the index: every write path leaves every article's list stored
(`newsrec index` and `delete` rank whatever has none, the service's writer ranks what its
writes touch and fills the rest in the background at start). Ranking a list costs what a
live related request costs (a few milliseconds), so filling an index of n articles takes n
of them, committed in batches; `newsrec precompute` remains to rank them all again.
Writers call these through `recommender/writer.py`, the one write sequence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from recommender.index.related_lists import RankedLists
from recommender.ranking.recommender import Recommender

_BATCH = 256


def owners_to_rank(recommender: Recommender, *, everything: bool = False) -> list[int]:
    """Row ids of the articles without a stored list for this ranking (`everything`: all)."""
    if everything:
        row_ids: list[int] = recommender.index.row_ids.tolist()
        return row_ids
    return recommender.index.related_lists.owners_without_lists(recommender.list_signature)


def store_lists_of(
    recommender: Recommender,
    row_ids: Sequence[int],
    *,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Rank and store the lists of these rows in batches; returns how many were stored.

    `progress` is called with each batch's size.
    """
    stored = 0
    for start in range(0, len(row_ids), _BATCH):
        chunk = list(row_ids[start : start + _BATCH])
        batch = rank_rows(recommender, chunk)
        stored += len(batch.lists) if store_ranked_lists(recommender, batch) else 0
        if progress is not None:
            progress(len(chunk))
    return stored


@dataclass(frozen=True)
class RankedBatch:
    """Lists ranked at one store generation, to be stored only if the store is still there."""

    lists: dict[int, RankedLists]
    generation: int


def rank_rows(recommender: Recommender, row_ids: Sequence[int]) -> RankedBatch:
    """Rank the lists of these rows (those still stored) at the store's current generation."""
    generation = recommender.index.generation
    return RankedBatch(recommender.ranked_lists(_ids_of(recommender, row_ids)), generation)


def lists_in_use(recommender: Recommender) -> bool:
    """Whether this recommender's ranking keeps stored lists (its list depth allows them):
    then every write path stores them, on an index that had none before too."""
    return recommender.reads_lists


def stale_lists_ranked(recommender: Recommender, changed_ids: Sequence[str]) -> RankedBatch:
    """After a write, rank again what it made stale or incomplete (not stored yet).

    That is: the changed articles' own lists, the lists the write dropped (they held a
    changed or deleted article), and the lists of the changed articles' related items, which
    a new article most likely belongs in. Nothing is ranked on an index whose lists are not
    in use (list depth 0, or deeper than a quarter of the candidate pool).
    """
    index = recommender.index
    generation = index.generation
    dropped = index.take_dropped_list_owners()
    if not lists_in_use(recommender):
        return RankedBatch({}, generation)
    ranked = recommender.ranked_lists(_without_lists(recommender, changed_ids))
    members = set().union(*(lists.members() for lists in ranked.values()))
    followers = _followers(recommender, dropped | members, set(ranked))
    ranked.update(recommender.ranked_lists(followers))
    return RankedBatch(ranked, generation)


def store_ranked_lists(recommender: Recommender, batch: RankedBatch) -> bool:
    """Store a batch; refused (False) if the store has been written since it was ranked."""
    if not batch.lists:
        return False
    return recommender.index.related_lists.put(
        batch.lists, recommender.list_signature, batch.generation
    )


def refresh_lists_after_write(
    recommender: Recommender,
    changed_ids: Sequence[str],
    *,
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
) -> int:
    """For a batch writer (`newsrec index`, `delete`): every article without a stored list
    ranked (the changed ones, those whose lists the write dropped, and any that had none:
    an index written before, or ranked under other settings), then the lists of the changed
    articles' related items (`stale_lists_ranked`), in batches of a few hundred.

    `progress(label, total)` is called once per phase (the lists missing, then the lists
    that follow the changed articles) and returns the callback advanced by each batch's
    size. Returns how many lists were stored.
    """
    index = recommender.index
    dropped = index.take_dropped_list_owners()
    if not lists_in_use(recommender):
        return 0
    changed_rows = [index.row_id(i) for i in _without_lists(recommender, changed_ids)]
    missing = owners_to_rank(recommender)
    advance = progress("storing related lists", len(missing)) if progress else None
    stored = store_lists_of(recommender, missing, progress=advance)
    members = index.related_lists.members_of(changed_rows)
    followers = _followers(recommender, dropped | members, set(missing))
    rows = [index.row_id(article_id) for article_id in followers]
    advance = progress("re-ranking the lists they join", len(rows)) if progress else None
    return stored + store_lists_of(recommender, rows, progress=advance)


def _without_lists(recommender: Recommender, article_ids: Sequence[str]) -> list[str]:
    """Of the written articles, those still there with no stored list: new ones, and those
    whose text or date changed (the write dropped their lists). A change of metadata alone
    (source, url, topics...) leaves a list as it was, and nothing to rank."""
    index = recommender.index
    signature = recommender.list_signature
    return [
        article_id
        for article_id in article_ids
        if article_id in index and index.stored_lists(article_id, signature) is None
    ]


def _followers(recommender: Recommender, owners: set[int], ranked: set[int]) -> list[str]:
    """Ids of the owners still to rank (the write may have deleted some of them)."""
    return _ids_of(recommender, sorted(owners - ranked))


def _ids_of(recommender: Recommender, row_ids: Sequence[int]) -> list[str]:
    """Article ids of the rows still stored, in row order."""
    return recommender.index.ids_of_rows(row_ids)
