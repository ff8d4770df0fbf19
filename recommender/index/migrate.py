"""Moving an index's vectors to another backend, without running the model (`newsrec migrate`).

To Qdrant (`QdrantMigration`): every stored vector is read from the SQLite store (the
source of truth; the FAISS snapshot is a copy of it, and reading the store needs no graph in
memory) and upserted with its payload (publication range, topics: what the filters read) in
row order, a batch per request. After each batch a checkpoint in the index directory records
how far the copy got, for the store generation it copies; the write lock, held throughout,
keeps that generation fixed. Run again after a crash, the copy resumes after the checkpoint;
the batch that was in flight is sent again, which is harmless because Qdrant upserts by id.
Then the points are counted and a sample is read back and compared with the store (vector
and payload), and only then does the index record the switch (`ArticleIndex.switch_backend`:
a new store generation, so readers reload, and the manifest). A failed check voids the
checkpoint (it still names the collection as this index's, for no generation): resuming
would only fail the check again, so the next run copies afresh, as `replace` does.

Run once more, it finds the switch recorded and the manifest at the store's current
generation for this collection (`ArticleIndex.collection_in_step`, the test a reader opens
with), checks a sample again and changes nothing. A collection the manifest does not vouch
for is copied again, even when its count agrees: a writer that died between its store
commit and Qdrant's update leaves new topics or text behind in it, which a sample may miss.

Back to FAISS (`migrate_to_faiss`): the stored vectors are loaded into a FAISS index, which
the index publishes as its snapshot (converted to HNSW on the way when the corpus is large
enough: the long part at millions of articles). The Qdrant collection is left as it is.

A collection not known to be this index's (neither recorded nor named by its checkpoint) is
never overwritten unless asked (`replace`): on a shared cluster it may be another index's.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from embeddings import ProgressCallback
from recommender.dates import PublishedTime
from recommender.errors import IndexCorruptError, InvalidInputError
from recommender.index.article_index import ArticleIndex
from recommender.index.files import QDRANT_LOCAL_DIR, STORE_FILE
from recommender.index.publish import write_json_atomically
from recommender.index.records import PointRows
from recommender.index.vectors.choice import BackendChoice, recorded_backend
from recommender.index.vectors.faiss_index import VectorIndex

if TYPE_CHECKING:  # the `distributed` extra: imported when a migration runs
    from recommender.index.vectors.qdrant_index import QdrantVectorIndex

CHECKPOINT_FILE = "newsrec-migration.json"
DEFAULT_BATCH = 1024  # points per upsert request (~4 MB of JSON at 384 dimensions)
DEFAULT_SAMPLE = 256  # points read back and compared with the store
_VECTOR_TOLERANCE = 1e-6  # a server may hand floats back through JSON


@dataclass(frozen=True, slots=True)
class MigrationReport:
    target: str  # where the vectors are served from now
    articles: int  # in the store
    copied: int  # points written by this run
    resumed: int  # points an interrupted run had written already
    sampled: int  # points read back and found equal to the store's
    already: bool = False  # the index was there already: nothing was written


class QdrantMigration:
    """Moves one writable index's vectors to a Qdrant collection: `connect`, then `run` once.

    Use as a context manager: the connection is closed unless `run` hands it to the index.
    """

    def __init__(
        self,
        index: ArticleIndex,
        target: BackendChoice,
        vectors: QdrantVectorIndex,
        *,
        resume_after: int | None,
        resumed: int,
        already: bool,
    ) -> None:
        self.index = index
        self.target = target
        self.already = already
        self.resumed = resumed
        self._vectors: QdrantVectorIndex | None = vectors
        self._resume_after = resume_after  # None: start afresh (the collection is reset)

    @classmethod
    def connect(
        cls, index: ArticleIndex, target: BackendChoice, *, replace: bool = False
    ) -> QdrantMigration:
        """Check the request, connect, and find where a copy stands (nothing is written)."""
        if target.backend != "qdrant":
            raise ValueError("a QdrantMigration needs a Qdrant target")
        if target.qdrant_url == ":memory:":
            raise InvalidInputError(
                "':memory:' is gone when the process exits: give a Qdrant URL, or none for "
                "local mode in the index directory"
            )
        recorded = recorded_backend(index.store.meta()) or BackendChoice()
        if recorded.backend == "qdrant" and recorded != target:
            raise InvalidInputError(
                f"{index.directory} is already migrated, to {recorded.describe()}; to move it "
                f"to {target.describe()}, run `newsrec migrate --to faiss` first"
            )
        location = target.qdrant_url or str(index.directory / QDRANT_LOCAL_DIR)
        vectors = _qdrant_index().connect(
            location, target.qdrant_collection, index.embedder.dimension
        )
        try:
            if recorded == target and not replace and index.collection_in_step(vectors):
                return cls(index, target, vectors, resume_after=None, resumed=0, already=True)
            checkpoint = _read_checkpoint(index.directory)
            ours = recorded == target or checkpoint.get("target") == target.record()
            if (
                not replace
                and checkpoint.get("target") == target.record()
                and checkpoint.get("generation") == index.store.generation
                and vectors.exists
            ):
                after, done = int(checkpoint["copied_through"]), int(checkpoint["copied"])
                return cls(index, target, vectors, resume_after=after, resumed=done, already=False)
            # Not a copy of this store at this generation: start afresh, but only into a
            # collection that is empty, or this index's own, or one it may replace. One left
            # behind by an earlier migration (Qdrant, FAISS, Qdrant again) may be this index's
            # old copy, or another's by now: nothing says which.
            if vectors.exists and not ours and not replace and vectors.recount() > 0:
                raise InvalidInputError(
                    f"{target.describe()} already holds {len(vectors):,} points not known to "
                    "be this index's current copy; --replace overwrites them, or choose "
                    "another --collection"
                )
        except BaseException:
            vectors.close()
            raise
        return cls(index, target, vectors, resume_after=None, resumed=0, already=False)

    @property
    def to_copy(self) -> int:
        """Points this run will write."""
        return 0 if self.already else len(self.index) - self.resumed

    def run(
        self,
        *,
        batch: int = DEFAULT_BATCH,
        sample: int = DEFAULT_SAMPLE,
        seed: int = 0,
        progress: ProgressCallback | None = None,
    ) -> MigrationReport:
        """Copy what is left, verify, and switch the index to the collection."""
        if self._vectors is None:
            raise RuntimeError("a QdrantMigration runs once")
        vectors, index = self._vectors, self.index
        copied = 0 if self.already else self._copy(vectors, batch, progress)
        try:
            sampled = verify_points(index, vectors, sample=sample, seed=seed)
        except IndexCorruptError as error:
            if self.already:
                raise IndexCorruptError(f"{error}; --replace copies it afresh") from error
            # Resuming after this checkpoint would only fail the same check again: keep it
            # naming the collection as this index's, for no generation, so the next run
            # copies afresh into it.
            self._checkpoint(None, -1, 0)
            raise IndexCorruptError(f"{error}; run again to copy afresh") from error
        if self.already:
            self.close()  # the manifest vouches for it already: nothing to record
        else:
            index.switch_backend(vectors, self.target)  # the index owns the connection now
            self._vectors = None
            (index.directory / CHECKPOINT_FILE).unlink(missing_ok=True)
        return MigrationReport(
            self.target.describe(),
            len(index),
            copied,
            len(index) if self.already else self.resumed,
            sampled,
            already=self.already,
        )

    def close(self) -> None:
        if self._vectors is not None:
            self._vectors.close()
            self._vectors = None

    def __enter__(self) -> QdrantMigration:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _copy(
        self, vectors: QdrantVectorIndex, batch: int, progress: ProgressCallback | None
    ) -> int:
        store, generation = self.index.store, self.index.store.generation
        after, done = self._resume_after, self.resumed
        if after is None:
            # The checkpoint goes first: a collection it names is known to be this index's.
            self._checkpoint(generation, -1, 0)
            vectors.reset()
            after, done = -1, 0
        copied = 0
        for rows in store.point_rows(self.index.embedder.dimension, after=after, batch=batch):
            vectors.upsert_points(rows.row_ids, rows.vectors, _published(rows), rows.topics)
            copied += len(rows.row_ids)
            self._checkpoint(generation, int(rows.row_ids[-1]), done + copied)
            if progress is not None:
                progress(len(rows.row_ids))
        return copied

    def _checkpoint(self, generation: int | None, copied_through: int, copied: int) -> None:
        write_json_atomically(
            self.index.directory / CHECKPOINT_FILE,
            {
                "target": self.target.record(),
                "generation": generation,
                "copied_through": copied_through,
                "copied": copied,
            },
        )


def migrate_to_faiss(
    index: ArticleIndex, *, progress: ProgressCallback | None = None
) -> MigrationReport:
    """Serve a writable index from FAISS again, built from the stored vectors."""
    count = len(index)
    if (recorded_backend(index.store.meta()) or BackendChoice()).backend == "faiss":
        return MigrationReport("FAISS", count, 0, count, 0, already=True)
    dimension = index.embedder.dimension
    rebuilt = VectorIndex(dimension)  # exact; `save` converts it to HNSW when large enough
    for row_ids, vectors in index.store.vector_rows(dimension):
        rebuilt.add(row_ids, vectors)
        if progress is not None:
            progress(len(row_ids))
    index.switch_backend(rebuilt, BackendChoice())
    (index.directory / CHECKPOINT_FILE).unlink(missing_ok=True)
    return MigrationReport("FAISS", count, count, 0, 0)


def verify_points(
    index: ArticleIndex, vectors: QdrantVectorIndex, *, sample: int, seed: int = 0
) -> int:
    """Check the collection against the store: the count, then `sample` articles (spread
    over the whole index) read back, vector and payload. Returns how many were compared."""
    store, where = index.store, vectors.collection
    count, points = store.count(), vectors.recount()
    if points != count:
        raise IndexCorruptError(
            f"collection {where!r} holds {points:,} points for {count:,} articles"
        )
    positions = sorted(random.Random(seed).sample(range(count), min(sample, count)))
    wanted = _ids_at(store.iter_ids(), positions)
    states = store.states(wanted)
    row_ids = [states[article_id].row_id for article_id in wanted]
    stored = store.vectors_by_hash(
        {state.content_hash for state in states.values()}, index.embedder.dimension
    )
    articles = store.articles_by_row_id(row_ids)
    found = vectors.stored_points(np.asarray(row_ids, dtype=np.int64))
    for article_id, row_id in zip(wanted, row_ids, strict=True):
        if row_id not in found:
            raise IndexCorruptError(f"collection {where!r} lacks article {article_id!r}")
        vector, payload = found[row_id]
        expected = stored[states[article_id].content_hash]
        if vector.shape != expected.shape or not np.allclose(
            vector, expected, rtol=0.0, atol=_VECTOR_TOLERANCE
        ):
            raise IndexCorruptError(
                f"collection {where!r} holds another vector for article {article_id!r}"
            )
        assigned = store.topics_of(article_id)
        labels = assigned.labels if assigned else ()
        if payload != _point_payload(articles[row_id].published_time, labels):
            raise IndexCorruptError(
                f"collection {where!r} holds another payload for article {article_id!r}"
            )
    return len(wanted)


def _ids_at(ids: Iterable[str], positions: list[int]) -> list[str]:
    """The ids at these sorted positions of a stream, read once."""
    picked: list[str] = []
    wanted = iter(positions)
    next_position = next(wanted, None)
    for position, article_id in enumerate(ids):
        if next_position is None:
            break
        if position == next_position:
            picked.append(article_id)
            next_position = next(wanted, None)
    return picked


def _published(rows: PointRows) -> list[PublishedTime | None]:
    return [
        None if math.isnan(start) else PublishedTime(float(start), float(end))
        for start, end in zip(rows.starts, rows.ends, strict=True)
    ]


def _read_checkpoint(directory: Path) -> dict[str, Any]:
    try:
        value = json.loads((directory / CHECKPOINT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # none, or torn: the copy starts afresh
    return value if isinstance(value, dict) else {}


def require_index(directory: Path) -> None:
    """Refuse a directory without an index: migrating must not create an empty one."""
    if not (directory / STORE_FILE).is_file():
        raise InvalidInputError(f"no newsrec index in {directory}: nothing to migrate")


def _qdrant_index() -> type[QdrantVectorIndex]:
    """Qdrant's vector index, imported only when a migration needs it: the CLI loads this
    module for `newsrec migrate`, and must start without the `distributed` extra."""
    try:
        from recommender.index.vectors.qdrant_index import QdrantVectorIndex
    except ModuleNotFoundError as error:
        raise InvalidInputError(
            f"Qdrant needs the `distributed` extra ({error.name} is not installed): "
            "pip install -e '.[distributed]'"
        ) from None
    return QdrantVectorIndex


def _point_payload(published: PublishedTime | None, labels: tuple[str, ...]) -> dict[str, Any]:
    from recommender.index.vectors.qdrant_index import point_payload  # loaded with the collection

    return point_payload(published, labels)
