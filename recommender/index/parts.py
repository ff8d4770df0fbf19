"""Opening an index directory and loading its in-memory parts: the vectors (from the
snapshot, rebuilt from the store, or a Qdrant collection), the catalog and the lexical index.

On open, a snapshot whose generation differs from the store's (a crash between the two) is
discarded and rebuilt from the stored vectors, so the vector index and the store never
disagree.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Self

import numpy as np

from embeddings import Embedder
from recommender.dates import PublishedTime
from recommender.errors import IndexCorruptError, IndexMismatchError, InvalidInputError
from recommender.index.catalog import Catalog
from recommender.index.files import (
    MANIFEST_FILE,
    QDRANT_LOCAL_DIR,
    SNAPSHOT_PREFIX,
    STORE_FILE,
    acquire_write_lock,
    check_identity,
    file_sha256,
)
from recommender.index.fingerprint import SIGNATURE_SIZE
from recommender.index.lexical import LexicalIndex
from recommender.index.options import IndexOptions
from recommender.index.store import ArticleStore
from recommender.index.vectors.choice import choose_backend, recorded_backend
from recommender.index.vectors.faiss_index import INDEX_KINDS, VectorIndex, choose_index_kind
from recommender.index.vectors.protocol import VECTOR_BACKENDS, VectorStore
from recommender.topics.assignment import TopicTagger

if TYPE_CHECKING:  # the `distributed` extra: imported where a collection is opened
    from recommender.index.vectors.qdrant_index import QdrantVectorIndex
    from recommender.stories.assigner import (
        StoryAssigner,  # it ranks with this index: set after open
    )

logger = logging.getLogger("newsrec.index")


class IndexParts:
    """An opened index directory and its in-memory parts, each loaded on first use."""

    def __init__(
        self,
        directory: Path,
        store: ArticleStore,
        embedder: Embedder,
        options: IndexOptions,
        *,
        lock: IO[str] | None,
        tagger: Callable[[], TopicTagger] | None = None,
    ) -> None:
        """`options` as opened: with the vector backend and its place resolved."""
        self.directory = directory
        self.embedder = embedder
        self.index_type = options.index_type  # as asked: "auto", "exact" or "hnsw"
        self.duplicate_threshold = options.duplicate_threshold
        self.lexical_max_df = options.lexical_max_df
        self._store = store
        self._hnsw_ef_search = options.hnsw_ef_search
        self._hnsw_from = options.hnsw_from
        self._write_batch_size = options.write_batch_size
        self._lock = lock
        self._vector_backend = options.vector_backend or "faiss"
        self._qdrant_url = options.qdrant_url
        self._qdrant_collection = options.qdrant_collection or "newsrec"
        self._vectors: VectorStore | None = None
        self._catalog: Catalog | None = None
        self._lexical: LexicalIndex | None = None
        # Built on first use: a zero-shot tagger embeds its taxonomy, which loads the model.
        self._tagger_factory = tagger
        self._cached_tagger: TopicTagger | None = None
        self._snapshot_generation = -1
        # Assigns written articles to stories at the end of each `apply` (the composition
        # root sets it: it ranks with a recommender over this index). None: articles stay
        # pending, each its own story, until an assigner runs.
        self.story_assigner: StoryAssigner | None = None

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        directory: Path,
        embedder: Embedder,
        *,
        writable: bool = False,
        tagger: Callable[[], TopicTagger] | None = None,
        options: IndexOptions | None = None,
    ) -> Self:
        """Open (and, when writable, create) the index in `directory`.

        `tagger` builds the topic tagger that labels articles as they are written; without
        one, articles are stored untagged. `options`: see `IndexOptions` (its defaults when
        None).
        """
        options = options or IndexOptions()
        index_type, vector_backend = options.index_type, options.vector_backend
        choose_index_kind(index_type, 0)  # an unknown kind fails here, naming the choices
        if vector_backend is not None and vector_backend not in VECTOR_BACKENDS:
            raise InvalidInputError(
                f"unknown vector backend {vector_backend!r}; "
                f"choose one of {', '.join(VECTOR_BACKENDS)}"
            )
        directory = Path(directory)
        if directory.exists() and not directory.is_dir():
            raise InvalidInputError(f"{directory}: exists and is not a directory")
        store_path = directory / STORE_FILE
        if not writable and not store_path.exists():
            raise InvalidInputError(
                f"no newsrec index in {directory}: build one with `newsrec index FILE`"
            )
        lock = None
        if writable:
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise InvalidInputError(f"{directory}: cannot create ({error.strerror})") from None
            lock = acquire_write_lock(directory)
        try:
            store = ArticleStore(store_path, read_only=not writable)
            check_identity(store, embedder, directory, create=writable)
            recorded = recorded_backend(store.meta())
            choice = choose_backend(
                recorded,
                directory,
                backend=vector_backend,
                qdrant_url=options.qdrant_url,
                qdrant_collection=options.qdrant_collection,
            )
            if writable and recorded is None:  # a new index, or one from before the record
                store.record_backend(choice.record(), new_generation=False)
        except BaseException:
            if lock is not None:
                lock.close()
            raise
        resolved = replace(
            options,
            vector_backend=choice.backend,
            qdrant_url=choice.qdrant_url,
            qdrant_collection=choice.qdrant_collection,
        )
        return cls(directory, store, embedder, resolved, lock=lock, tagger=tagger)

    def close(self) -> None:
        close_vectors = getattr(self._vectors, "close", None)  # a Qdrant client's connection
        if close_vectors is not None:
            close_vectors()
        self._store.close()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def writable(self) -> bool:
        """Whether this process holds the directory's write lock (else opened read-only)."""
        return self._lock is not None

    @property
    def store(self) -> ArticleStore:
        return self._store

    @property
    def vectors(self) -> VectorStore:
        if self._vectors is None:
            self._vectors = self._load_vectors()
        return self._vectors

    @property
    def lexical(self) -> LexicalIndex:
        if self._lexical is None:
            self._lexical = LexicalIndex.from_blobs(
                *self._store.term_rows(), max_df=self.lexical_max_df
            )
        return self._lexical

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = Catalog(self._store.catalog_rows(SIGNATURE_SIZE))
        return self._catalog

    def collection_in_step(self, vectors: QdrantVectorIndex) -> bool:
        """Whether this Qdrant collection is known to hold the store as it is now.

        Only the manifest knows: `save` writes it at the store's generation after every
        write of that generation reached the collection, so a writer that died between its
        store commit and Qdrant's update leaves it behind. A count that agrees is not enough
        (new topics or text change payloads and vectors, not the count).
        """
        manifest = self._manifest()
        return (
            manifest.get("index_type") == vectors.kind
            and manifest.get("qdrant_collection") == vectors.collection
            and manifest.get("generation") == self._store.generation
            and vectors.exists
            and len(vectors) == self._store.count()
        )

    def _load_vectors(self) -> VectorStore:
        if self._vector_backend == "qdrant":
            return self._open_qdrant()
        manifest = self._manifest()
        generation = self._store.generation
        # Only this generation's snapshot, by its own name in this directory: the manifest's
        # `vectors_file` is never followed (a swapped manifest could name "../elsewhere").
        snapshot = self.directory / f"{SNAPSHOT_PREFIX}{generation}.faiss"
        saved_kind = manifest.get("index_type")
        if (
            manifest.get("vectors_file") == snapshot.name
            and manifest.get("generation") == generation
            and self._snapshot_acceptable(saved_kind)
            and snapshot.is_file()
        ):
            # The snapshot is only a copy of the store's vectors: a damaged one (flipped
            # bytes, truncated) is rebuilt from the store, as a missing one is, and said so.
            expected = manifest.get("vectors_sha256")
            try:
                damaged = isinstance(expected, str) and file_sha256(snapshot) != expected
            except OSError:  # replaced by a newer save meanwhile: read from the store
                return self._rebuild_vectors()
            if damaged:
                logger.warning("%s: checksum mismatch; rebuilt from the store", snapshot.name)
                return self._rebuild_vectors()
            try:
                loaded = VectorIndex.load(
                    snapshot, str(saved_kind), hnsw_ef_search=self._hnsw_ef_search
                )
            except RuntimeError as error:
                reason = str(error).strip().splitlines()[-1] if str(error).strip() else "?"
                logger.warning("%s: unreadable (%s); rebuilt from the store", snapshot.name, reason)
                return self._rebuild_vectors()
            if len(loaded) == self._store.count() and loaded.dimension == self.embedder.dimension:
                self._snapshot_generation = generation
                return loaded
        return self._rebuild_vectors()

    def _rebuild_vectors(self) -> VectorIndex:
        kind = self._kind_for(self._store.count(), None)
        rebuilt = VectorIndex(self.embedder.dimension, kind, hnsw_ef_search=self._hnsw_ef_search)
        for row_ids, vectors in self._store.vector_rows(self.embedder.dimension):
            rebuilt.add(row_ids, vectors)
        if len(rebuilt) != self._store.count():
            raise IndexCorruptError(
                f"{self.directory}: {self._store.count() - len(rebuilt)} articles have no vector"
            )
        return rebuilt

    def _open_qdrant(self) -> VectorStore:
        """The Qdrant collection, rebuilt from the store unless a save left it in step.

        Qdrant is written as the store is, after each commit, so only a crash (or a change
        of backend) leaves it behind; the manifest's generation, written by `save`, tells.
        A reader cannot rebuild a shared collection: it asks for a writer instead.
        """
        from recommender.index.vectors.qdrant_index import (
            QdrantVectorIndex,  # the `distributed` extra
        )

        location = self._qdrant_url or str(self.directory / QDRANT_LOCAL_DIR)
        vectors = QdrantVectorIndex.connect(
            location, self._qdrant_collection, self.embedder.dimension
        )
        generation, count = self._store.generation, self._store.count()
        if self.collection_in_step(vectors):
            self._snapshot_generation = generation
            return vectors
        if self._lock is None and location != ":memory:":
            vectors.close()
            raise IndexMismatchError(
                f"the Qdrant collection {self._qdrant_collection!r} at {location} is not in "
                f"step with {self.directory} (generation {generation}): a writer rebuilds "
                "it from the store (any `newsrec index` run)"
            )
        vectors.reset()
        for row_ids, stored in self._store.vector_rows(self.embedder.dimension):
            vectors.add(row_ids, stored)
        rows = self._store.catalog_rows(SIGNATURE_SIZE)
        published = [
            None if np.isnan(start) else PublishedTime(float(start), float(end))
            for start, end in zip(rows.starts, rows.ends, strict=True)
        ]
        vectors.describe(rows.row_ids, published, rows.topics)
        if len(vectors) != count:
            raise IndexCorruptError(
                f"{self.directory}: {count - len(vectors)} articles have no vector"
            )
        return vectors

    def _kind_for(self, count: int, current: str | None) -> str:
        return choose_index_kind(self.index_type, count, current, hnsw_from=self._hnsw_from)

    def _snapshot_acceptable(self, saved_kind: object) -> bool:
        """A snapshot is read as saved when its kind is the one asked for, or any under auto.

        Under auto only a writer's `save` changes the kind: a reader opening a snapshot
        should not spend minutes rebuilding a graph the writer will publish anyway.
        """
        if self.index_type == "auto":
            return saved_kind in INDEX_KINDS
        return saved_kind == self.index_type

    def _manifest(self) -> dict[str, Any]:
        path = self.directory / MANIFEST_FILE
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            # The manifest only points at a snapshot of the store; without it the vector
            # index is rebuilt from the store, which is always authoritative.
            return {}
        return value if isinstance(value, dict) else {}

    def _manifest_generation(self) -> int | None:
        value = self._manifest().get("generation")
        return value if isinstance(value, int) else None

    def _require_writable(self) -> None:
        if self._lock is None:
            raise InvalidInputError("this index was opened read-only")
