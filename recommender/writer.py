"""The one write path: upsert, delete, retag and list ranking as one sequence.

    plan -> apply -> refresh the stored related lists -> save

`newsrec index`, `delete`, `retag` and `precompute`, and the service's `LiveIndex`, all
write through `IndexWriter`. What differs between them is passed in, not spelled out again:

- `WriteOptions` (from `Settings`): how the lists are refreshed after a write (every list
  missing, for a batch writer; only the stale ones, for the service, which fills the rest in
  the background), whether the calibrated relevance floor is estimated and kept, whether a
  failed list refresh fails the write.
- `WriteHooks`: what the holder of the index does around each phase. A process that holds the
  index alone (the CLI) needs no lock; the service takes its readers-writer lock, runs the
  model before the write lock (`applying`) and brings its titles in step (`applied`). The CLI
  shows its progress bars through the same hooks.

Crash safety is the index's: `apply` commits in batches, `save` publishes the vector snapshot
atomically after the store has committed, and a snapshot out of step with the store is
rebuilt on the next open. A failing save leaves the previous snapshot and manifest in place.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from typing import Literal

from embeddings import ProgressCallback
from recommender.articles import Article
from recommender.errors import NewsrecError
from recommender.index.article_index import ArticleIndex
from recommender.index.upsert_plan import UpsertPlan, UpsertReport
from recommender.ranking.list_refresh import (
    owners_to_rank,
    rank_rows,
    refresh_lists_after_write,
    stale_lists_ranked,
    store_ranked_lists,
)
from recommender.ranking.recommender import Recommender
from recommender.settings import Settings
from recommender.topics.assignment import TopicTagger

logger = logging.getLogger("newsrec.writer")

ListRefresh = Literal["every-missing", "stale"]
# `progress(label, total)` opens one phase's bar and returns its advance callback.
PhasedProgress = Callable[[str, int], Callable[[int], None]]
# What a failed list refresh may raise when the lists are best effort (a full disk, a locked
# or broken store): the write itself is committed by then.
_LIST_FAILURES = (NewsrecError, sqlite3.Error, OSError)
_LISTS_PER_HOLD = 256


@dataclass(frozen=True)
class WriteOptions:
    """How a writer ends its writes.

    `refresh`: "every-missing" ranks every article without a stored list after a write (a
    batch writer: the index is complete when it returns); "stale" ranks only the lists the
    write made stale (the service: it fills the others in the background, `fill_lists`).
    `keep_floor`: estimate the calibrated relevance floor after an upsert and keep it in the
    index, so read-only readers find it. `best_effort_lists`: a failed list refresh is logged
    and the write still saved (those lists are ranked live meanwhile) instead of raised.
    `lists_per_hold`: lists stored per hold of the write lock (a bulk write re-ranks
    thousands; readers wait only for one slice).
    """

    refresh: ListRefresh = "every-missing"
    keep_floor: bool = False
    best_effort_lists: bool = False
    lists_per_hold: int = _LISTS_PER_HOLD

    @classmethod
    def for_batch(cls, settings: Settings) -> WriteOptions:
        """A process that holds the index alone (`newsrec index`, `delete`, `precompute`)."""
        return cls(refresh="every-missing", keep_floor=settings.relevance_floor == "calibrated")

    @classmethod
    def for_service(cls, settings: Settings) -> WriteOptions:
        """The service's writer: readers wait for nothing a request would not do itself (the
        floor is estimated by the first request that needs it)."""
        del settings  # nothing of the service's write sequence is configured (yet)
        return cls(refresh="stale", keep_floor=False, best_effort_lists=True)


class WriteHooks:
    """What the holder of an index does around the write phases; these defaults do nothing
    (a process that holds the index alone). Subclass and override what you need."""

    def reading(self) -> AbstractContextManager[object]:
        """Held while the writer only reads the index (planning, ranking lists)."""
        return nullcontext()

    def writing(self) -> AbstractContextManager[object]:
        """Held while the writer changes the in-memory parts (apply, delete, store lists)."""
        return nullcontext()

    def applying(self, plan: UpsertPlan) -> AbstractContextManager[ProgressCallback | None]:
        """Entered before `writing` around an apply; yields its progress callback (or None).
        The service runs the model on the plan's texts here, outside the write lock."""
        return nullcontext(None)

    def committing(self) -> AbstractContextManager[object]:
        """Inside `writing`, around an apply or delete and `applied` (the service turns a
        full disk into its own error here: nothing was committed)."""
        return nullcontext()

    def applied(self, upserted: Sequence[str], deleted: Sequence[str]) -> None:
        """Called under `writing` right after a write changed the index."""

    def lists_stored(self) -> None:
        """Called under `writing` after a slice of related lists was stored."""

    def list_phases(self) -> AbstractContextManager[PhasedProgress | None]:
        """Around an every-missing list refresh; yields its phased progress (or None)."""
        return nullcontext(None)

    def saving(self) -> AbstractContextManager[object]:
        """Around `save` (and publishing stored lists)."""
        return nullcontext()


