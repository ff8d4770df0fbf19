"""FAISS over inner product (= cosine on unit vectors), keyed by the store's row ids.

The vector layer holds only ids and vectors. Two kinds: `exact` (a flat index, searched by
brute force) and `hnsw` (a graph: sub-linear search for a little recall). `auto`, the
default setting, picks by corpus size (`choose_index_kind`): exact below `AUTO_HNSW_FROM`
vectors, HNSW from there on. HNSW cannot delete in place: a removed vector stays in the
graph as a tombstone (its id becomes negative, and searches select ids >= 0 only), and the
graph is rebuilt from the live vectors once tombstones pass a tenth of it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from recommender.dates import PublishedTime
from recommender.index.vectors.protocol import RowSelection, bitmap_in

INDEX_KINDS = ("exact", "hnsw")
INDEX_TYPES = ("auto", *INDEX_KINDS)  # what a setting may ask for
# Measured with `python -m eval.bench.runner query` (docs/performance.md): one exact search of
# depth 200 costs about 0.06 us per vector (2.8 ms at WCEP's 49,684, 9 ms at 100k), HNSW
# 0.4-0.6 ms there at recall@10 >= 0.98. Below 50k exact stays under ~3 ms, needs no graph
# build and is exact under any filter; from 50k the linear cost dominates a related query.
AUTO_HNSW_FROM = 50_000
# An HNSW index shrinking by deletes goes back to exact only below this share of the
# threshold, so a corpus hovering at the threshold is not rebuilt back and forth.
_AUTO_EXACT_BELOW = 0.8
# At 1M vectors (95% synthetic stories) the graph and breadth below measured recall@10 0.984,
# p50 4.4 ms, p99 5.0 ms for a search of depth 200; M 32, efConstruction 80 reached only
# 0.949 at ef 500 (`python -m eval.bench.runner query --sizes 1m --graph 48,200`). On real vectors
# (WCEP) even the smaller graph gives 0.999 at ef 200. The price: a 2.7x longer build.
DEFAULT_EF_SEARCH = 500
_TOMBSTONE = -2  # the id of a removed HNSW node (-1 is FAISS's "no result")
_MAX_TOMBSTONES = 0.1  # rebuild an HNSW graph past this share of removed nodes
_LIVE_IDS = (0, 2**62)  # an IDSelectorRange over every valid row id
_QUERY_BLOCK = 256  # queries scored at once: bounds the (block, n) score matrix
# Fewer queries than this are searched one thread each, by FAISS's own SIMD kernels (the
# same cut-off FAISS uses between its per-query code and BLAS). A request's single query
# gains nothing from a second thread, and on a shared two-core machine waking one (OpenMP's
# and OpenBLAS's spinning pools) measured 16-24 ms against 0.05 ms: see eval/bench_query.
_SINGLE_THREAD_BELOW = 20
HNSW_NEIGHBOURS = 48
HNSW_EF_CONSTRUCTION = 200


class VectorIndex:
    def __init__(
        self,
        dimension: int,
        kind: str = "exact",
        *,
        hnsw_ef_search: int = DEFAULT_EF_SEARCH,
        hnsw_neighbours: int = HNSW_NEIGHBOURS,
        hnsw_ef_construction: int = HNSW_EF_CONSTRUCTION,
    ) -> None:
        """`hnsw_neighbours` (M) and `hnsw_ef_construction` shape a graph built from here;
        a loaded graph keeps its own."""
        if kind not in INDEX_KINDS:
            raise ValueError(f"unknown index type {kind!r}; choose one of {', '.join(INDEX_KINDS)}")
        self.dimension = dimension
        self.kind = kind
        self._ef_search = hnsw_ef_search
        self._graph = (hnsw_neighbours, hnsw_ef_construction)
        self._index = self._empty()
        self._ids_cache: np.ndarray | None = None
        self._tombstones = 0

    def __len__(self) -> int:
        return int(self._index.ntotal) - self._tombstones

    @property
    def ef_search(self) -> int:
        """HNSW's search breadth; a search for depth d explores max(ef_search, d) nodes."""
        return self._ef_search

    @ef_search.setter
    def ef_search(self, value: int) -> None:
        self._ef_search = value

    def add(self, row_ids: np.ndarray, vectors: np.ndarray) -> None:
        """row_ids: (m,) int64, not yet present; vectors: (m, dimension) float32."""
        self._ids_cache = None
        if len(row_ids):
            self._index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32),
                np.ascontiguousarray(row_ids, dtype=np.int64),
            )

    def converted(self, kind: str) -> VectorIndex:
        """This index as another kind, same ids and vectors (itself when already that kind)."""
        if kind == self.kind:
            return self
        neighbours, ef_construction = self._graph
        other = VectorIndex(
            self.dimension,
            kind,
            hnsw_ef_search=self._ef_search,
            hnsw_neighbours=neighbours,
            hnsw_ef_construction=ef_construction,
        )
        other.add(*self._live())
        return other

    def _live(self) -> tuple[np.ndarray, np.ndarray]:
        """Ids (m,) and vectors (m, dimension) of every vector not removed."""
        ids = self._row_id_array()
        vectors = self._index.index.reconstruct_n(0, len(ids)) if len(ids) else None
        if vectors is None:
            return ids, np.zeros((0, self.dimension), dtype=np.float32)
        live = ids >= 0
        return ids[live], vectors[live]

    def remove(self, row_ids: np.ndarray) -> None:
        row_ids = np.ascontiguousarray(row_ids, dtype=np.int64)
        if not len(row_ids):
            return
        self._ids_cache = None
        if self.kind == "exact":
            self._index.remove_ids(row_ids)
            return
        # Rebuilding a graph of a million vectors takes minutes: mark the nodes instead.
        ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        removed = np.isin(ids, row_ids)
        if not removed.any():
            return
        ids[removed] = _TOMBSTONE
        self._tombstones += int(removed.sum())
        if self._tombstones > _MAX_TOMBSTONES * len(ids):
            live = ids >= 0
            vectors = self._index.index.reconstruct_n(0, len(ids))
            self._index, self._tombstones = self._empty(), 0
            self.add(ids[live], vectors[live])
            return
        faiss.copy_array_to_vector(ids, self._index.id_map)
        self._index.construct_rev_map()  # vectors_of looks ids up there

    def vectors_of(self, row_ids: np.ndarray) -> np.ndarray:
        """The stored vectors: (m,) -> (m, dimension). Raises KeyError for an absent id."""
        row_ids = np.ascontiguousarray(row_ids, dtype=np.int64)
        if not len(row_ids):
            return np.zeros((0, self.dimension), dtype=np.float32)
        try:
            return np.asarray(self._index.reconstruct_batch(row_ids), dtype=np.float32)
        except RuntimeError:
            missing = np.setdiff1d(row_ids, self._row_id_array())
            raise KeyError(int(missing[0]) if len(missing) else -1) from None

    def search(
        self, queries: np.ndarray, depth: int, allowed: RowSelection | np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top `depth` by inner product for each query.

        queries: (q, dimension); allowed: bitmap (packed, little bit order) over row ids, or
        a selection (its bitmap is exact: the payload conditions are for Qdrant), or None for
        all. Returns scores (q, depth) and row_ids (q, depth), -1 where fewer exist.
        """
        allowed = bitmap_in(allowed)
        depth = max(1, min(depth, len(self)))
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if self.kind == "exact" and len(queries) >= _SINGLE_THREAD_BELOW:
            return self._exact_search(queries, depth, allowed)
        params = self._search_parameters(allowed)
        if len(queries) >= _SINGLE_THREAD_BELOW:
            scores, row_ids = self._index.search(queries, depth, params=params)
        else:
            with _one_openmp_thread():
                scores, row_ids = self._index.search(queries, depth, params=params)
        # FAISS pads a short result with id -1 and the worst float; say -inf, as numpy does.
        scores[row_ids < 0] = -np.inf
        return scores, row_ids

    def describe(
        self,
        row_ids: np.ndarray,
        published: Sequence[PublishedTime | None],
        topics: Sequence[tuple[str, ...]],
    ) -> None:
        """Nothing to keep: FAISS filters by the bitmap the catalog builds."""

    def _exact_search(
        self, queries: np.ndarray, depth: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Brute force with numpy's BLAS over the flat index's own storage (no copy).

        The faiss-cpu wheel ships an OpenBLAS that falls back to a generic kernel on this
        machine's CPU ("Prescott"): its flat search measured 10x slower than the same
        product through numpy (eval/bench notes in docs/performance.md).
        """
        total = len(self)
        flat = faiss.downcast_index(self._index.index)
        stored = faiss.rev_swig_ptr(flat.get_xb(), total * self.dimension)
        stored = stored.reshape(total, self.dimension)
        ids = self._row_id_array()
        eligible = None if allowed is None else in_bitmap(allowed, ids)
        scores_out = np.full((len(queries), depth), -np.inf, dtype=np.float32)
        ids_out = np.full((len(queries), depth), -1, dtype=np.int64)
        for start in range(0, len(queries), _QUERY_BLOCK):
            block = queries[start : start + _QUERY_BLOCK] @ stored.T
            if eligible is not None:
                block[:, ~eligible] = -np.inf
            if depth < total:
                top = np.argpartition(-block, depth - 1, axis=1)[:, :depth]
            else:
                top = np.broadcast_to(np.arange(total), block.shape).copy()
            top_scores = np.take_along_axis(block, top, axis=1)
            order = np.argsort(-top_scores, axis=1, kind="stable")
            top = np.take_along_axis(top, order, axis=1)
            top_scores = np.take_along_axis(top_scores, order, axis=1)
            found = np.isfinite(top_scores)
            rows = slice(start, start + len(block))
            scores_out[rows] = np.where(found, top_scores, -np.inf)
            ids_out[rows] = np.where(found, ids[top], -1)
        return scores_out, ids_out

    def _row_id_array(self) -> np.ndarray:
        if self._ids_cache is None:
            self._ids_cache = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        return self._ids_cache

    def save(self, path: Path) -> None:
        """Write to `path` and fsync it; the caller publishes it atomically."""
        faiss.write_index(self._index, str(path))
        with path.open("rb") as written:
            os.fsync(written.fileno())

    @classmethod
    def load(cls, path: Path, kind: str, *, hnsw_ef_search: int = DEFAULT_EF_SEARCH) -> VectorIndex:
        loaded = faiss.read_index(str(path))
        index = cls(loaded.d, kind, hnsw_ef_search=hnsw_ef_search)
        index._index = loaded
        index._ids_cache = None
        index._tombstones = int((index._row_id_array() < 0).sum())
        if kind == "hnsw":  # a rebuild (tombstones, conversion) keeps the saved graph's shape
            graph = faiss.downcast_index(loaded.index).hnsw
            index._graph = (graph.nb_neighbors(0) // 2, graph.efConstruction)
        return index

    def _empty(self) -> Any:
        if self.kind == "exact":
            inner = faiss.IndexFlatIP(self.dimension)
        else:
            neighbours, ef_construction = self._graph
            inner = faiss.IndexHNSWFlat(self.dimension, neighbours, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = ef_construction
        return faiss.IndexIDMap2(inner)

    def _search_parameters(self, allowed: np.ndarray | None) -> Any:
        selector = None
        if allowed is not None:
            # Ids are read unsigned: a tombstone's negative id is never in the bitmap.
            selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(allowed))
        elif self._tombstones:
            selector = faiss.IDSelectorRange(*_LIVE_IDS)
        if self.kind == "hnsw":
            return faiss.SearchParametersHNSW(sel=selector, efSearch=self._ef_search)
        return faiss.SearchParameters(sel=selector) if selector is not None else None


@contextmanager
def _one_openmp_thread() -> Iterator[None]:
    """FAISS's OpenMP regions run on this thread alone for the duration.

    The thread count is an OpenMP per-thread setting (libgomp's ICV), so other threads,
    an index build among them, keep theirs.
    """
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def choose_index_kind(
    requested: str, count: int, current: str | None = None, *, hnsw_from: int = AUTO_HNSW_FROM
) -> str:
    """The kind of vector index to hold `count` vectors: `exact` or `hnsw`.

    `exact` and `hnsw` are taken as asked. `auto` gives exact below `hnsw_from` vectors and
    HNSW from there on, except that an index `current`ly HNSW stays HNSW down to 80% of
    `hnsw_from` (hysteresis: each switch rebuilds the index).
    """
    if requested not in INDEX_TYPES:
        raise ValueError(
            f"unknown index type {requested!r}; choose one of {', '.join(INDEX_TYPES)}"
        )
    if requested != "auto":
        return requested
    if count >= hnsw_from:
        return "hnsw"
    if current == "hnsw" and count >= _AUTO_EXACT_BELOW * hnsw_from:
        return "hnsw"
    return "exact"


def bitmap_of(row_ids: np.ndarray) -> np.ndarray:
    """A packed bitmap over row ids 0..max, as FAISS's IDSelectorBitmap reads it."""
    size = int(row_ids.max()) + 1 if len(row_ids) else 1
    flags = np.zeros(size, dtype=bool)
    flags[row_ids] = True
    return np.packbits(flags, bitorder="little")


def in_bitmap(bitmap: np.ndarray, row_ids: np.ndarray) -> np.ndarray:
    """Membership of row ids in a packed little-endian bitmap: (m,) bool."""
    byte = row_ids >> 3
    inside = byte < len(bitmap)
    bits = np.zeros(len(row_ids), dtype=bool)
    bits[inside] = (bitmap[byte[inside]] >> (row_ids[inside] & 7)) & 1 == 1
    return bits
