"""Sentence scores of summarised articles, kept beside the index so each is computed once.

Keyed by the article's content hash (title + body) and the scoring method (with the
embedder's name for dense methods, and the algorithm version): an article whose text
changes gets a new hash, so its old scores are simply never read again, and a new
splitter or scorer never reads the old ones either. Scores rather than chosen sentences
are kept, so every sentence count is served from one entry.

A separate SQLite file (`newsrec-summaries.sqlite`), not a table of the store: the store
is opened read-only by readers (the service pins a read transaction on it), while any
process may add to this cache. It is only a cache: if it cannot be opened or written
(a read-only directory, a busy writer), summaries are computed and kept in memory instead.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import OrderedDict
from pathlib import Path

CACHE_FILE = "newsrec-summaries.sqlite"
MAX_ROWS = 200_000  # a few hundred bytes each; the oldest go first past this
_MEMORY_ITEMS = 4096
_PRUNE_EVERY = 1000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sentence_scores (
    content_hash TEXT NOT NULL,
    method TEXT NOT NULL,
    scores TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (content_hash, method)
);
"""


class SummaryCache:
    """Thread-safe. `path=None` keeps scores in memory only."""

    def __init__(self, path: Path | None, *, max_rows: int = MAX_ROWS) -> None:
        self.path = path
        self.max_rows = max_rows
        self._memory: OrderedDict[tuple[str, str], list[float]] = OrderedDict()
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._opened = path is None
        self._writes = 0

    @classmethod
    def in_directory(cls, directory: Path) -> SummaryCache:
        return cls(Path(directory) / CACHE_FILE)

    def get(self, content_hash: str, method: str) -> list[float] | None:
        key = (content_hash, method)
        with self._lock:
            found = self._memory.get(key)
            if found is not None:
                self._memory.move_to_end(key)
                return found
            db = self._connection()
            if db is None:
                return None
            try:
                row = db.execute(
                    "SELECT scores FROM sentence_scores WHERE content_hash = ? AND method = ?",
                    key,
                ).fetchone()
            except sqlite3.Error:
                return None
            if row is None:
                return None
            scores = [float(value) for value in json.loads(row[0])]
            self._remember(key, scores)
            return scores

    def put(self, content_hash: str, method: str, scores: list[float]) -> None:
        key = (content_hash, method)
        with self._lock:
            self._remember(key, scores)
            db = self._connection()
            if db is None:
                return
            try:
                db.execute(
                    "INSERT OR REPLACE INTO sentence_scores VALUES (?, ?, ?, ?)",
                    (*key, json.dumps([round(s, 6) for s in scores]), time.time()),
                )
                self._writes += 1
                # Once per process and then every so often: the file stays bounded.
                if self._writes % _PRUNE_EVERY == 1:
                    db.execute(
                        "DELETE FROM sentence_scores WHERE rowid IN (SELECT rowid FROM "
                        "sentence_scores ORDER BY created DESC, rowid DESC LIMIT -1 OFFSET ?)",
                        (self.max_rows,),
                    )
            except sqlite3.Error:
                pass  # a busy or read-only file: the scores stay in memory

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __len__(self) -> int:
        """Entries on disk (or in memory without a file)."""
        with self._lock:
            db = self._connection()
            if db is None:
                return len(self._memory)
            return int(db.execute("SELECT COUNT(*) FROM sentence_scores").fetchone()[0])

    def _remember(self, key: tuple[str, str], scores: list[float]) -> None:
        self._memory[key] = scores
        self._memory.move_to_end(key)
        while len(self._memory) > _MEMORY_ITEMS:
            self._memory.popitem(last=False)

    def _connection(self) -> sqlite3.Connection | None:
        """Opened on first use; None when there is no usable file."""
        if not self._opened:
            self._opened = True
            assert self.path is not None
            try:
                db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                db.execute("PRAGMA busy_timeout=2000")
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(_SCHEMA)
                self._db = db
            except sqlite3.Error:
                self._db = None
        return self._db
