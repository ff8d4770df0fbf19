"""The vector store on Qdrant: a collection keyed by the store's row ids (the `distributed` extra).

Points hold the unit vector and the payload filters read: `published_start` and
`published_last` (epoch seconds; absent for an undated article) and `topics` (the labels
assigned at index time). Everything else about an article stays in SQLite, the source of
truth, from which the collection can always be rebuilt.

The distance is DOT, not COSINE: the vectors are already unit length, and Qdrant would
normalise COSINE vectors again on upload, so the stored vectors and the scores would differ
from FAISS's by rounding. With DOT both engines score the same float32 products.

`location` is a Qdrant URL (`http://host:6333`), `":memory:"` (in process, gone on close:
for tests) or a directory (qdrant-client's local mode: in process, persisted there; one
process at a time, a trial or test double rather than a production store).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from qdrant_client import QdrantClient, models

from recommender.dates import PublishedTime
from recommender.errors import IndexBusyError, InvalidInputError
from recommender.index.vectors.protocol import PayloadConditions, RowSelection, last_instant

QDRANT_KIND = "qdrant"
_WRITE_BATCH = 1024  # points per upsert / payload request
_QUERY_BATCH = 64  # queries per batched search request
_START, _LAST, _TOPICS = "published_start", "published_last", "topics"


class QdrantVectorIndex:
    """A `VectorStore` on one Qdrant collection. Open with `QdrantVectorIndex.connect`."""

    kind = QDRANT_KIND

    def __init__(
        self, client: QdrantClient, collection: str, dimension: int, *, remote: bool
    ) -> None:
        self.dimension = dimension
        self.collection = collection
        self._client = client
        self._remote = remote
        self._count = self._stored_count()

    @classmethod
    def connect(cls, location: str | Path, collection: str, dimension: int) -> QdrantVectorIndex:
        """Open (without creating) `collection` at `location`; see the module docstring."""
        text = str(location)
        remote = text.startswith(("http://", "https://"))
        try:
            if remote:
                client = QdrantClient(url=text)
            elif text == ":memory:":
                client = QdrantClient(location=":memory:")
            else:
                client = QdrantClient(path=text)
        except RuntimeError as error:  # local mode: the folder is locked by another process
            raise IndexBusyError(f"Qdrant at {text}: {error}") from None
        try:
            return cls(client, collection, dimension, remote=remote)
        except Exception as error:
            client.close()
            raise InvalidInputError(f"cannot reach Qdrant at {text}: {error}") from None

    def close(self) -> None:
        self._client.close()

    def __len__(self) -> int:
        return self._count

    @property
    def exists(self) -> bool:
        return self._client.collection_exists(self.collection)

    def reset(self) -> None:
        """(Re)create the collection empty, with the payload indexes filters use."""
        if self.exists:
            self._client.delete_collection(self.collection)
        self.create()

    def create(self) -> None:
        """Create the collection (it must not exist), with the payload indexes filters use."""
        self._client.create_collection(
            self.collection,
            vectors_config=models.VectorParams(size=self.dimension, distance=models.Distance.DOT),
        )
        if self._remote:  # local mode has no payload indexes (it scans)
            for field, schema in (
                (_START, models.PayloadSchemaType.FLOAT),
                (_LAST, models.PayloadSchemaType.FLOAT),
                (_TOPICS, models.PayloadSchemaType.KEYWORD),
            ):
                self._client.create_payload_index(self.collection, field, schema, wait=True)
        self._count = 0

    # -- writes ------------------------------------------------------------------------

    def add(self, row_ids: np.ndarray, vectors: np.ndarray) -> None:
        """row_ids: (m,) int64, not yet present; vectors: (m, dimension) float32."""
        vectors = np.asarray(vectors, dtype=np.float32)
        for start in range(0, len(row_ids), _WRITE_BATCH):
            chunk = slice(start, start + _WRITE_BATCH)
            self._client.upsert(
                self.collection,
                points=models.Batch(
                    ids=[int(row_id) for row_id in row_ids[chunk]],
                    vectors=vectors[chunk].tolist(),
                ),
                wait=True,
            )
        self._count += len(row_ids)

    def upsert_points(
        self,
        row_ids: np.ndarray,
        vectors: np.ndarray,
        published: Sequence[PublishedTime | None],
        topics: Sequence[tuple[str, ...]],
    ) -> None:
        """Write these rows with their payload in one request; rows already there are
        replaced (Qdrant upserts by id), so a copy may be repeated. `len` is stale until
        `recount`.

        row_ids: (m,) int64; vectors: (m, dimension) float32.
        """
        self._client.upsert(
            self.collection,
            points=models.Batch(
                ids=[int(row_id) for row_id in row_ids],
                vectors=np.asarray(vectors, dtype=np.float32).tolist(),
                payloads=[
                    point_payload(moment, labels)
                    for moment, labels in zip(published, topics, strict=True)
                ],
            ),
            wait=True,
        )

    def recount(self) -> int:
        """Count the points (exactly) and return the count."""
        self._count = self._stored_count()
        return self._count

    def remove(self, row_ids: np.ndarray) -> None:
        if not len(row_ids):
            return
        self._client.delete(
            self.collection,
            points_selector=models.PointIdsList(points=[int(row_id) for row_id in row_ids]),
            wait=True,
        )
        self._count = self._stored_count()  # absent ids are ignored: count what is left

    def describe(
        self,
        row_ids: np.ndarray,
        published: Sequence[PublishedTime | None],
        topics: Sequence[tuple[str, ...]],
    ) -> None:
        """Replace the payload of these rows with their publication time and topics."""
        operations = [
            models.OverwritePayloadOperation(
                overwrite_payload=models.SetPayload(
                    payload=point_payload(moment, labels), points=[int(row_id)]
                )
            )
            for row_id, moment, labels in zip(row_ids, published, topics, strict=True)
        ]
        for start in range(0, len(operations), _WRITE_BATCH):
            self._client.batch_update_points(
                self.collection, operations[start : start + _WRITE_BATCH], wait=True
            )

    # -- reads -------------------------------------------------------------------------

    def vectors_of(self, row_ids: np.ndarray) -> np.ndarray:
        """The stored vectors: (m,) -> (m, dimension). Raises KeyError for an absent id."""
        wanted = [int(row_id) for row_id in row_ids]
        if not wanted:
            return np.zeros((0, self.dimension), dtype=np.float32)
        records = self._client.retrieve(
            self.collection, ids=list(dict.fromkeys(wanted)), with_vectors=True
        )
        found = {int(record.id): record.vector for record in records}
        missing = [row_id for row_id in wanted if row_id not in found]
        if missing:
            raise KeyError(missing[0])
        return np.asarray([found[row_id] for row_id in wanted], dtype=np.float32)

    def stored_points(self, row_ids: np.ndarray) -> dict[int, tuple[np.ndarray, dict[str, Any]]]:
        """The vector (dimension,) and payload of each of these rows that is present."""
        records = self._client.retrieve(
            self.collection,
            ids=[int(row_id) for row_id in row_ids],
            with_vectors=True,
            with_payload=True,
        )
        return {
            int(record.id): (np.asarray(record.vector, dtype=np.float32), record.payload or {})
            for record in records
        }

    def search(
        self, queries: np.ndarray, depth: int, allowed: RowSelection | np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top `depth` by inner product for each query, as `VectorIndex.search`.

        A selection's payload conditions are evaluated by Qdrant; a bare bitmap (no
        conditions) is sent as the list of its ids.
        """
        depth = max(1, min(depth, len(self)))
        queries = np.asarray(queries, dtype=np.float32)
        scores = np.full((len(queries), depth), -np.inf, dtype=np.float32)
        row_ids = np.full((len(queries), depth), -1, dtype=np.int64)
        where = _filter(allowed)
        for start, block in _blocks(queries):
            responses = self._client.query_batch_points(
                self.collection,
                requests=[
                    models.QueryRequest(query=query.tolist(), limit=depth, filter=where)
                    for query in block
                ],
            )
            for offset, response in enumerate(responses):
                points = response.points
                row_ids[start + offset, : len(points)] = [int(point.id) for point in points]
                scores[start + offset, : len(points)] = [point.score for point in points]
        return scores, row_ids

    def _stored_count(self) -> int:
        if not self._client.collection_exists(self.collection):
            return 0
        return int(self._client.count(self.collection, exact=True).count)


