"""SQLite store: articles, their vectors keyed by content hash, and the index's identity.

The store is the source of truth. Each write is one transaction and bumps `generation`, so
the FAISS snapshot saved beside it can tell whether it is still in step (see `index.py`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recommender.articles import Article
from recommender.errors import IndexCorruptError
from recommender.index.related_lists import SCHEMA as RELATED_LISTS_SCHEMA
from recommender.index.related_lists import RelatedListStore, drop_lists_of, drop_lists_touching
from recommender.stories.store import SCHEMA as STORIES_SCHEMA
from recommender.stories.store import StoryStore, founded_by, update_in_write

# 3: stored related lists, which every writer must drop as it changes articles; a release
# that predates them (2) must not write a store that has them, so it refuses 3.
# 4: article stories, which every writer keeps in step (story_store.py); a 3 store is
# upgraded by a writer, its articles then pending a story until the next write assigns them.
SCHEMA_VERSION = 4
UPGRADABLE_SCHEMA_VERSIONS = frozenset({"2", "3"})
# Meta entries saying where the vectors are served from (see recommender/index/vectors/choice.py).
BACKEND_KEYS = ("vector_backend", "qdrant_url", "qdrant_collection")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    row_id INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    published TEXT,
    published_start REAL,
    published_end REAL,
    source TEXT,
    url TEXT,
    section TEXT,
    topics TEXT,
    story TEXT,
    extra TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    record_hash TEXT NOT NULL,
    fingerprint BLOB NOT NULL,
    terms BLOB NOT NULL,
    assigned_topics TEXT,
    primary_topic TEXT
);
CREATE INDEX IF NOT EXISTS articles_content_hash ON articles (content_hash);
CREATE TABLE IF NOT EXISTS vectors (content_hash TEXT PRIMARY KEY, vector BLOB NOT NULL);
"""

_ARTICLE_COLUMNS = "id, title, body, published, source, url, section, topics, story, extra"


@dataclass(frozen=True, slots=True)
class StoredState:
    """What the store already knows about an article id, to classify an upsert."""

    row_id: int
    content_hash: str
    record_hash: str


@dataclass(frozen=True, slots=True)
class PreparedArticle:
    """An article with everything derived from it that the store keeps."""

    article: Article
    record_hash: str
    fingerprint: np.ndarray  # (SIGNATURE_SIZE,) uint32
    terms: bytes  # hashed term frequencies, see lexical.encode_terms


@dataclass(frozen=True, slots=True)
class AssignedTopics:
    """Topics a tagger gave an article: (label, score, iptc) best first, and the primary.

    `confident` is False when no topic cleared the threshold: `topics` then holds just the
    primary (stored as [label, score, iptc, false]), which no topic filter matches.
    """

    topics: tuple[tuple[str, float, str | None], ...]
    primary: str
    confident: bool = True

    def to_json(self) -> str:
        rows = [list(topic) for topic in self.topics]
        if not self.confident:
            rows = [[*row, False] for row in rows]
        return json.dumps(rows)

    @classmethod
    def from_columns(cls, topics: str | None, primary: str | None) -> AssignedTopics | None:
        if topics is None or primary is None:
            return None
        rows = json.loads(topics)
        if not rows:
            # Written before the primary was always listed: read as untagged, so readers
            # score the stored vector again (`newsrec retag` rewrites it).
            return None
        confident = all(len(t) < 4 or t[3] for t in rows)
        return cls(tuple((t[0], float(t[1]), t[2]) for t in rows), primary, confident)

    @property
    def labels(self) -> tuple[str, ...]:
        """Labels that cleared the threshold, what topic filters match (may be empty)."""
        return tuple(topic[0] for topic in self.topics) if self.confident else ()


@dataclass(frozen=True, slots=True)
class ArticleSummary:
    """What a related list shows of an article, without its body."""

    id: str
    title: str
    published: str | None
    source: str | None
    topics: tuple[str, ...]
    story: str | None = None  # None only where a summary is built without the store


