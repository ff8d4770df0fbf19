"""The service's response cache: rendered answers kept per index version, bounded by
entries and by bytes."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable


class ResponseCache:
    """Rendered responses by (snapshot, version, request); LRU, thread-safe; 0 = off.

    Bounded by entries and by bytes: the keys hold the request (ids, filters), the values
    lists of any length, so a count alone lets memory grow with distinct requests."""

    def __init__(self, size: int, max_bytes: int | None = None) -> None:
        self._size = size
        self._max_bytes = max_bytes
        self._bytes = 0
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def cached_bytes(self) -> int:
        """What the cached entries weigh (values and their keys' text), as bounded."""
        return self._bytes

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: Hashable, value: bytes) -> None:
        weight = _weight(key, value)
        if not self._size or (self._max_bytes is not None and weight > self._max_bytes):
            return
        with self._lock:
            previous = self._items.pop(key, None)
            if previous is not None:
                self._bytes -= _weight(key, previous)
            self._items[key] = value
            self._bytes += weight
            while len(self._items) > self._size or (
                self._max_bytes is not None and self._bytes > self._max_bytes
            ):
                old_key, old_value = self._items.popitem(last=False)
                self._bytes -= _weight(old_key, old_value)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


def _weight(key: Hashable, value: bytes) -> int:
    """An entry's bytes: the value, its key's text and a fixed overhead for the objects."""
    return len(value) + len(repr(key)) + 200
