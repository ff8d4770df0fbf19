"""Reading the article store: the connection, identity, pinned reads, articles by id or
row, summaries (kept in memory on request), vectors by content hash and the rows the
in-memory parts are loaded from."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from recommender.articles import Article
from recommender.errors import IndexCorruptError
from recommender.index.records import (
    ARTICLE_COLUMNS,
    ArticleSummary,
    AssignedTopics,
    CatalogRows,
    PointRows,
    StoredState,
    article_from_row,
    chunks,
    labels_of,
)
from recommender.index.related_lists import SCHEMA as RELATED_LISTS_SCHEMA
from recommender.index.related_lists import RelatedListStore
from recommender.index.store_schema import ARTICLES_SCHEMA, open_read_only
from recommender.stories.store import SCHEMA as STORIES_SCHEMA
from recommender.stories.store import StoryStore, founded_by


class StoreReads:
    """The read side of `ArticleStore`. Not thread-safe: one store object per thread or
    process."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        """`read_only`: a reader, which may find the directory read-only (`open_read_only`)."""
        self.path = path
        try:
            try:
                self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
                # WAL lets readers in other processes keep reading while a writer commits;
                # synchronous=FULL makes a commit durable before it is acknowledged.
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.execute("PRAGMA busy_timeout=10000")
                self._db.executescript(ARTICLES_SCHEMA + RELATED_LISTS_SCHEMA + STORIES_SCHEMA)
            except sqlite3.OperationalError:
                if not read_only or not path.is_file():
                    raise
                if hasattr(self, "_db"):
                    self._db.close()
                self._db = open_read_only(path)
        except sqlite3.DatabaseError as error:
            raise IndexCorruptError(f"{path}: not a readable newsrec store ({error})") from None
        self.related_lists = RelatedListStore(self._db)
        self.stories = StoryStore(self._db)
        # Every article's summary, once `keep_summaries_in_memory` is called.
        self._summaries: dict[int, ArticleSummary] | None = None
        # Owners whose stored related lists a write dropped, for the writer to rank again.
        self.dropped_list_owners: set[int] = set()

    def close(self) -> None:
        self._db.close()

    def pin_read_transaction(self) -> None:
        """Hold one read transaction until the store is closed (a read-only store).

        In WAL mode an open read transaction sees one committed version of the store, however
        many writes another process commits meanwhile: every row read from here on belongs
        to the version the in-memory parts were loaded from (no torn read)."""
        self._db.execute("BEGIN")
        self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()

    def meta(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT key, value FROM meta").fetchall())

    @property
    def generation(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    # -- reads ---------------------------------------------------------------------------

    def states(self, ids: Sequence[str]) -> dict[str, StoredState]:
        found: dict[str, StoredState] = {}
        for chunk in chunks(list(ids), 900):
            marks = ",".join("?" * len(chunk))
            query = (
                f"SELECT id, row_id, content_hash, record_hash FROM articles WHERE id IN ({marks})"
            )
            for article_id, row_id, content, record in self._db.execute(query, chunk):
                found[article_id] = StoredState(row_id, content, record)
        return found

    def hashes_with_vectors(self, hashes: Iterable[str]) -> set[str]:
        present: set[str] = set()
        for chunk in chunks(list(set(hashes)), 900):
            marks = ",".join("?" * len(chunk))
            query = f"SELECT content_hash FROM vectors WHERE content_hash IN ({marks})"
            present.update(row[0] for row in self._db.execute(query, chunk))
        return present

    def vectors_by_hash(self, hashes: Iterable[str], dimension: int) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for chunk in chunks(list(set(hashes)), 900):
            marks = ",".join("?" * len(chunk))
            query = f"SELECT content_hash, vector FROM vectors WHERE content_hash IN ({marks})"
            for key, blob in self._db.execute(query, chunk):
                found[key] = np.frombuffer(blob, dtype=np.float32, count=dimension)
        return found

    def row_id_of(self, article_id: str) -> int | None:
        row = self._db.execute("SELECT row_id FROM articles WHERE id = ?", (article_id,)).fetchone()
        return int(row[0]) if row else None

    def article(self, article_id: str) -> Article | None:
        row = self._db.execute(
            f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id = ?", (article_id,)
        ).fetchone()
        return article_from_row(row) if row else None

    def articles_by_row_id(self, row_ids: Sequence[int]) -> dict[int, Article]:
        found: dict[int, Article] = {}
        for chunk in chunks(list(row_ids), 900):
            marks = ",".join("?" * len(chunk))
            query = f"SELECT row_id, {ARTICLE_COLUMNS} FROM articles WHERE row_id IN ({marks})"
            for row in self._db.execute(query, chunk):
                found[int(row[0])] = article_from_row(row[1:])
        return found

    def keep_summaries_in_memory(self) -> dict[int, ArticleSummary]:
        """Read every article's summary once and answer `summaries_by_row_id` from memory
        from then on (a service shows them on every related list); this store's writes keep
        the copy in step. Returns them all, by row id."""
        self._summaries = None
        row_ids = [int(row[0]) for row in self._db.execute("SELECT row_id FROM articles")]
        self._summaries = self.summaries_by_row_id(row_ids)
        return self._summaries

    def summaries_by_row_id(self, row_ids: Sequence[int]) -> dict[int, ArticleSummary]:
        if self._summaries is not None:
            kept = self._summaries
            return {row_id: kept[row_id] for row_id in row_ids if row_id in kept}
        return self._read_summaries(row_ids)

    def _read_summaries(self, row_ids: Sequence[int]) -> dict[int, ArticleSummary]:
        found: dict[int, ArticleSummary] = {}
        for chunk in chunks(list(row_ids), 900):
            marks = ",".join("?" * len(chunk))
            query = (
                "SELECT row_id, id, title, published, source, assigned_topics, primary_topic, "
                "s.story FROM articles LEFT JOIN article_stories s USING (row_id) "
                f"WHERE row_id IN ({marks})"
            )
            for row in self._db.execute(query, chunk):
                row_id, article_id, title, published, source, topics, primary, story = row
                assigned = AssignedTopics.from_columns(topics, primary)
                found[int(row_id)] = ArticleSummary(
                    article_id,
                    title,
                    published,
                    source,
                    assigned.labels if assigned else (),
                    story if story is not None else founded_by(article_id),
                )
        return found

    def topics_of(self, article_id: str) -> AssignedTopics | None:
        row = self._db.execute(
            "SELECT assigned_topics, primary_topic FROM articles WHERE id = ?", (article_id,)
        ).fetchone()
        return AssignedTopics.from_columns(*row) if row else None

    def vector_rows(self, dimension: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(row_ids (m,), vectors (m, dimension)) in slices, for rebuilding the vector index."""
        cursor = self._db.execute(
            "SELECT a.row_id, v.vector FROM articles a JOIN vectors v USING (content_hash) "
            "ORDER BY a.row_id"
        )
        while rows := cursor.fetchmany(10_000):
            row_ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
            blob = b"".join(row[1] for row in rows)
            yield row_ids, np.frombuffer(blob, dtype=np.float32).reshape(len(rows), dimension)

    def point_rows(
        self, dimension: int, *, after: int = -1, batch: int = 1024
    ) -> Iterator[PointRows]:
        """Every article after row `after`, `batch` at a time: for copying to a vector engine.

        Each slice is its own query from the last row id seen (keyset paging), so no read
        transaction stays open across a long copy.
        """
        nan = float("nan")
        while True:
            rows = self._db.execute(
                "SELECT a.row_id, v.vector, a.published_start, a.published_end, "
                "a.assigned_topics, a.primary_topic FROM articles a "
                "JOIN vectors v USING (content_hash) WHERE a.row_id > ? ORDER BY a.row_id LIMIT ?",
                (after, batch),
            ).fetchall()
            if not rows:
                return
            count = len(rows)
            yield PointRows(
                row_ids=np.fromiter((r[0] for r in rows), dtype=np.int64, count=count),
                vectors=np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(
                    count, dimension
                ),
                starts=np.fromiter(
                    (nan if r[2] is None else r[2] for r in rows), np.float64, count
                ),
                ends=np.fromiter((nan if r[3] is None else r[3] for r in rows), np.float64, count),
                topics=[labels_of(r[4], r[5]) for r in rows],
            )
            after = int(rows[-1][0])

    def catalog_rows(self, signature_size: int) -> CatalogRows:
        rows = self._db.execute(
            "SELECT row_id, published_start, published_end, fingerprint, assigned_topics, "
            "primary_topic FROM articles ORDER BY row_id"
        ).fetchall()
        nan = float("nan")
        return CatalogRows(
            row_ids=np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
            starts=np.fromiter(
                (nan if r[1] is None else r[1] for r in rows), np.float64, len(rows)
            ),
            ends=np.fromiter((nan if r[2] is None else r[2] for r in rows), np.float64, len(rows)),
            fingerprints=np.frombuffer(b"".join(r[3] for r in rows), dtype=np.uint32)
            .reshape(len(rows), signature_size)
            .copy(),
            topics=[labels_of(r[4], r[5]) for r in rows],
        )

    def term_rows(self) -> tuple[np.ndarray, list[bytes]]:
        """(row_ids (n,), term blobs) ordered by row_id, for the lexical index."""
        rows = self._db.execute("SELECT row_id, terms FROM articles ORDER BY row_id").fetchall()
        row_ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        return row_ids, [row[1] for row in rows]

    def iter_ids(self) -> Iterator[str]:
        for (article_id,) in self._db.execute("SELECT id FROM articles ORDER BY row_id"):
            yield article_id
