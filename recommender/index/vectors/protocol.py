"""What the article index and the recommender need of a vector store, whichever engine holds it.

Two backends meet it: `VectorIndex` (FAISS, in process: the default) and `QdrantVectorIndex`
(a Qdrant collection, local or by URL). Both key vectors by the store's row ids and hold only
ids, vectors and, for Qdrant, the few fields its filters read; articles live in SQLite.

A filtered search takes a `RowSelection`: the exact set of allowed rows as a bitmap (what
FAISS's id selector reads) and, when the recommender can say it, the same set as conditions
on each row's publication time and topics (what Qdrant evaluates on its payload, so a date
window over ten million articles is not sent as a list of ids).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from recommender.dates import PublishedTime

VECTOR_BACKENDS = ("faiss", "qdrant")


@dataclass(frozen=True, slots=True)
class PayloadConditions:
    """A row set as conditions on its publication and topics; all given ones must hold.

    Bounds are inclusive epoch seconds. `start_*` bound the publication's first instant,
    `last_to` its last one (a bare date's last instant is just before the next midnight).
    Any bound, or `dated`, leaves out undated rows.
    """

    dated: bool = False
    start_from: float | None = None
    start_to: float | None = None
    last_to: float | None = None
    topic: str | None = None


@dataclass(frozen=True, slots=True)
class RowSelection:
    """The rows a search may return: `bitmap` (packed, little bit order, over row ids) is
    exact; `conditions`, when present, describe the same rows for engines that filter on
    payload."""

    bitmap: np.ndarray
    conditions: PayloadConditions | None = None


def bitmap_in(allowed: RowSelection | np.ndarray | None) -> np.ndarray | None:
    """The bitmap of a selection (a bare bitmap is its own)."""
    return allowed.bitmap if isinstance(allowed, RowSelection) else allowed


class VectorStore(Protocol):
    """Row ids to unit vectors, searched by inner product."""

    dimension: int
    kind: str  # "exact" or "hnsw" (FAISS), "qdrant"

    def __len__(self) -> int: ...

    def add(self, row_ids: np.ndarray, vectors: np.ndarray) -> None:
        """row_ids: (m,) int64, not yet present; vectors: (m, dimension) float32."""

    def remove(self, row_ids: np.ndarray) -> None:
        """Drop the given rows; absent ones are ignored."""

    def vectors_of(self, row_ids: np.ndarray) -> np.ndarray:
        """(m,) -> (m, dimension) float32; raises KeyError for an absent id."""

    def search(
        self, queries: np.ndarray, depth: int, allowed: RowSelection | np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top `depth` per query: scores (q, depth), row_ids (q, depth), -1 / -inf padded."""

    def describe(
        self,
        row_ids: np.ndarray,
        published: Sequence[PublishedTime | None],
        topics: Sequence[tuple[str, ...]],
    ) -> None:
        """What payload filters read of these rows (present ones); FAISS keeps nothing."""


def last_instant(published: PublishedTime) -> float:
    """A publication's last instant: itself, or for a bare date the float before midnight."""
    return math.nextafter(published.end, -math.inf) if published.is_day else published.start


def earlier_than(moment: PublishedTime) -> PayloadConditions:
    """The rows `Catalog.before(moment)` selects: over by the time `moment` starts."""
    return PayloadConditions(last_to=math.nextafter(moment.start, -math.inf))


def later_than(moment: PublishedTime) -> PayloadConditions:
    """The rows `Catalog.after(moment)` selects: starting once `moment` is over."""
    start = moment.end if moment.is_day else math.nextafter(moment.start, math.inf)
    return PayloadConditions(start_from=start)
