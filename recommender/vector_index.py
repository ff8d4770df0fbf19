"""FAISS over inner product (= cosine on unit vectors), keyed by the store's row ids.

The vector layer holds only ids and vectors. `exact` (a flat index) is the default;
`hnsw` trades a little recall for sub-linear search on large corpora. HNSW cannot delete in
place, so a removal rebuilds it from the vectors it still holds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import faiss
import numpy as np

INDEX_KINDS = ("exact", "hnsw")
_HNSW_NEIGHBOURS = 32
_HNSW_EF_CONSTRUCTION = 80


class VectorIndex:
    def __init__(self, dimension: int, kind: str = "exact", *, hnsw_ef_search: int = 128) -> None:
        if kind not in INDEX_KINDS:
            raise ValueError(f"unknown index type {kind!r}; choose one of {', '.join(INDEX_KINDS)}")
        self.dimension = dimension
        self.kind = kind
        self._ef_search = hnsw_ef_search
        self._index = self._empty()

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, row_ids: np.ndarray, vectors: np.ndarray) -> None:
        """row_ids: (m,) int64, not yet present; vectors: (m, dimension) float32."""
        if len(row_ids):
            self._index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32),
                np.ascontiguousarray(row_ids, dtype=np.int64),
            )

    def remove(self, row_ids: np.ndarray) -> None:
        row_ids = np.ascontiguousarray(row_ids, dtype=np.int64)
        if not len(row_ids):
            return
        if self.kind == "exact":
            self._index.remove_ids(row_ids)
            return
        kept_ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        keep = ~np.isin(kept_ids, row_ids)
        vectors = self._index.index.reconstruct_n(0, len(kept_ids))
        self._index = self._empty()
        self.add(kept_ids[keep], vectors[keep])

    def vectors_of(self, row_ids: np.ndarray) -> np.ndarray:
        """The stored vectors: (m,) -> (m, dimension). Raises KeyError for an absent id."""
        out = np.empty((len(row_ids), self.dimension), dtype=np.float32)
        for position, row_id in enumerate(row_ids):
            try:
                out[position] = self._index.reconstruct(int(row_id))
            except RuntimeError:
                raise KeyError(int(row_id)) from None
        return out

    def search(
        self, queries: np.ndarray, depth: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top `depth` by inner product for each query.

        queries: (q, dimension); allowed: bitmap (packed, little bit order) over row ids, or
        None for all. Returns scores (q, depth) and row_ids (q, depth), -1 where fewer exist.
        """
        depth = max(1, min(depth, len(self)))
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        params = self._search_parameters(allowed)
        scores, row_ids = self._index.search(queries, depth, params=params)
        return scores, row_ids

    def save(self, path: Path) -> None:
        """Write to `path` and fsync it; the caller publishes it atomically."""
        faiss.write_index(self._index, str(path))
        with path.open("rb") as written:
            os.fsync(written.fileno())

    @classmethod
    def load(cls, path: Path, kind: str, *, hnsw_ef_search: int = 128) -> VectorIndex:
        loaded = faiss.read_index(str(path))
        index = cls(loaded.d, kind, hnsw_ef_search=hnsw_ef_search)
        index._index = loaded
        return index

    def _empty(self) -> Any:
        if self.kind == "exact":
            inner = faiss.IndexFlatIP(self.dimension)
        else:
            inner = faiss.IndexHNSWFlat(
                self.dimension, _HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT
            )
            inner.hnsw.efConstruction = _HNSW_EF_CONSTRUCTION
        return faiss.IndexIDMap2(inner)

    def _search_parameters(self, allowed: np.ndarray | None) -> Any:
        selector = None
        if allowed is not None:
            selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(allowed))
        if self.kind == "hnsw":
            return faiss.SearchParametersHNSW(sel=selector, efSearch=self._ef_search)
        return faiss.SearchParameters(sel=selector) if selector is not None else None


def bitmap_of(row_ids: np.ndarray) -> np.ndarray:
    """A packed bitmap over row ids 0..max, as FAISS's IDSelectorBitmap reads it."""
    size = int(row_ids.max()) + 1 if len(row_ids) else 1
    flags = np.zeros(size, dtype=bool)
    flags[row_ids] = True
    return np.packbits(flags, bitorder="little")