@dataclass(frozen=True, slots=True)
class CatalogRows:
    """Per-article arrays the ranking needs in memory, ordered by row_id.

    row_ids: (n,) int64; starts, ends: (n,) float64, NaN when undated;
    fingerprints: (n, SIGNATURE_SIZE) uint32
    """

    row_ids: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    fingerprints: np.ndarray
    topics: list[tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class PointRows:
    """What a vector engine holds of some articles, ordered by row_id.

    row_ids: (m,) int64; vectors: (m, dimension) float32; starts, ends: (m,) float64, NaN
    when undated; topics: the labels assigned at index time.
    """

    row_ids: np.ndarray
    vectors: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    topics: list[tuple[str, ...]]


class ArticleStore:
    """One SQLite file. Not thread-safe: one store object per thread or process."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        """`read_only`: a reader, which may find the directory read-only (`_open_read_only`)."""
        self.path = path
        try:
            try:
                self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
                # WAL lets readers in other processes keep reading while a writer commits;
                # synchronous=FULL makes a commit durable before it is acknowledged.
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.execute("PRAGMA busy_timeout=10000")
                self._db.executescript(_SCHEMA + RELATED_LISTS_SCHEMA + STORIES_SCHEMA)
            except sqlite3.OperationalError:
                if not read_only or not path.is_file():
                    raise
                if hasattr(self, "_db"):
                    self._db.close()
                self._db = _open_read_only(path)
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

    # -- identity ------------------------------------------------------------------------

    def meta(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT key, value FROM meta").fetchall())

    def initialise(self, embedder_name: str, dimension: int) -> None:
        with self._transaction():
            self._set_meta(
                schema_version=str(SCHEMA_VERSION),
                embedder=embedder_name,
                dimension=str(dimension),
                generation="0",
            )

    def record_backend(self, fields: dict[str, str], *, new_generation: bool) -> None:
        """Record where the vectors are served from (`BACKEND_KEYS`), replacing any earlier
        record. `new_generation` when they moved: a snapshot or a reader of the old place is
        then out of step."""
        if not fields.keys() <= set(BACKEND_KEYS):
            raise ValueError(f"not backend fields: {sorted(fields.keys() - set(BACKEND_KEYS))}")
        with self._transaction():
            marks = ",".join("?" * len(BACKEND_KEYS))
            self._db.execute(f"DELETE FROM meta WHERE key IN ({marks})", BACKEND_KEYS)
            if new_generation:
                fields = {**fields, "generation": str(self.generation + 1)}
            self._set_meta(**fields)

    def upgrade_schema(self) -> None:
        """Mark an upgradable store as this version's (its new tables exist already)."""
        with self._transaction():
            self._set_meta(schema_version=str(SCHEMA_VERSION))

    @property
    def generation(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    # -- reads ---------------------------------------------------------------------------

    def states(self, ids: Sequence[str]) -> dict[str, StoredState]:
        found: dict[str, StoredState] = {}
        for chunk in _chunks(list(ids), 900):
            marks = ",".join("?" * len(chunk))
            query = (
                f"SELECT id, row_id, content_hash, record_hash FROM articles WHERE id IN ({marks})"
            )
            for article_id, row_id, content, record in self._db.execute(query, chunk):
                found[article_id] = StoredState(row_id, content, record)
        return found

    def hashes_with_vectors(self, hashes: Iterable[str]) -> set[str]:
        present: set[str] = set()
        for chunk in _chunks(list(set(hashes)), 900):
            marks = ",".join("?" * len(chunk))
            query = f"SELECT content_hash FROM vectors WHERE content_hash IN ({marks})"
            present.update(row[0] for row in self._db.execute(query, chunk))
        return present

    def vectors_by_hash(self, hashes: Iterable[str], dimension: int) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for chunk in _chunks(list(set(hashes)), 900):
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
            f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id = ?", (article_id,)
        ).fetchone()
        return _article_from_row(row) if row else None

    def articles_by_row_id(self, row_ids: Sequence[int]) -> dict[int, Article]:
        found: dict[int, Article] = {}
        for chunk in _chunks(list(row_ids), 900):
            marks = ",".join("?" * len(chunk))
            query = f"SELECT row_id, {_ARTICLE_COLUMNS} FROM articles WHERE row_id IN ({marks})"
            for row in self._db.execute(query, chunk):
                found[int(row[0])] = _article_from_row(row[1:])
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
        for chunk in _chunks(list(row_ids), 900):
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
                topics=[_labels(r[4], r[5]) for r in rows],
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
            topics=[_labels(r[4], r[5]) for r in rows],
        )

    def term_rows(self) -> tuple[np.ndarray, list[bytes]]:
        """(row_ids (n,), term blobs) ordered by row_id, for the lexical index."""
        rows = self._db.execute("SELECT row_id, terms FROM articles ORDER BY row_id").fetchall()
        row_ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        return row_ids, [row[1] for row in rows]

    def iter_ids(self) -> Iterator[str]:
        for (article_id,) in self._db.execute("SELECT id FROM articles ORDER BY row_id"):
            yield article_id

    # -- writes --------------------------------------------------------------------------

    def write(
        self,
        upserts: Sequence[PreparedArticle],
        vectors: dict[str, np.ndarray],
        deletes: Sequence[str] = (),
        topics: dict[str, AssignedTopics] | None = None,
    ) -> tuple[dict[str, int], list[int]]:
        """Apply upserts (with their topics, by article id) and deletes in one transaction.

        Returns the row_id of every upserted id, and the row_ids deleted.
        """
        topics = topics or {}
        with self._transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO vectors (content_hash, vector) VALUES (?, ?)",
                [
                    (key, np.ascontiguousarray(v, dtype=np.float32).tobytes())
                    for key, v in vectors.items()
                ],
            )
            released: set[str] = set()
            # Rows whose text or date changed: what a stored ranking read of them.
            rescored: list[int] = []
            row_ids = {
                item.article.id: self._upsert(item, released, rescored, topics.get(item.article.id))
                for item in upserts
            }
            deleted = []
            for article_id in deletes:
                row = self._db.execute(
                    "DELETE FROM articles WHERE id = ? RETURNING row_id, content_hash",
                    (article_id,),
                ).fetchone()
                if row:
                    deleted.append(int(row[0]))
                    released.add(row[1])
            touched = [*rescored, *deleted]
            self.dropped_list_owners.update(drop_lists_touching(self._db, touched))
            editorial = {row_ids[item.article.id]: item.article.story for item in upserts}
            update_in_write(self._db, editorial, rescored, deleted)
            # A vector no article uses any more would only grow the file.
            self._db.executemany(
                "DELETE FROM vectors WHERE content_hash = ? "
                "AND NOT EXISTS (SELECT 1 FROM articles WHERE content_hash = ?)",
                [(key, key) for key in released],
            )
            self._set_meta(generation=str(self.generation + 1))
        self._refresh_summaries(list(row_ids.values()), deleted)
        return row_ids, deleted

    def set_topics(self, assigned: dict[int, AssignedTopics]) -> None:
        """Replace the topics of the given rows in one transaction."""
        with self._transaction():
            self._db.executemany(
                "UPDATE articles SET assigned_topics = ?, primary_topic = ? WHERE row_id = ?",
                [(a.to_json(), a.primary, row_id) for row_id, a in assigned.items()],
            )
            self._set_meta(generation=str(self.generation + 1))
        self._refresh_summaries(list(assigned), [])

    def write_stories(
        self, assigned: dict[int, str], merged: dict[str, str], drop_owners: Sequence[int]
    ) -> None:
        """Give rows their clustered story and fold merged stories (see `StoryStore.assign`),
        dropping the stored lists of `drop_owners` (their slots change), in one transaction."""
        with self._transaction():
            moved = [row_id for story in merged for row_id in self.stories.member_rows(story)]
            self.stories.assign(assigned, merged)
            self.dropped_list_owners.update(drop_lists_of(self._db, drop_owners))
            self._set_meta(generation=str(self.generation + 1))
        self._refresh_summaries([*assigned, *moved], [])

    def adopt_editorial_stories(self) -> None:
        """Pending articles whose input carries a `story` get it (see `StoryStore`)."""
        with self._transaction():
            before = self._db.total_changes
            self.stories.adopt_editorial()
            if self._db.total_changes != before:
                self._set_meta(generation=str(self.generation + 1))
        if self._summaries is not None:
            self.keep_summaries_in_memory()

    def clear_stories(self, *, editorial: bool = False) -> None:
        """Every clustered story (and with `editorial`, every story) back to pending, in one
        transaction; stored lists are dropped (their slots follow the stories)."""
        with self._transaction():
            if editorial:
                self.stories.clear_all()
            else:
                self.stories.clear_clustered()
            owners = [int(row[0]) for row in self._db.execute("SELECT owner FROM related_lists")]
            self.dropped_list_owners.update(drop_lists_of(self._db, owners))
            self._set_meta(generation=str(self.generation + 1))
        if self._summaries is not None:
            self.keep_summaries_in_memory()

    def _refresh_summaries(self, changed: Sequence[int], deleted: Sequence[int]) -> None:
        """After a commit: bring the in-memory summaries (if kept) in step."""
        if self._summaries is None:
            return
        for row_id in deleted:
            self._summaries.pop(row_id, None)
        self._summaries.update(self._read_summaries(changed))

    def _upsert(
        self,
        item: PreparedArticle,
        released: set[str],
        rescored: list[int],
        topics: AssignedTopics | None,
    ) -> int:
        """Insert or replace one article; collect the content hash it stops using, and its
        row if it was there before with another text or date (a stored ranking read those;
        its source or topics are read afresh with every list)."""
        article = item.article
        previous = self._db.execute(
            "SELECT content_hash, published_start, published_end, row_id FROM articles "
            "WHERE id = ?",
            (article.id,),
        ).fetchone()
        published = article.published_time
        if previous and previous[0] != article.content_hash:
            released.add(previous[0])
        if previous and (
            previous[0] != article.content_hash
            or (previous[1], previous[2])
            != ((published.start, published.end) if published else (None, None))
        ):
            rescored.append(int(previous[3]))
        values: dict[str, Any] = {
            "id": article.id,
            "title": article.title,
            "body": article.body,
            "published": article.published,
            "published_start": published.start if published else None,
            "published_end": published.end if published else None,
            "source": article.source,
            "url": article.url,
            "section": article.section,
            "topics": json.dumps(list(article.topics)) if article.topics is not None else None,
            "story": article.story,
            "extra": json.dumps(article.extra, ensure_ascii=False),
            "content_hash": article.content_hash,
            "record_hash": item.record_hash,
            "fingerprint": np.ascontiguousarray(item.fingerprint, dtype=np.uint32).tobytes(),
            "terms": item.terms,
            "assigned_topics": topics.to_json() if topics else None,
            "primary_topic": topics.primary if topics else None,
        }
        columns = ", ".join(values)
        marks = ", ".join(f":{name}" for name in values)
        updates = ", ".join(f"{name} = excluded.{name}" for name in values if name != "id")
        row = self._db.execute(
            f"INSERT INTO articles ({columns}) VALUES ({marks}) "
            f"ON CONFLICT (id) DO UPDATE SET {updates} RETURNING row_id",
            values,
        ).fetchone()
        return int(row[0])

    def _set_meta(self, **values: str) -> None:
        self._db.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            list(values.items()),
        )

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


