"""Reading an index: its articles, row ids, summaries, topics and what it says of itself."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from recommender.articles import Article
from recommender.errors import ArticleNotFoundError, InvalidInputError
from recommender.index.operations import IndexOperations
from recommender.index.options import IndexInfo
from recommender.index.records import ArticleSummary, AssignedTopics
from recommender.index.related_lists import RankedLists, RelatedListStore


class IndexReads(IndexOperations):
    """The read side of `ArticleIndex`."""

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

    def ids_of_rows(self, row_ids: Sequence[int]) -> list[str]:
        """Article ids of those of these rows still stored, in the given order."""
        summaries = self._store.summaries_by_row_id(list(row_ids))
        return [summaries[row_id].id for row_id in row_ids if row_id in summaries]

    # -- stored related lists ------------------------------------------------------------

    @property
    def related_lists(self) -> RelatedListStore:
        """The related lists stored beside the articles (related_lists.py)."""
        return self._store.related_lists

    def stored_lists(self, article_id: str, signature: str) -> RankedLists | None:
        """The lists stored for this article under `signature`; None when it has none (or
        is not stored)."""
        row_id = self._store.row_id_of(article_id)
        return self._store.related_lists.get(row_id, signature) if row_id is not None else None

    def take_dropped_list_owners(self) -> set[int]:
        """The owners of the stored lists the writes since the last call dropped, forgotten
        here: the caller ranks them again."""
        dropped, self._store.dropped_list_owners = self._store.dropped_list_owners, set()
        return dropped

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

    def topics_of(self, article_id: str) -> AssignedTopics | None:
        """The topics assigned at index time; None when the article was indexed untagged."""
        if article_id not in self:
            raise ArticleNotFoundError(article_id)
        return self._store.topics_of(article_id)
