"""Publishing an index: the vector snapshot matching the store, then the manifest pointing
to it (both atomically, after the store commits), and switching the vector backend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from recommender.errors import IndexCorruptError
from recommender.index.files import MANIFEST_FILE, SNAPSHOT_PREFIX, file_sha256
from recommender.index.publish import publish_file, write_json_atomically
from recommender.index.reads import IndexReads
from recommender.index.store_schema import SCHEMA_VERSION
from recommender.index.vectors.choice import BackendChoice, recorded_backend
from recommender.index.vectors.faiss_index import VectorIndex
from recommender.index.vectors.protocol import VectorStore


class IndexSaving(IndexReads):
    """The publishing side of `ArticleIndex`."""

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
        final = self.directory / f"{SNAPSHOT_PREFIX}{generation}.faiss"
        temporary = self.directory / f".{final.name}.tmp"
        try:
            vectors.save(temporary)
            checksum = file_sha256(temporary)
            publish_file(temporary, final)
        except BaseException:
            temporary.unlink(missing_ok=True)  # on a full disk, give back what it took
            raise
        self._write_manifest(vectors, generation, vectors_file=final.name, checksum=checksum)
        # Older snapshots, and the temporary file of a save that was killed part-way (this
        # process holds the write lock: no other save is running).
        for pattern in (f"{SNAPSHOT_PREFIX}*.faiss", f".{SNAPSHOT_PREFIX}*.faiss.tmp"):
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
            for snapshot in self.directory.glob(f"{SNAPSHOT_PREFIX}*.faiss"):
                snapshot.unlink(missing_ok=True)

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
