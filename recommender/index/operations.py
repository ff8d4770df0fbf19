"""The operations other layers ask of an index's parts, offered by the index itself.

Each delegates to the part that holds the data (the vector index, the lexical index, the
catalog, the store and its stories), so the ranking, stories, writer, service and
evaluation code call the index and never reach into its parts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
from scipy import sparse

from recommender.articles import Article
from recommender.dates import PublishedTime
from recommender.index.parts import IndexParts
from recommender.index.records import ArticleSummary, StoredState
from recommender.index.vectors.protocol import PayloadConditions, RowSelection
from recommender.stories.store import StoryStore


class IndexOperations(IndexParts):
    """What callers read (and the stories write) through `ArticleIndex`."""

    # -- vectors -------------------------------------------------------------------------

    def vectors_of(self, row_ids: np.ndarray) -> np.ndarray:
        """The stored rows' unit vectors: (m,) -> (m, dimension); KeyError for an absent row."""
        return self.vectors.vectors_of(row_ids)

    def dense_search(
        self, queries: np.ndarray, depth: int, allowed: RowSelection | np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The `depth` nearest rows (among `allowed`) of each query vector: scores and row
        ids, (q, depth) each, padded with -inf and -1."""
        return self.vectors.search(queries, depth, allowed)

    # -- terms ---------------------------------------------------------------------------

    def terms_of(self, row_id: int) -> sparse.csr_matrix:
        """A stored article's unit TF-IDF vector, as a query: (1, features)."""
        return self.lexical.query_of(row_id)

    def term_rows(self, row_ids: np.ndarray) -> sparse.csr_matrix:
        """The stored rows' unit TF-IDF vectors, one row each (an unknown row: empty)."""
        return self.lexical.rows_of(row_ids)

    def terms_for_text(self, text: str) -> sparse.csr_matrix:
        """A text's unit TF-IDF vector under this index's term weights: (1, features)."""
        return self.lexical.query_for_text(text)

    def lexical_search(self, terms: sparse.csr_matrix, depth: int) -> tuple[np.ndarray, np.ndarray]:
        """The `depth` rows sharing most with `terms`: (row ids, cosine scores), best first."""
        return self.lexical.search(terms, depth)

    def lexical_scores(self, terms: sparse.csr_matrix, row_ids: np.ndarray) -> np.ndarray:
        """The lexical cosines of `terms` with the given stored rows: (m,)."""
        return self.lexical.scores(terms, row_ids)

    # -- the catalog ---------------------------------------------------------------------

    @property
    def row_ids(self) -> np.ndarray:
        """Every stored row id, ascending (the catalog's order)."""
        return self.catalog.row_ids

    def fingerprint(self, row_id: int) -> np.ndarray:
        """A stored article's text fingerprint (near-duplicates share most of it)."""
        return self.catalog.fingerprint(row_id)

    def published(self, row_id: int) -> PublishedTime | None:
        """A stored article's publication time; None when undated."""
        return self.catalog.published(row_id)

    def starts_of(self, row_ids: np.ndarray | Sequence[int]) -> np.ndarray:
        """Stored rows' publication starts (epoch seconds; NaN when undated): (m,)."""
        catalog = self.catalog
        return catalog.starts[np.searchsorted(catalog.row_ids, row_ids)]

    def start_of(self, row_id: int) -> float:
        """A stored row's publication start (NaN when undated); KeyError when absent."""
        catalog = self.catalog
        return catalog.starts[catalog.position(row_id)]

    def fingerprints_of(self, row_ids: np.ndarray) -> np.ndarray:
        """Stored rows' text fingerprints, one row each."""
        catalog = self.catalog
        return catalog.fingerprints[np.searchsorted(catalog.row_ids, row_ids)]

    def near_duplicates(self, fingerprint: np.ndarray, row_ids: np.ndarray) -> np.ndarray:
        """Which of these stored rows are near-duplicates of `fingerprint` (at the index's
        duplicate threshold): (m,) bool."""
        return self.catalog.duplicates(fingerprint, row_ids, self.duplicate_threshold)

    def row_selection(self, mask: np.ndarray, conditions: PayloadConditions) -> RowSelection:
        """The rows `mask` (over `row_ids`) keeps, for a filtered dense search."""
        return self.catalog.selection(mask, conditions)

    # -- the store -----------------------------------------------------------------------

    def states(self, article_ids: Sequence[str]) -> dict[str, StoredState]:
        """The stored state (row id, hashes) of those of these ids that are stored."""
        return self._store.states(article_ids)

    def summaries_by_row_id(self, row_ids: Sequence[int]) -> dict[int, ArticleSummary]:
        """The summaries (id, title, date, topics, story...) of those of these rows stored."""
        return self._store.summaries_by_row_id(row_ids)

    def articles_by_row_id(self, row_ids: Sequence[int]) -> dict[int, Article]:
        """The stored articles (with their text) of those of these rows stored."""
        return self._store.articles_by_row_id(row_ids)

    def keep_summaries_in_memory(self) -> dict[int, ArticleSummary]:
        """Answer summaries from memory from now on (kept in step by this index's writes);
        returns them all, by row id."""
        return self._store.keep_summaries_in_memory()

    def vectors_by_hash(self, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """The stored vectors of those of these content hashes the store holds."""
        return self._store.vectors_by_hash(hashes, self.embedder.dimension)

    def vector_rows(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every stored vector, in batches of (row ids, vectors)."""
        return self._store.vector_rows(self.embedder.dimension)

    # -- stories -------------------------------------------------------------------------

    @property
    def stories(self) -> StoryStore:
        """The stories stored beside the articles: members, sizes, pending ones."""
        return self._store.stories

    def write_stories(
        self, assigned: dict[int, str], merged: dict[str, str], drop_owners: Sequence[int]
    ) -> None:
        """Give rows their clustered story and fold merged ones, dropping the stored lists
        of `drop_owners`, in one transaction (`ArticleStore.write_stories`)."""
        self._store.write_stories(assigned, merged, drop_owners)

    def clear_stories(self, *, editorial: bool = False) -> None:
        """Every clustered story (with `editorial`, every story) back to pending; stored
        lists are dropped (`ArticleStore.clear_stories`)."""
        self._store.clear_stories(editorial=editorial)

    def adopt_editorial_stories(self) -> None:
        """Pending articles whose input carries a `story` get it."""
        self._store.adopt_editorial_stories()
