"""What an index is opened with (`IndexOptions`) and what it says of itself (`IndexInfo`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recommender.index.vectors.faiss_index import AUTO_HNSW_FROM, DEFAULT_EF_SEARCH


@dataclass(frozen=True)
class IndexInfo:
    directory: Path
    articles: int
    embedder: str
    dimension: int
    index_type: str
    generation: int
    schema_version: int


@dataclass(frozen=True)
class IndexOptions:
    """How an index stores, searches and writes: one object from the settings to the index
    (`system.index_options`), not a keyword per setting at every hop.

    `index_type` "auto" keeps the vectors exact below `hnsw_from` articles and in HNSW from
    there on; the kind changes when `save` publishes a snapshot (a snapshot of either kind is
    read as it is). `vector_backend` "qdrant" keeps the vectors in a Qdrant collection
    instead of FAISS (`qdrant_url`: a URL, ":memory:", or None for local mode in the index
    directory). The store records the backend; None opens the recorded one, and asking for
    the other is an `IndexMismatchError` (see `backend_choice`). `lexical_max_df` is the
    lexical side's document-frequency cut-off (see lexical.inverse_document_frequency).
    """

    index_type: str = "auto"
    hnsw_from: int = AUTO_HNSW_FROM
    hnsw_ef_search: int = DEFAULT_EF_SEARCH
    duplicate_threshold: float = 0.7
    write_batch_size: int = 1024
    vector_backend: str | None = None
    qdrant_url: str | None = None
    qdrant_collection: str | None = None
    lexical_max_df: float = 1.0
