"""The article index: store + vector index + catalog, kept in step, in one directory.

Durability model: the SQLite store is the source of truth and every write is one
transaction. The FAISS file is a snapshot of the store at a given `generation`, published
atomically with the manifest after the store commits. On open, a snapshot whose generation
differs from the store's (a crash between the two) is discarded and rebuilt from the stored
vectors, so the vector index and the store never disagree.

Files, all prefixed so the directory can hold the user's own files too:
    newsrec-store.sqlite       articles, vectors by content hash, identity
    newsrec-vectors-<g>.faiss  vector snapshot at store generation g
    newsrec-manifest.json      schema version, embedder, generation, counts
    newsrec.lock               held by the one writing process
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from embeddings import Embedder, ProgressCallback
from recommender.articles import Article, content_hash
from recommender.dates import PublishedTime
from recommender.errors import (
    ArticleNotFoundError,
    IndexBusyError,
    IndexCorruptError,
    IndexMismatchError,
    InvalidInputError,
)
from recommender.index.catalog import Catalog
from recommender.index.fingerprint import SIGNATURE_SIZE, text_signatures
from recommender.index.lexical import LexicalIndex, encode_terms, frequency_rows, term_vectors
from recommender.index.publish import publish_file, write_json_atomically
from recommender.index.store import (
    SCHEMA_VERSION,
    UPGRADABLE_SCHEMA_VERSIONS,
    ArticleStore,
    ArticleSummary,
    AssignedTopics,
    PreparedArticle,
)
from recommender.index.vectors.choice import BackendChoice, choose_backend, recorded_backend
from recommender.index.vectors.faiss_index import (
    AUTO_HNSW_FROM,
    DEFAULT_EF_SEARCH,
    INDEX_KINDS,
    VectorIndex,
    choose_index_kind,
)
from recommender.index.vectors.protocol import VECTOR_BACKENDS, VectorStore
from recommender.topics.assignment import TopicAssignment, TopicTagger

if TYPE_CHECKING:  # the `distributed` extra: imported where a collection is opened
    from recommender.index.vectors.qdrant_index import QdrantVectorIndex
    from recommender.stories.clustering import (
        StoryAssigner,  # it ranks with this index: set after open
    )

STORE_FILE = "newsrec-store.sqlite"
MANIFEST_FILE = "newsrec-manifest.json"
LOCK_FILE = "newsrec.lock"
_SNAPSHOT_PREFIX = "newsrec-vectors-"
QDRANT_LOCAL_DIR = "newsrec-qdrant"  # qdrant-client's local mode, when no URL is set

logger = logging.getLogger("newsrec.index")


@dataclass(frozen=True)
class UpsertReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    encoded: int = 0  # distinct texts that went through the embedder


@dataclass(frozen=True)
class UpsertPlan:
    changed: list[PreparedArticle]
    added: int
    unchanged: int
    texts_to_encode: int


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


class ArticleIndex:
    """Open with `ArticleIndex.open`. A writable index holds the directory's write lock."""

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
    ) -> ArticleIndex:
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
            lock = _acquire_write_lock(directory)
        try:
            store = ArticleStore(store_path, read_only=not writable)
            _check_identity(store, embedder, directory, create=writable)
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

    def __enter__(self) -> ArticleIndex:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- reading -------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._store.count()

    def __contains__(self, article_id: object) -> bool:
        return isinstance(article_id, str) and self._store.row_id_of(article_id) is not None

    def article(self, article_id: str) -> Article:
        found = self._store.article(article_id)
        if found is None:
            raise ArticleNotFoundError(article_id)
        return found

    def row_id(self, article_id: str) -> int:
        row_id = self._store.row_id_of(article_id)
        if row_id is None:
            raise ArticleNotFoundError(article_id)
        return row_id

    def ids(self) -> Iterator[str]:
        return self._store.iter_ids()

    @property
    def generation(self) -> int:
        """The store's generation: every committed write moves it on."""
        return self._store.generation

    def summaries_of(self, article_ids: Sequence[str]) -> list[ArticleSummary]:
        """The stored summaries (title, date, source...) of those of these ids still there."""
        rows = [state.row_id for state in self._store.states(article_ids).values()]
        return list(self._store.summaries_by_row_id(rows).values())

    def load_in_memory(self) -> dict[int, ArticleSummary]:
        """Load every part a read touches now (vectors, catalog, lexical index, summaries),
        so the first request does not; returns every article's summary by row id. From then
        on summaries are answered from memory, kept in step by this index's writes."""
        summaries = self._store.keep_summaries_in_memory()
        self.vectors.search(self.vectors.vectors_of(self.catalog.row_ids[:1]), 1)
        self.apply_queued_changes()
        return summaries

    def pin_read_version(self) -> None:
        """Read one committed version of the store from now on, whatever other processes
        write meanwhile (a read-only index that loaded its in-memory parts from it)."""
        if self.writable:
            raise InvalidInputError("a writable index reads its own writes: nothing to pin")
        self._store.pin_read_transaction()

    def apply_queued_changes(self) -> None:
        """Apply the lexical index's queued changes now: a writer does, under its lock,
        rather than leave them to the next (concurrent) reader."""
        len(self.lexical)

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

    def info(self) -> IndexInfo:
        meta = self._store.meta()
        return IndexInfo(
            directory=self.directory,
            articles=len(self),
            embedder=meta["embedder"],
            dimension=int(meta["dimension"]),
            index_type=self.vector_kind,
            generation=int(meta["generation"]),
            schema_version=int(meta["schema_version"]),
        )

    @property
    def vector_kind(self) -> str:
        """The kind of the vector index in use ("exact", "hnsw" or "qdrant"), unloaded."""
        if self._vector_backend == "qdrant":
            return "qdrant"
        if self._vectors is not None:
            return self._vectors.kind
        saved = self._manifest().get("index_type")
        if self._snapshot_acceptable(saved):
            return str(saved)
        return self._kind_for(self._store.count(), None)

    # -- writing -------------------------------------------------------------------------

    def plan_upsert(self, articles: Sequence[Article]) -> UpsertPlan:
        """Sort articles into new, changed and unchanged, and count the texts to encode."""
        self._require_writable()
        _refuse_repeated_ids(articles)
        states = self._store.states([article.id for article in articles])
        changed: list[Article] = []
        added = 0
        for article in articles:
            state = states.get(article.id)
            if state is not None and state.record_hash == _record_hash(article):
                continue
            added += state is None
            changed.append(article)
        prepared = _prepare(changed)
        # Similar lengths in a batch waste less padding in the encoder.
        prepared.sort(key=lambda item: len(item.article.text))
        hashes = {item.article.content_hash for item in prepared}
        to_encode = len(hashes - self._store.hashes_with_vectors(hashes))
        return UpsertPlan(prepared, added, len(articles) - len(prepared), to_encode)

    def texts_to_encode(self, plan: UpsertPlan) -> dict[str, str]:
        """Content hash -> text of what `apply(plan)` will encode, in the order it will ask
        (changed articles whose text has no stored vector; each distinct text once)."""
        texts = {item.article.content_hash: item.article.text for item in plan.changed}
        stored = self._store.hashes_with_vectors(texts)
        return {key: text for key, text in texts.items() if key not in stored}

    def apply(self, plan: UpsertPlan, *, progress: ProgressCallback | None = None) -> UpsertReport:
        """Write a plan. Only texts with no stored vector are encoded.

        Work is committed in batches, so a crash loses at most the batch in flight; call
        `save` at the end to publish the vector snapshot.
        """
        self._require_writable()
        stored_hashes = self._store.hashes_with_vectors(
            i.article.content_hash for i in plan.changed
        )
        encoded = 0
        for start in range(0, len(plan.changed), self._write_batch_size):
            batch = plan.changed[start : start + self._write_batch_size]
            encoded += self._write_batch(batch, stored_hashes, progress)
        if self.story_assigner is not None:
            # After the last batch, so the written articles meet one another oldest first.
            self.story_assigner.assign_pending()
        return UpsertReport(
            added=plan.added,
            updated=len(plan.changed) - plan.added,
            unchanged=plan.unchanged,
            encoded=encoded,
        )

    def upsert(
        self, articles: Sequence[Article], *, progress: ProgressCallback | None = None
    ) -> UpsertReport:
        """Add new articles, replace changed ones, skip unchanged ones (plan, then apply)."""
        return self.apply(self.plan_upsert(articles), progress=progress)

    def delete(self, article_ids: Sequence[str]) -> list[str]:
        """Delete the given ids; returns those that were not in the index."""
        self._require_writable()
        states = self._store.states(article_ids)
        missing = [article_id for article_id in article_ids if article_id not in states]
        present = [article_id for article_id in dict.fromkeys(article_ids) if article_id in states]
        if present:
            rows = [states[article_id].row_id for article_id in present]
            stories = set(self._store.stories.stories_of(rows).values())
            _, deleted = self._store.write([], {}, present)
            removed = np.asarray(deleted, dtype=np.int64)
            self.vectors.remove(removed)
            self.catalog.remove(removed)
            self.lexical.remove(removed)
            if self.story_assigner is not None:
                # A story the deleted articles bridged falls apart (`StoryAssigner.split`).
                self.story_assigner.split(stories)
        return missing

    def retag(self, tagger: TopicTagger, *, progress: ProgressCallback | None = None) -> int:
        """Tag every stored article again with `tagger` (from its stored vector, and its
        stored terms for a tagger that reads them); one commit."""
        self._require_writable()
        assigned: dict[int, AssignedTopics] = {}
        term_ids, blobs = self._store.term_rows() if tagger.reads_terms else (None, [])
        for row_ids, vectors in self._store.vector_rows(self.embedder.dimension):
            terms = None
            if term_ids is not None:
                positions = np.searchsorted(term_ids, row_ids)
                terms = frequency_rows([blobs[int(position)] for position in positions])
            for row_id, assignment in zip(row_ids, tagger.tag(vectors, terms=terms), strict=True):
                assigned[int(row_id)] = _assigned(assignment)
            if progress is not None:
                progress(len(row_ids))
        self._store.set_topics(assigned)
        ids = np.fromiter(assigned, dtype=np.int64, count=len(assigned))
        if self._catalog is not None:
            self._catalog.set_topics(ids, [a.labels for a in assigned.values()])
        if self._vector_backend == "qdrant":
            catalog = self.catalog
            published = [catalog.published(int(row_id)) for row_id in ids]
            self.vectors.describe(ids, published, [a.labels for a in assigned.values()])
        return len(assigned)

    def topics_of(self, article_id: str) -> AssignedTopics | None:
        """The topics assigned at index time; None when the article was indexed untagged."""
        if article_id not in self:
            raise ArticleNotFoundError(article_id)
        return self._store.topics_of(article_id)

    def save(self) -> None:
        """Publish a vector snapshot matching the store, then the manifest pointing to it."""
        self._require_writable()
        generation = self._store.generation
        up_to_date = (
            self._snapshot_generation == generation and self._manifest_generation() == generation
        )
        vectors = self.vectors
        if not isinstance(vectors, VectorIndex):
            if not up_to_date:  # Qdrant is written as the store is: only the manifest to say so
                self._write_manifest(vectors, generation, vectors_file=None)
            return
        kind = self._kind_for(len(vectors), vectors.kind)
        if up_to_date and kind == vectors.kind:
            return
        # A corpus that grew past (or shrank below) the auto threshold changes kind here,
        # once per crossing: the rebuild costs about as much as indexing the vectors anew.
        self._vectors = vectors = vectors.converted(kind)
        final = self.directory / f"{_SNAPSHOT_PREFIX}{generation}.faiss"
        temporary = self.directory / f".{final.name}.tmp"
        try:
            vectors.save(temporary)
            checksum = _file_sha256(temporary)
            publish_file(temporary, final)
        except BaseException:
            temporary.unlink(missing_ok=True)  # on a full disk, give back what it took
            raise
        self._write_manifest(vectors, generation, vectors_file=final.name, checksum=checksum)
        # Older snapshots, and the temporary file of a save that was killed part-way (this
        # process holds the write lock: no other save is running).
        for pattern in (f"{_SNAPSHOT_PREFIX}*.faiss", f".{_SNAPSHOT_PREFIX}*.faiss.tmp"):
            for old in self.directory.glob(pattern):
                if old != final:
                    old.unlink(missing_ok=True)

    def publish_related_lists(self) -> None:
        """Say in the manifest that the stored related lists changed (`newsrec precompute`
        stores them without a new store generation), so reader processes reload."""
        self._require_writable()
        manifest = self._manifest()
        version = self._store.related_lists.version()
        if manifest.get("generation") != self._store.generation:
            self.save()  # behind the store: a full save says it all
        elif manifest.get("related_lists_version") != version:
            write_json_atomically(
                self.directory / MANIFEST_FILE, {**manifest, "related_lists_version": version}
            )

    def switch_backend(self, vectors: VectorStore, choice: BackendChoice) -> None:
        """Serve from `vectors`, which must hold every stored row (a migration copied and
        checked them), from now on.

        Records `choice` in the store (a new generation when it changes: readers reload, and
        a snapshot of the old place is out of step), then publishes the manifest and, for
        FAISS, the snapshot. Leaving FAISS removes its snapshots: they are stale from here.
        """
        self._require_writable()
        if len(vectors) != self._store.count():
            raise IndexCorruptError(
                f"{choice.describe()} holds {len(vectors)} vectors, the store "
                f"{self._store.count()}: not switched"
            )
        if recorded_backend(self._store.meta()) != choice:
            self._store.record_backend(choice.record(), new_generation=True)
        close_vectors = getattr(self._vectors, "close", None)
        if self._vectors is not vectors and close_vectors is not None:
            close_vectors()
        self._vectors = vectors
        self._vector_backend = choice.backend
        self._qdrant_url, self._qdrant_collection = choice.qdrant_url, choice.qdrant_collection
        self._snapshot_generation = -1
        self.save()
        if choice.backend != "faiss":
            for snapshot in self.directory.glob(f"{_SNAPSHOT_PREFIX}*.faiss"):
                snapshot.unlink(missing_ok=True)

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

    # -- internals -----------------------------------------------------------------------

    def _write_manifest(
        self,
        vectors: VectorStore,
        generation: int,
        vectors_file: str | None,
        checksum: str | None = None,
    ) -> None:
        manifest: dict[str, Any] = {
            "format": "newsrec-index",
            "schema_version": SCHEMA_VERSION,
            "embedder": self.embedder.name,
            "dimension": self.embedder.dimension,
            "index_type": vectors.kind,
            "generation": generation,
            "related_lists_version": self._store.related_lists.version(),
            "vectors_file": vectors_file,
            "articles": len(vectors),
            "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if vectors_file is None:
            manifest.pop("vectors_file")
            manifest["qdrant_collection"] = self._qdrant_collection
        if checksum is not None:
            manifest["vectors_sha256"] = checksum
        write_json_atomically(self.directory / MANIFEST_FILE, manifest)
        self._snapshot_generation = generation

    def _write_batch(
        self,
        batch: list[PreparedArticle],
        stored_hashes: set[str],
        progress: ProgressCallback | None,
    ) -> int:
        texts_to_encode: dict[str, str] = {}
        for item in batch:
            key = item.article.content_hash
            if key not in stored_hashes:
                texts_to_encode.setdefault(key, item.article.text)
        new_vectors: dict[str, np.ndarray] = {}
        if texts_to_encode:
            encoded = self.embedder.encode(list(texts_to_encode.values()), progress=progress)
            new_vectors = dict(zip(texts_to_encode, encoded, strict=True))
        wanted = {item.article.content_hash for item in batch} - new_vectors.keys()
        known = {**self._store.vectors_by_hash(wanted, self.embedder.dimension), **new_vectors}
        batch_vectors = np.stack([known[item.article.content_hash] for item in batch])
        topics = self._assign_topics(batch, batch_vectors)

        # Load the in-memory parts before the write, so they reflect the store up to now.
        vectors, catalog, lexical = self.vectors, self.catalog, self.lexical
        previous = self._store.states([item.article.id for item in batch])
        row_ids, _ = self._store.write(batch, new_vectors, topics=topics)
        stored_hashes.update(new_vectors)

        # Only a changed text changes the vector; a metadata-only update keeps it in place.
        moved = [
            position
            for position, item in enumerate(batch)
            if item.article.id not in previous
            or previous[item.article.id].content_hash != item.article.content_hash
        ]
        replaced = [
            previous[batch[i].article.id].row_id for i in moved if batch[i].article.id in previous
        ]
        vectors.remove(np.asarray(replaced, dtype=np.int64))
        if moved:
            vectors.add(
                np.asarray([row_ids[batch[i].article.id] for i in moved], dtype=np.int64),
                batch_vectors[moved],
            )
        batch_row_ids = np.asarray([row_ids[item.article.id] for item in batch], dtype=np.int64)
        published = [item.article.published_time for item in batch]
        labels = [topics[item.article.id].labels if topics else () for item in batch]
        catalog.upsert_many(
            batch_row_ids, published, np.stack([item.fingerprint for item in batch]), labels
        )
        vectors.describe(batch_row_ids, published, labels)  # Qdrant's payload; FAISS: nothing
        lexical.upsert(batch_row_ids, frequency_rows([item.terms for item in batch]))
        return len(new_vectors)

    def _assign_topics(
        self, batch: list[PreparedArticle], batch_vectors: np.ndarray
    ) -> dict[str, AssignedTopics]:
        tagger = self._tagger()
        if tagger is None:
            return {}
        terms = frequency_rows([item.terms for item in batch]) if tagger.reads_terms else None
        assignments = tagger.tag(batch_vectors, terms=terms)
        return {
            item.article.id: _assigned(assignment)
            for item, assignment in zip(batch, assignments, strict=True)
        }

    def _tagger(self) -> TopicTagger | None:
        if self._cached_tagger is None and self._tagger_factory is not None:
            self._cached_tagger = self._tagger_factory()
        return self._cached_tagger

    def _load_vectors(self) -> VectorStore:
        if self._vector_backend == "qdrant":
            return self._open_qdrant()
        manifest = self._manifest()
        generation = self._store.generation
        # Only this generation's snapshot, by its own name in this directory: the manifest's
        # `vectors_file` is never followed (a swapped manifest could name "../elsewhere").
        snapshot = self.directory / f"{_SNAPSHOT_PREFIX}{generation}.faiss"
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
                damaged = isinstance(expected, str) and _file_sha256(snapshot) != expected
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


def _refuse_repeated_ids(articles: Sequence[Article]) -> None:
    # Two versions of one id in a batch would both be written: the store keeps the last,
    # but the vector index and the catalog would hold an entry for each.
    seen: set[str] = set()
    for article in articles:
        if article.id in seen:
            raise InvalidInputError(
                f"duplicate id {article.id!r} in one upsert; give each id at most once per batch"
            )
        seen.add(article.id)


def _prepare(articles: list[Article]) -> list[PreparedArticle]:
    """Derive what the store keeps besides the article: hashes, fingerprint, term vector."""
    if not articles:
        return []
    texts = [article.text for article in articles]
    signatures = text_signatures(texts)
    terms = encode_terms(term_vectors(texts))
    return [
        PreparedArticle(article, _record_hash(article), signatures[position], terms[position])
        for position, article in enumerate(articles)
    ]


def _assigned(assignment: TopicAssignment) -> AssignedTopics:
    return AssignedTopics(
        tuple((topic.label, topic.score, topic.iptc) for topic in assignment.topics),
        assignment.primary,
        assignment.confident,
    )


def _record_hash(article: Article) -> str:
    """Changes when any stored field changes, text or metadata."""
    return content_hash(json.dumps(article.to_record(), sort_keys=True, ensure_ascii=False))


def _check_identity(store: ArticleStore, embedder: Embedder, directory: Path, create: bool) -> None:
    meta = store.meta()
    if not meta:
        if not create:
            raise InvalidInputError(f"no newsrec index in {directory}")
        store.initialise(embedder.name, embedder.dimension)
        return
    if create and meta.get("schema_version") in UPGRADABLE_SCHEMA_VERSIONS:
        store.upgrade_schema()
        meta = store.meta()
    readable = {str(SCHEMA_VERSION), *UPGRADABLE_SCHEMA_VERSIONS}
    if meta.get("schema_version") not in (readable if not create else {str(SCHEMA_VERSION)}):
        raise IndexMismatchError(
            f"{directory}: index schema version {meta.get('schema_version')} is not the "
            f"supported version {SCHEMA_VERSION}; rebuild it with `newsrec index`"
        )
    if meta.get("embedder") != embedder.name or meta.get("dimension") != str(embedder.dimension):
        raise IndexMismatchError(
            f"{directory} was built with embedder {meta.get('embedder')!r} "
            f"({meta.get('dimension')} dimensions), not {embedder.name!r} "
            f"({embedder.dimension}); use the same embedder or another --index-dir"
        )


def _file_sha256(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def _acquire_write_lock(directory: Path) -> IO[str]:
    try:
        handle = (directory / LOCK_FILE).open("a", encoding="utf-8")
    except OSError as error:
        # Any write needs this file: a read-only directory (mount, permissions) fails here.
        raise InvalidInputError(
            f"{directory}: read-only directory ({error.strerror or error}); newsrec cannot "
            "write there (serve it with NEWSREC_READ_ONLY=true)"
        ) from None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise IndexBusyError(f"{directory} is being written by another process") from None
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
