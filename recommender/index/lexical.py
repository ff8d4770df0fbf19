"""The lexical side of ranking: TF-IDF cosine over the whole article text.

The dense model reads the first 256 tokens; this side reads everything, for the cost of a
tokeniser. Terms are hashed (scikit-learn's HashingVectorizer), so an article's term vector
is a pure function of its text: it is computed once at upsert and stored, and no
vocabulary has to be kept in step. Document frequencies are counted from the stored
vectors; idf and document norms are derived in memory.

Candidate generation reads the posting lists of the query's strongest terms only (as
"More Like This" does); the candidates are then scored with the full query vector.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sparse

HASHED_FEATURES = 2**20
# As Elasticsearch's More Like This does by default: the 25 strongest terms find candidates.
QUERY_TERMS = 25
# A document-frequency cut-off drops a term found in more than `max_df` of the articles, but
# never one found in this many articles or fewer: in a small index a share of the articles is
# a handful, and cutting at it would drop the very terms a story's articles share.
MAX_DF_MIN_DOCUMENTS = 100


@functools.cache
def _vectorizer() -> Any:
    # Imported on first use: scikit-learn takes over a second to import, and queries on
    # stored articles never tokenise anything.
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        n_features=HASHED_FEATURES,
        alternate_sign=False,
        norm=None,
        stop_words="english",
        dtype=np.float32,
    )


def term_vectors(texts: Sequence[str]) -> sparse.csr_matrix:
    """Sublinear term frequencies, 1 + log(tf): (n, HASHED_FEATURES) float32 CSR."""
    counts = _vectorizer().transform(list(texts)).tocsr()
    counts.data = (1.0 + np.log(counts.data)).astype(np.float32)
    return counts


def encode_terms(rows: sparse.csr_matrix) -> list[bytes]:
    """Each row as bytes: int32 term ids then float32 weights."""
    indices = rows.indices.astype(np.int32)
    weights = rows.data.astype(np.float32)
    bounds = rows.indptr
    return [
        indices[bounds[i] : bounds[i + 1]].tobytes() + weights[bounds[i] : bounds[i + 1]].tobytes()
        for i in range(rows.shape[0])
    ]


def decode_terms(blob: bytes) -> tuple[np.ndarray, np.ndarray]:
    size = len(blob) // 8
    indices = np.frombuffer(blob, dtype=np.int32, count=size)
    weights = np.frombuffer(blob, dtype=np.float32, count=size, offset=size * 4)
    return indices, weights


class LexicalIndex:
    """Unit TF-IDF vectors of every article, searchable by term, keyed by row id.

    Changes are queued and applied in one rebuild of the weighted matrices before the next
    query (tens of milliseconds per 100k short articles), so idf always reflects the current
    corpus and a bulk ingest does not rebuild once per batch.
    """

    def __init__(
        self, row_ids: np.ndarray, frequencies: sparse.csr_matrix, *, max_df: float = 1.0
    ) -> None:
        if not 0.0 < max_df <= 1.0:
            raise ValueError(f"max_df must be in (0, 1], got {max_df}")
        self.max_df = max_df
        self._pending: list[tuple[np.ndarray, sparse.csr_matrix | None]] = []
        self._build(np.asarray(row_ids, dtype=np.int64), frequencies)

    @classmethod
    def from_blobs(
        cls, row_ids: np.ndarray, blobs: Sequence[bytes], *, max_df: float = 1.0
    ) -> LexicalIndex:
        return cls(row_ids, frequency_rows(blobs), max_df=max_df)

    def __len__(self) -> int:
        self._apply_pending()
        return len(self._row_ids)

    # -- updates ---------------------------------------------------------------------------

    def upsert(self, row_ids: np.ndarray, frequencies: sparse.csr_matrix) -> None:
        self._pending.append((np.asarray(row_ids, dtype=np.int64), frequencies))

    def remove(self, row_ids: np.ndarray) -> None:
        self._pending.append((np.asarray(row_ids, dtype=np.int64), None))

    def _apply_pending(self) -> None:
        if not self._pending:
            return
        row_ids, frequencies = self._row_ids, self._frequencies
        for changed, rows in self._pending:
            keep = ~np.isin(row_ids, changed)
            row_ids, frequencies = row_ids[keep], frequencies[keep]
            if rows is not None:
                row_ids = np.concatenate([row_ids, changed])
                frequencies = sparse.vstack([frequencies, rows], format="csr")
        self._pending = []
        order = np.argsort(row_ids, kind="stable")
        self._build(row_ids[order], frequencies[order])

    # -- queries ---------------------------------------------------------------------------

    def query_of(self, row_id: int) -> sparse.csr_matrix:
        """The stored article's unit TF-IDF vector: (1, HASHED_FEATURES)."""
        self._apply_pending()
        position = int(self._positions(np.asarray([row_id]))[0])
        if position < 0:
            raise KeyError(row_id)
        return self._weighted[position]

    def rows_of(self, row_ids: np.ndarray) -> sparse.csr_matrix:
        """The stored articles' unit TF-IDF vectors: (len(row_ids), HASHED_FEATURES); an
        unknown row id gives an empty row."""
        self._apply_pending()
        positions = self._positions(np.asarray(row_ids, dtype=np.int64))
        known = positions >= 0
        rows = self._weighted[np.where(known, positions, 0)]
        if known.all():
            return sparse.csr_matrix(rows)
        return sparse.csr_matrix(sparse.diags(known.astype(np.float32)) @ rows)

    def query_for_text(self, text: str) -> sparse.csr_matrix:
        self._apply_pending()
        return weighted_rows(term_vectors([text]), self._idf)

    def search(self, query: sparse.csr_matrix, depth: int) -> tuple[np.ndarray, np.ndarray]:
        """Top `depth` (row_ids, cosine scores), best first.

        Candidates are the articles sharing the query's strongest terms, best by those terms;
        each is then scored with the full query vector.
        """
        self._apply_pending()
        if query.nnz == 0 or not len(self._row_ids):
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        strongest = np.argsort(-query.data)[:QUERY_TERMS]
        # The dot product over the strongest terms alone shortlists candidates cheaply; the
        # shortlist is then scored with every term.
        partial = self._columns[:, query.indices[strongest]] @ query.data[strongest]
        matching = np.flatnonzero(partial)
        shortlist = max(2 * depth, depth + 50)
        if len(matching) > shortlist:
            matching = matching[np.argpartition(-partial[matching], shortlist)[:shortlist]]
        scores = self._cosine(query, matching)
        top = np.argsort(-scores, kind="stable")[:depth]
        return self._row_ids[matching[top]], scores[top]

    def scores(self, query: sparse.csr_matrix, row_ids: np.ndarray) -> np.ndarray:
        """Cosine of the query with each given article (0 for unknown ones): (m,) float32."""
        self._apply_pending()
        positions = self._positions(np.asarray(row_ids, dtype=np.int64))
        known = positions >= 0
        scores = np.zeros(len(row_ids), dtype=np.float32)
        scores[known] = self._cosine(query, positions[known])
        return scores

    # -- internals -------------------------------------------------------------------------

    def _build(self, row_ids: np.ndarray, frequencies: sparse.csr_matrix) -> None:
        self._row_ids = row_ids
        self._frequencies = frequencies.astype(np.float32).tocsr()
        document_frequency = np.bincount(self._frequencies.indices, minlength=HASHED_FEATURES)
        self._idf = inverse_document_frequency(document_frequency, len(row_ids), self.max_df)
        self._weighted = weighted_rows(self._frequencies, self._idf)
        self._columns = self._weighted.tocsc()

    def _cosine(self, query: sparse.csr_matrix, positions: np.ndarray) -> np.ndarray:
        if not len(positions):
            return np.zeros(0, dtype=np.float32)
        # A dense copy of the query multiplies far faster than a sparse one (measured); the
        # copy is a per-thread buffer, cleared after use: allocating 4 MB per call was a
        # third of the lexical side's cost when ranking lists (profiled on `newsrec index`).
        dense_query = _scratch_vector()
        dense_query[query.indices] = query.data
        try:
            return np.asarray(self._weighted[positions] @ dense_query, dtype=np.float32)
        finally:
            dense_query[query.indices] = 0.0

    def _positions(self, row_ids: np.ndarray) -> np.ndarray:
        """Positions of row ids in the matrix, -1 where absent."""
        if not len(self._row_ids):
            return np.full(len(row_ids), -1, dtype=np.int64)
        positions = np.minimum(np.searchsorted(self._row_ids, row_ids), len(self._row_ids) - 1)
        return np.where(self._row_ids[positions] == row_ids, positions, -1)


