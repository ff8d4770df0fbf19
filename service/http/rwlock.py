"""A readers-writer lock: many readers at once, or one writer alone.

The core's `ArticleIndex` is not thread-safe for writes: an upsert rewrites the catalog's
arrays and the lexical matrices while a related query reads them. Readers share the lock;
a write holds it alone. A waiting writer holds back new readers, so a steady stream of
reads cannot starve writes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ReadersWriterLock:
    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._condition:
            while self._writing or self._writers_waiting:
                self._condition.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._condition:
                self._readers -= 1
                if not self._readers:
                    self._condition.notify_all()

    @contextmanager
    def reading_if_free(self) -> Iterator[bool]:
        """Read-lock only if that needs no wait (no writer holds or awaits the lock); yields
        whether it did. For work short enough to run on the event loop, which must not block."""
        with self._condition:
            free = not (self._writing or self._writers_waiting)
            if free:
                self._readers += 1
        try:
            yield free
        finally:
            if free:
                with self._condition:
                    self._readers -= 1
                    if not self._readers:
                        self._condition.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._condition:
            self._writers_waiting += 1
            try:
                while self._writing or self._readers:
                    self._condition.wait()
            finally:
                self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._condition:
                self._writing = False
                self._condition.notify_all()
