"""Stored related lists: each article's first related items and its slots, computed ahead.

Related-by-id without filters is what a news site asks for on every page view, and ranking
it live costs milliseconds (dense search, lexical postings, exact re-scoring). So the list
(the best `depth` items, as (row_id, score)) and the two slots of an article are stored in
the article store's database and read back by a request.

What keeps a stored list right:
- The store's write transaction drops every list owned by, or holding, an article the write
  changes or deletes (`drop_lists_touching`), so a stored list never names an article that
  is gone or reads differently than when it was ranked. Crash-safe by construction: there is
  no moment when the articles are committed and the lists not.
- A list is ranked for one configuration of the ranking; `signature` keys them, and lists
  under another signature are neither read nor kept.
- What a write cannot know cheaply is which other articles' lists a *new* article should
  enter. The writer re-ranks the lists of the new article's own related items (relatedness
  is close to symmetric); `newsrec precompute --all` re-ranks everything (also after document
  frequencies have drifted with a growing corpus).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

SCHEMA = """
CREATE TABLE IF NOT EXISTS related_lists (
    owner INTEGER PRIMARY KEY,
    related BLOB NOT NULL,
    slots BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS related_members (
    member INTEGER NOT NULL,
    owner INTEGER NOT NULL,
    PRIMARY KEY (member, owner)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS related_members_owner ON related_members (owner);
"""

_HIT = np.dtype([("row_id", "<i8"), ("score", "<f8")])
_NO_SLOT = -1
_SIGNATURE_KEY = "related_lists_signature"
_VERSION_KEY = "related_lists_version"  # bumped by every put: readers reload on a new one
Hit = tuple[int, float]


@dataclass(frozen=True, slots=True)
class RankedLists:
    """One article's stored ranking: related items best first, then previous and next."""

    related: list[Hit]
    previous: Hit | None
    next: Hit | None

    def members(self) -> set[int]:
        found = {row_id for row_id, _ in self.related}
        found.update(hit[0] for hit in (self.previous, self.next) if hit is not None)
        return found


def drop_lists_touching(db: sqlite3.Connection, row_ids: Sequence[int]) -> list[int]:
    """Inside the caller's transaction: drop the lists owned by or holding these rows.

    Returns the owners whose lists were dropped.
    """
    if not row_ids:
        return []
    owners: set[int] = set()
    unique = list(dict.fromkeys(row_ids))
    for start in range(0, len(unique), 450):
        chunk = unique[start : start + 450]
        marks = ",".join("?" * len(chunk))
        owners.update(
            int(row[0])
            for row in db.execute(
                f"SELECT owner FROM related_lists WHERE owner IN ({marks}) "
                f"UNION SELECT owner FROM related_members WHERE member IN ({marks})",
                chunk + chunk,
            )
        )
    _delete_owners(db, sorted(owners))
    return sorted(owners)


def drop_lists_of(db: sqlite3.Connection, owners: Sequence[int]) -> list[int]:
    """Inside the caller's transaction: drop the lists these rows own (their slots change
    with their story); returns the owners that had one."""
    had: list[int] = []
    unique = list(dict.fromkeys(owners))
    for start in range(0, len(unique), 900):
        chunk = unique[start : start + 900]
        marks = ",".join("?" * len(chunk))
        query = f"SELECT owner FROM related_lists WHERE owner IN ({marks})"
        had.extend(int(row[0]) for row in db.execute(query, chunk))
    _delete_owners(db, had)
    return had


class RelatedListStore:
    """Reads and writes the stored lists of one store database (its connection)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def signature(self) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (_SIGNATURE_KEY,)).fetchone()
        return str(row[0]) if row else None

    def version(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (_VERSION_KEY,)).fetchone()
        return int(row[0]) if row else 0

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM related_lists").fetchone()[0])

    def get(self, row_id: int, signature: str) -> RankedLists | None:
        """The stored lists of `row_id`, or None when absent or ranked another way."""
        row = self._db.execute(
            "SELECT related, slots, (SELECT value FROM meta WHERE key = ?) "
            "FROM related_lists WHERE owner = ?",
            (_SIGNATURE_KEY, row_id),
        ).fetchone()
        if row is None or row[2] != signature:
            return None
        related = np.frombuffer(row[0], dtype=_HIT)
        previous, following = (
            None if hit["row_id"] == _NO_SLOT else (int(hit["row_id"]), float(hit["score"]))
            for hit in np.frombuffer(row[1], dtype=_HIT)
        )
        return RankedLists(
            [(int(r), float(s)) for r, s in zip(related["row_id"], related["score"], strict=True)],
            previous,
            following,
        )

    def owners_without_lists(self, signature: str) -> list[int]:
        """Row ids of the articles with no usable stored list (all of them under another
        signature), in row order."""
        if self.signature() != signature:
            query = "SELECT row_id FROM articles ORDER BY row_id"
        else:
            query = (
                "SELECT row_id FROM articles WHERE row_id NOT IN "
                "(SELECT owner FROM related_lists) ORDER BY row_id"
            )
        return [int(row[0]) for row in self._db.execute(query)]

    def members_of(self, owners: Iterable[int]) -> set[int]:
        found: set[int] = set()
        for owner in owners:
            found.update(
                int(row[0])
                for row in self._db.execute(
                    "SELECT member FROM related_members WHERE owner = ?", (owner,)
                )
            )
        return found

    def put(self, lists: dict[int, RankedLists], signature: str, generation: int) -> bool:
        """Store lists ranked at store `generation`, in one transaction.

        Refused (returns False) when the store has moved on since: a list ranked before a
        write could hold what that write changed. Lists under another signature go first.
        """
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
            if (int(row[0]) if row else 0) != generation:
                db.execute("ROLLBACK")
                return False
            if self.signature() != signature:
                db.execute("DELETE FROM related_lists")
                db.execute("DELETE FROM related_members")
                _set_meta(db, _SIGNATURE_KEY, signature)
            _delete_owners(db, list(lists))
            db.executemany(
                "INSERT INTO related_lists (owner, related, slots) VALUES (?, ?, ?)",
                [
                    (owner, _packed(ranked.related), _packed([ranked.previous, ranked.next]))
                    for owner, ranked in lists.items()
                ],
            )
            db.executemany(
                "INSERT OR IGNORE INTO related_members (member, owner) VALUES (?, ?)",
                [(member, owner) for owner, ranked in lists.items() for member in ranked.members()],
            )
            _set_meta(db, _VERSION_KEY, str(self.version() + 1))
        except BaseException:
            _rollback(db)
            raise
        try:
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)  # a full disk: else the open transaction blocks every later write
            raise
        return True


def _rollback(db: sqlite3.Connection) -> None:
    # SQLITE_FULL and I/O errors roll back by themselves; ROLLBACK would then raise.
    if db.in_transaction:
        db.execute("ROLLBACK")


def _set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
    db.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def _delete_owners(db: sqlite3.Connection, owners: Sequence[int]) -> None:
    db.executemany("DELETE FROM related_lists WHERE owner = ?", [(o,) for o in owners])
    db.executemany("DELETE FROM related_members WHERE owner = ?", [(o,) for o in owners])


def _packed(hits: Sequence[Hit | None]) -> bytes:
    packed = np.empty(len(hits), dtype=_HIT)
    for position, hit in enumerate(hits):
        packed[position] = hit if hit is not None else (_NO_SLOT, 0.0)
    return packed.tobytes()
