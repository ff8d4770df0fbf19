"""The service's hooks into the core's write sequence (`recommender/writer.py`): its locks,
the model's priming before the write lock, the snapshot's bookkeeping, and the store's
failures (a full disk, an unpublished snapshot) as the errors the HTTP layer answers."""

from __future__ import annotations

import errno
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager

from recommender.index.upsert_plan import UpsertPlan
from recommender.writer import WriteHooks
from service.http.failures import last_line
from service.http.snapshot import Snapshot

logger = logging.getLogger("newsrec.service")


class SnapshotPublishError(Exception):
    """The store committed the write but the vector snapshot could not be published."""


class StorageFullError(Exception):
    """The disk (or the store's quota) is full: the write was not committed (507)."""


class ServiceWriteHooks(WriteHooks):
    """A write of the service: readers share the index meanwhile (see the module docstring).

    The caller holds the write mutex: no other write changes the index meanwhile."""

    def __init__(self, snapshot: Snapshot, prime: Callable[[list[str]], None]) -> None:
        self._snapshot = snapshot
        self._prime = prime

    def reading(self) -> AbstractContextManager[object]:
        return self._snapshot.lock.reading()

    def writing(self) -> AbstractContextManager[object]:
        return self._snapshot.lock.writing()

    @contextmanager
    def applying(self, plan: UpsertPlan) -> Iterator[None]:
        # The model runs here, before the write lock: readers wait only for the store.
        with self._snapshot.lock.reading():
            texts = self._snapshot.index.texts_to_encode(plan)
        self._prime(list(texts.values()))
        yield None

    def committing(self) -> AbstractContextManager[object]:
        return _not_committed_when_full()

    def applied(self, upserted: Sequence[str], deleted: Sequence[str]) -> None:
        """Bring the derived parts in step, still under the write lock."""
        snapshot = self._snapshot
        index = snapshot.index
        index.apply_queued_changes()  # now, not in a concurrent reader
        snapshot.titles.upsert(index.summaries_of(upserted))
        snapshot.titles.remove(list(deleted))
        snapshot.generation = index.generation
        snapshot.version += 1

    def lists_stored(self) -> None:
        self._snapshot.version += 1  # a cached answer may predate a refreshed list

    @contextmanager
    def saving(self) -> Iterator[None]:
        """The vector snapshot and manifest published, so reader processes pick the write
        up: outside the readers-writer lock (it only reads the in-memory parts)."""
        try:
            yield
        # FAISS reports a failed write (a full disk) as RuntimeError, not OSError.
        except (OSError, RuntimeError, sqlite3.Error) as error:
            reason = getattr(error, "strerror", None) or last_line(error)
            logger.error("vector snapshot not published after a committed write: %s", reason)
            raise SnapshotPublishError(
                f"the write is committed to the store, but the vector snapshot could not be "
                f"published ({reason}); it is rebuilt on the next load"
            ) from error


class FillHooks(WriteHooks):
    """The background fill of missing lists: it holds the write mutex only to store a
    slice and to publish, so writes go on between slices."""

    def __init__(self, snapshot: Snapshot, write_mutex: threading.Lock) -> None:
        self._snapshot = snapshot
        self._write_mutex = write_mutex

    def reading(self) -> AbstractContextManager[object]:
        return self._snapshot.lock.reading()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._write_mutex, self._snapshot.lock.writing():
            yield

    def lists_stored(self) -> None:
        self._snapshot.version += 1

    def saving(self) -> AbstractContextManager[object]:
        return self._write_mutex


@contextmanager
def _not_committed_when_full() -> Iterator[None]:
    """SQLite's "database or disk is full" (or ENOSPC on a file) as `StorageFullError`: the
    transaction was rolled back, so nothing changed, here or in memory."""
    try:
        yield
    except sqlite3.OperationalError as error:
        if "full" not in str(error):
            raise
        raise StorageFullError(
            f"the write was not committed: {error}; nothing was written"
        ) from error
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise StorageFullError(
            f"the write was not committed: {error.strerror}; nothing was written"
        ) from error