@dataclass(frozen=True)
class DeleteOutcome:
    deleted: int  # distinct ids deleted
    missing: list[str]  # ids that were not in the index


@dataclass(frozen=True)
class ListFill:
    stored: int  # lists ranked and stored by this fill
    total: int  # lists stored in the index now


class IndexWriter:
    """Writes one open, writable index through the one sequence (see the module docstring).

    `recommender` ranks the stored related lists: built from the same `Settings` as the
    index (`build_recommender`), over this index."""

    def __init__(
        self,
        recommender: Recommender,
        options: WriteOptions,
        hooks: WriteHooks | None = None,
    ) -> None:
        self.recommender = recommender
        self.index: ArticleIndex = recommender.index
        self.options = options
        self.hooks = hooks or WriteHooks()

    # -- the sequences -------------------------------------------------------------------

    def upsert(
        self,
        articles: Sequence[Article],
        *,
        after_apply: Callable[[], None] | None = None,
    ) -> UpsertReport:
        """Plan, apply, (`after_apply`), refresh the stored lists, keep the floor, save.

        `after_apply` runs between the apply and the list refresh, outside every hook (the
        CLI adapts the topic tagger there: `newsrec index --adapt-topics`)."""
        with self.hooks.reading():
            plan = self.index.plan_upsert(articles)
        changed = [item.article.id for item in plan.changed]
        with (
            self.hooks.applying(plan) as progress,
            self.hooks.writing(),
            self.hooks.committing(),
        ):
            report = self.index.apply(plan, progress=progress)
            self.hooks.applied(changed, [])
        if after_apply is not None:
            after_apply()
        self._finish(changed, keep_floor=True)
        return report

    def delete(self, article_ids: Sequence[str]) -> DeleteOutcome:
        """Delete, refresh the lists that held the deleted articles, save. Ids not in the
        index are returned, not raised: the others are deleted all the same."""
        with self.hooks.writing(), self.hooks.committing():
            missing = self.index.delete(article_ids)
            absent = set(missing)
            present = [i for i in dict.fromkeys(article_ids) if i not in absent]
            self.hooks.applied([], present)
        self._finish([], keep_floor=False)
        return DeleteOutcome(len(present), missing)

    def retag(self, tagger: TopicTagger, *, progress: ProgressCallback | None = None) -> int:
        """Tag every article again from its stored vector, save; returns how many. Stored
        lists are unfiltered, so topics leave them as they are."""
        with self.hooks.writing():
            count = self.index.retag(tagger, progress=progress)
        with self.hooks.saving():
            self.index.save()
        return count

    def refresh_lists(self) -> int:
        """Refresh the stored lists without writing articles, then say so in the manifest
        (reader processes reload); returns how many were stored. After a change of ranking
        (`newsrec tune`), every list ranked under the old one counts as missing."""
        stored = self._refresh_lists([])
        with self.hooks.saving():
            self.index.publish_related_lists()
        return stored

    def fill_lists(
        self,
        *,
        everything: bool = False,
        progress: PhasedProgress | None = None,
        stopped: Callable[[], bool] | None = None,
    ) -> ListFill:
        """Rank and store every list the index lacks (`everything`: all of them again), a
        slice at a time, then say so in the manifest (reader processes reload).

        Each slice is ranked under `reading` alone, so writes go on meanwhile, and stored
        under `writing` only if no write came in between (else it is ranked again).
        `stopped` ends the filling early (the service is shutting down); `progress("ranking",
        total)` returns the callback advanced by each slice's size."""
        with self.hooks.reading():
            owners = owners_to_rank(self.recommender, everything=everything)
        advance = progress("ranking", len(owners)) if progress is not None else None
        size = self.options.lists_per_hold
        stored = start = 0
        while start < len(owners) and not (stopped is not None and stopped()):
            rows = owners[start : start + size]
            with self.hooks.reading():
                batch = rank_rows(self.recommender, rows)
            with self.hooks.writing():
                done = store_ranked_lists(self.recommender, batch)
                if done:
                    self.hooks.lists_stored()
            if done or not batch.lists:
                stored += len(batch.lists) if done else 0
                start += size
                if advance is not None:
                    advance(len(rows))
        # A batch writer publishes even with nothing to rank (a manifest behind the store is
        # brought up to date); the service only after storing some.
        batch_writer = self.options.refresh == "every-missing"
        if (owners or batch_writer) and not (stopped is not None and stopped()):
            with self.hooks.saving():
                self.index.publish_related_lists()
        with self.hooks.reading():
            total = self.index.related_lists.count()
        return ListFill(stored, total)

    # -- the common end ------------------------------------------------------------------

    def _finish(self, changed: Sequence[str], *, keep_floor: bool) -> None:
        """Refresh the lists the write touched, keep the floor, save: the write's end."""
        if not self.options.best_effort_lists:
            self._refresh_lists(changed)
            self._keep_floor(keep_floor)
            with self.hooks.saving():
                self.index.save()
            return
        try:
            self._refresh_lists(changed)
            self._keep_floor(keep_floor)
        except _LIST_FAILURES as error:
            # The write is committed: those lists are ranked live meanwhile and stored by
            # the next fill.
            logger.error("related lists not re-ranked after a write (served live): %s", error)
        finally:
            with self.hooks.saving():
                self.index.save()

    def _refresh_lists(self, changed: Sequence[str]) -> int:
        if self.options.refresh == "every-missing":
            with self.hooks.list_phases() as phases:
                return refresh_lists_after_write(self.recommender, changed, progress=phases)
        return self._store_stale_lists(changed)

    def _store_stale_lists(self, changed: Sequence[str]) -> int:
        """Rank the lists the write made stale under `reading` (readers meanwhile get those
        articles ranked live), then store them a slice per hold of `writing`."""
        with self.hooks.reading():
            ranked = stale_lists_ranked(self.recommender, changed)
        owners = list(ranked.lists)
        size = self.options.lists_per_hold
        stored = 0
        for start in range(0, len(owners), size):
            part = {owner: ranked.lists[owner] for owner in owners[start : start + size]}
            with self.hooks.writing():
                if store_ranked_lists(self.recommender, replace(ranked, lists=part)):
                    stored += len(part)
                    self.hooks.lists_stored()  # a cached answer may predate a refreshed list
        return stored

    def _keep_floor(self, wanted: bool) -> None:
        """Estimated while the index is writable, and kept: read-only readers find it."""
        recommender = self.recommender
        if (
            wanted
            and self.options.keep_floor
            and recommender.calibrated_floor
            and len(self.index) > 1
        ):
            recommender.relevance_floor()
