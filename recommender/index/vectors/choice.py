"""Which vector backend an index opens with: the one its store records, unless told otherwise.

The store records where the vectors are served from (FAISS, or a Qdrant collection and its
location) when an index is created, and again when `newsrec migrate` moves them. Opening
then follows the record, so a migrated index opens on Qdrant with no setting at all, and a
setting that asks for the other backend is refused: a FAISS index rebuilt behind the user's
back from the store, or a collection the index no longer writes to, would serve answers
that quietly stop following the writes; so is another collection name. An explicit URL
still overrides the recorded one: it must reach the same cluster, seen under another name
from another host (a container network, a load balancer).

An index created before the record existed has none: it opens as asked (FAISS by default)
and its first writer records that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from recommender.errors import IndexMismatchError, InvalidInputError
from recommender.index.store_schema import BACKEND_KEYS
from recommender.index.vectors.protocol import VECTOR_BACKENDS

DEFAULT_COLLECTION = "newsrec"
BACKEND_KEY, URL_KEY, COLLECTION_KEY = BACKEND_KEYS


@dataclass(frozen=True, slots=True)
class BackendChoice:
    """Where an index's vectors live. `qdrant_url` None is local mode in the index directory."""

    backend: str = "faiss"
    qdrant_url: str | None = None
    qdrant_collection: str = DEFAULT_COLLECTION

    @classmethod
    def qdrant(cls, url: str | None, collection: str | None) -> BackendChoice:
        return cls("qdrant", url, collection or DEFAULT_COLLECTION)

    def describe(self) -> str:
        if self.backend == "faiss":
            return "FAISS"
        where = self.qdrant_url or "local mode"
        return f"Qdrant collection {self.qdrant_collection!r} at {where}"

    def record(self) -> dict[str, str]:
        """The store's meta entries for this choice (see `ArticleStore.record_backend`)."""
        if self.backend == "faiss":
            return {BACKEND_KEY: "faiss"}
        fields = {BACKEND_KEY: "qdrant", COLLECTION_KEY: self.qdrant_collection}
        if self.qdrant_url is not None:
            fields[URL_KEY] = self.qdrant_url
        return fields


def recorded_backend(meta: Mapping[str, str]) -> BackendChoice | None:
    """The choice a store records; None for an index from before the record existed."""
    backend = meta.get(BACKEND_KEY)
    if backend is None:
        return None
    if backend == "faiss":
        return BackendChoice()
    if backend == "qdrant":
        return BackendChoice.qdrant(meta.get(URL_KEY), meta.get(COLLECTION_KEY))
    raise IndexMismatchError(
        f"the index records vector backend {backend!r}, which this version does not know "
        f"(it knows {', '.join(VECTOR_BACKENDS)})"
    )


def choose_backend(
    recorded: BackendChoice | None,
    directory: Path,
    *,
    backend: str | None = None,
    qdrant_url: str | None = None,
    qdrant_collection: str | None = None,
) -> BackendChoice:
    """The backend to open: the recorded one; `backend` may only confirm it (see above)."""
    if backend is not None and backend not in VECTOR_BACKENDS:
        raise InvalidInputError(
            f"unknown vector backend {backend!r}; choose one of {', '.join(VECTOR_BACKENDS)}"
        )
    if recorded is None:
        if (backend or "faiss") == "faiss":
            return BackendChoice()
        return BackendChoice.qdrant(qdrant_url, qdrant_collection)
    if backend is not None and backend != recorded.backend:
        asked, move = (
            ("FAISS", "back with `newsrec migrate --to faiss`")
            if backend == "faiss"
            else ("Qdrant", "with `newsrec migrate --to qdrant`")
        )
        raise IndexMismatchError(
            f"{directory} serves its vectors from {recorded.describe()}, not {asked}: "
            f"unset NEWSREC_VECTOR_BACKEND, or move them {move}"
        )
    if recorded.backend == "faiss":
        return recorded
    if qdrant_collection is not None and qdrant_collection != recorded.qdrant_collection:
        raise IndexMismatchError(
            f"{directory} serves its vectors from {recorded.describe()}, not from collection "
            f"{qdrant_collection!r}: unset NEWSREC_QDRANT_COLLECTION"
        )
    url = qdrant_url if qdrant_url is not None else recorded.qdrant_url
    return BackendChoice.qdrant(url, recorded.qdrant_collection)
