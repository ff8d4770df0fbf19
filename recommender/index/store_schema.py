"""The store's tables and version, and how its SQLite connection is opened and written:
read-only opening of a directory this process cannot write, and one transaction per write."""

from __future__ import annotations

import sqlite3
from pathlib import Path

# 3: stored related lists, which every writer must drop as it changes articles; a release
# that predates them (2) must not write a store that has them, so it refuses 3.
# 4: article stories, which every writer keeps in step (stories/store.py); a 3 store is
# upgraded by a writer, its articles then pending a story until the next write assigns them.
SCHEMA_VERSION = 4
UPGRADABLE_SCHEMA_VERSIONS = frozenset({"2", "3"})
# Meta entries saying where the vectors are served from (see recommender/index/vectors/choice.py).
BACKEND_KEYS = ("vector_backend", "qdrant_url", "qdrant_collection")

ARTICLES_SCHEMA = """
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


def open_read_only(path: Path) -> sqlite3.Connection:
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


class Transaction:
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