def _open_read_only(path: Path) -> sqlite3.Connection:
    """The store in a directory this process cannot write (a read-only mount, another
    user's files): a WAL database needs its `-shm` file, which cannot be created there.

    `mode=ro` reads it when the `-shm` file exists (a writer is running or died). Without
    one there is no `-wal` either (the last writer checkpointed and removed both), so the
    file is the whole store and `immutable=1` reads it without the files it cannot create.
    A `-wal` left without its `-shm` cannot be read here: the error says so.
    """
    uri = path.resolve().as_uri()
    db = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
    try:
        db.execute("SELECT count(*) FROM meta").fetchone()
    except sqlite3.OperationalError:
        db.close()
        if path.with_name(path.name + "-wal").exists():
            raise
        db = sqlite3.connect(
            f"{uri}?immutable=1", uri=True, isolation_level=None, check_same_thread=False
        )
    db.execute("PRAGMA busy_timeout=10000")
    return db


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if kind is not None:
            self._rollback()
            return
        try:
            self._db.execute("COMMIT")
        except BaseException:
            self._rollback()  # else the next BEGIN fails: writes stopped until a restart
            raise

    def _rollback(self) -> None:
        # A full disk (SQLITE_FULL) or an I/O error has rolled the transaction back already;
        # a second ROLLBACK would raise and hide that error.
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")


def _article_from_row(row: Sequence[Any]) -> Article:
    article_id, title, body, published, source, url, section, topics, story, extra = row
    return Article(
        id=article_id,
        title=title,
        body=body,
        published=published,
        source=source,
        url=url,
        section=section,
        topics=tuple(json.loads(topics)) if topics is not None else None,
        story=story,
        extra=json.loads(extra),
    )


def _labels(topics: str | None, primary: str | None) -> tuple[str, ...]:
    assigned = AssignedTopics.from_columns(topics, primary)
    return assigned.labels if assigned else ()


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