def point_payload(published: PublishedTime | None, topics: tuple[str, ...]) -> dict[str, Any]:
    """A point's payload: what the filters read of the article."""
    payload: dict[str, Any] = {_TOPICS: list(topics)}
    if published is not None:
        payload[_START] = published.start
        payload[_LAST] = last_instant(published)
    return payload


def _filter(allowed: RowSelection | np.ndarray | None) -> models.Filter | None:
    if allowed is None:
        return None
    if isinstance(allowed, RowSelection) and allowed.conditions is not None:
        return _conditions_filter(allowed.conditions)
    bitmap = allowed.bitmap if isinstance(allowed, RowSelection) else allowed
    ids = np.flatnonzero(np.unpackbits(bitmap, bitorder="little"))
    return models.Filter(must=[models.HasIdCondition(has_id=[int(row_id) for row_id in ids])])


def _conditions_filter(conditions: PayloadConditions) -> models.Filter:
    must: list[models.Condition] = []
    if conditions.start_from is not None or conditions.start_to is not None:
        must.append(
            models.FieldCondition(
                key=_START,
                range=models.Range(gte=conditions.start_from, lte=conditions.start_to),
            )
        )
    if conditions.last_to is not None:
        must.append(models.FieldCondition(key=_LAST, range=models.Range(lte=conditions.last_to)))
    if conditions.topic is not None:
        must.append(
            models.FieldCondition(key=_TOPICS, match=models.MatchValue(value=conditions.topic))
        )
    bounded = (conditions.start_from, conditions.start_to, conditions.last_to) != (None,) * 3
    must_not: list[models.Condition] = []
    if conditions.dated and not bounded:  # a range already leaves undated points out
        must_not.append(models.IsEmptyCondition(is_empty=models.PayloadField(key=_START)))
    return models.Filter(must=must or None, must_not=must_not or None)


def _blocks(queries: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    for start in range(0, len(queries), _QUERY_BATCH):
        yield start, queries[start : start + _QUERY_BATCH]