_SCRATCH = threading.local()


def _scratch_vector() -> np.ndarray:
    """This thread's zeroed (HASHED_FEATURES,) float32 buffer."""
    vector: np.ndarray | None = getattr(_SCRATCH, "vector", None)
    if vector is None:
        vector = np.zeros(HASHED_FEATURES, dtype=np.float32)
        _SCRATCH.vector = vector
    return vector


def inverse_document_frequency(
    document_frequency: np.ndarray,
    documents: int,
    max_df: float = 1.0,
    min_documents: int = MAX_DF_MIN_DOCUMENTS,
) -> np.ndarray:
    """Smoothed idf, log((1 + n) / (1 + df)) + 1, of every term: (terms,) float32.

    A term in more than max(`max_df` * n, `min_documents`) articles gets 0: it is dropped,
    as scikit-learn's `max_df` drops it from the vocabulary (1.0 keeps every term).
    """
    idf = np.log((1.0 + documents) / (1.0 + document_frequency)) + 1.0
    if max_df < 1.0:
        idf[document_frequency > max(max_df * documents, min_documents)] = 0.0
    return idf.astype(np.float32)


def weighted_rows(frequencies: sparse.csr_matrix, idf: np.ndarray) -> sparse.csr_matrix:
    """Unit TF-IDF rows of term frequencies: a dropped term (idf 0) is no entry at all, so
    it neither counts as a distinct term nor takes a share of the norm."""
    weighted = frequencies.multiply(idf[None, :]).tocsr()
    weighted.eliminate_zeros()
    return _unit_rows(weighted)


def _unit_rows(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sparse.csr_matrix(sparse.diags(scale.astype(np.float32)) @ matrix)


def frequency_rows(blobs: Sequence[bytes]) -> sparse.csr_matrix:
    """Stored term blobs back into a (len(blobs), HASHED_FEATURES) CSR matrix."""
    pointers = np.zeros(len(blobs) + 1, dtype=np.int64)
    parts = [decode_terms(blob) for blob in blobs]
    pointers[1:] = np.cumsum([len(indices) for indices, _ in parts])
    indices = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int32)
    data = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.float32)
    return sparse.csr_matrix((data, indices, pointers), shape=(len(blobs), HASHED_FEATURES))
