"""Which story each article belongs to, kept in the article store's database.

One row per assigned article: `article_stories(row_id, story, editorial)`. An article with
no row is *pending*: written, not yet assigned (see `stories.py`); it reads as a story of
its own until it is. What keeps the table right, inside the article write's transaction
(`ArticleStore.write` calls `update_in_write`):

- a deleted article's row goes with it; the rest of its story stays as it was;
- an article whose text or date changed loses its row (it is assigned afresh), unless an
  editor gave it a story;
- an article whose input carries `story` gets that story there and then (`editorial`), and
  clustering never moves it; an article that loses its editorial story becomes pending.

A crash after an article write and before its assignment leaves pending rows, which the
next assignment picks up: nothing is lost, only assigned later.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

SCHEMA = """
CREATE TABLE IF NOT EXISTS article_stories (
    row_id INTEGER PRIMARY KEY,
    story TEXT NOT NULL,
    editorial INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS article_stories_story ON article_stories (story);
"""

# Clustered stories are named after the article that opened them; an editorial story keeps
# the editor's own name.
CLUSTERED_PREFIX = "auto-"


def founded_by(article_id: str) -> str:
    """The id of the clustered story an article opens (and of a pending one's own story)."""
    return f"{CLUSTERED_PREFIX}{article_id}"


@dataclass(frozen=True, slots=True)
class StoryMember:
    """An article of a story, as a story listing shows it."""

    row_id: int
    id: str
    title: str
    published: str | None
    published_start: float | None
    source: str | None


def update_in_write(
    db: sqlite3.Connection,
    editorial: dict[int, str | None],
    rescored: Sequence[int],
    deleted: Sequence[int],
) -> set[str]:
    """Inside the caller's article-write transaction. `editorial`: every upserted row and
    the story its input gives (None: none); `rescored`: rows whose text or date changed.

    Returns the stories that lost or gained a member here (their slots may change).
    """
    touched: set[str] = set()
    leaving = [*deleted, *rescored]
    for row_id, story in editorial.items():
        current = _story_row(db, row_id)
        if story is not None:
            if current != (story, 1):
                db.execute(
                    "INSERT INTO article_stories (row_id, story, editorial) VALUES (?, ?, 1) "
                    "ON CONFLICT (row_id) DO UPDATE SET story = excluded.story, editorial = 1",
                    (row_id, story),
                )
                touched.add(story)
                if current is not None:
                    touched.add(current[0])
        elif current is not None and current[1]:
            leaving.append(row_id)  # no longer editorial: clustered afresh
    for row_id in dict.fromkeys(leaving):
        if editorial.get(row_id) is not None:
            continue
        row = db.execute(
            "DELETE FROM article_stories WHERE row_id = ? RETURNING story", (row_id,)
        ).fetchone()
        if row is not None:
            touched.add(str(row[0]))
    return touched


def _story_row(db: sqlite3.Connection, row_id: int) -> tuple[str, int] | None:
    row = db.execute(
        "SELECT story, editorial FROM article_stories WHERE row_id = ?", (row_id,)
    ).fetchone()
    return (str(row[0]), int(row[1])) if row else None


class StoryStore:
    """Reads and writes the story table of one store database (its connection)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def count(self) -> int:
        """Stories there are, a pending article counting as its own."""
        row = self._db.execute(
            "SELECT (SELECT COUNT(DISTINCT story) FROM article_stories "
            "WHERE row_id IN (SELECT row_id FROM articles)) + "
            "(SELECT COUNT(*) FROM articles WHERE row_id NOT IN "
            "(SELECT row_id FROM article_stories))"
        ).fetchone()
        return int(row[0])

    def pending(self) -> list[int]:
        """Rows with no story yet, oldest first (undated last), then in row order."""
        return [
            int(row[0])
            for row in self._db.execute(
                "SELECT row_id FROM articles WHERE row_id NOT IN "
                "(SELECT row_id FROM article_stories) "
                "ORDER BY published_start IS NULL, published_start, row_id"
            )
        ]

    def orphaned(self) -> int:
        """Story rows whose article is gone (none, if every write kept the table in step)."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM article_stories WHERE row_id NOT IN (SELECT row_id FROM articles)"
        ).fetchone()
        return int(row[0])

    def has_pending_editorial(self) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM articles WHERE story IS NOT NULL AND row_id NOT IN "
            "(SELECT row_id FROM article_stories) LIMIT 1"
        ).fetchone()
        return row is not None

    def all_rows(self) -> dict[int, tuple[str, bool]]:
        """Every assigned row: (story, editorial)."""
        return {
            int(row_id): (str(story), bool(editorial))
            for row_id, story, editorial in self._db.execute(
                "SELECT row_id, story, editorial FROM article_stories"
            )
        }

    def stories_of(self, row_ids: Iterable[int]) -> dict[int, str]:
        """The story of each given row that is assigned (pending rows are left out)."""
        found: dict[int, str] = {}
        unique = list(dict.fromkeys(row_ids))
        for start in range(0, len(unique), 900):
            chunk = unique[start : start + 900]
            marks = ",".join("?" * len(chunk))
            for row_id, story in self._db.execute(
                f"SELECT row_id, story FROM article_stories WHERE row_id IN ({marks})", chunk
            ):
                found[int(row_id)] = str(story)
        return found

    def is_editorial(self, story: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM article_stories WHERE story = ? AND editorial = 1 LIMIT 1", (story,)
        ).fetchone()
        return row is not None

    def member_rows(self, story: str) -> list[int]:
        return [
            int(row[0])
            for row in self._db.execute(
                "SELECT row_id FROM article_stories WHERE story = ? ORDER BY row_id", (story,)
            )
        ]

    def members(self, story: str) -> list[StoryMember]:
        """The story's articles in time order, undated last (a pending article's own story
        `founded_by(id)` holds just that article)."""
        rows = self._db.execute(
            f"SELECT {_MEMBER_COLUMNS} FROM articles a JOIN article_stories s USING (row_id) "
            f"WHERE s.story = ? {_TIME_ORDER}",
            (story,),
        ).fetchall()
        if not rows and story.startswith(CLUSTERED_PREFIX):
            rows = self._db.execute(
                f"SELECT {_MEMBER_COLUMNS} FROM articles a WHERE a.id = ? AND a.row_id NOT IN "
                "(SELECT row_id FROM article_stories)",
                (story[len(CLUSTERED_PREFIX) :],),
            ).fetchall()
        return [StoryMember(*row) for row in rows]

    def sizes(self, *, min_size: int = 1, since: float | None = None) -> list[tuple[str, int]]:
        """(story, articles) largest first, then by name; pending articles count as their
        own story. `since`: only stories with an article published at or after it."""
        rows = self._db.execute(
            "SELECT COALESCE(s.story, ? || a.id) AS story_id, COUNT(*), MAX(a.published_start) "
            "FROM articles a LEFT JOIN article_stories s USING (row_id) "
            "GROUP BY story_id HAVING COUNT(*) >= ? ORDER BY COUNT(*) DESC, story_id",
            (CLUSTERED_PREFIX, min_size),
        ).fetchall()
        return [
            (str(story), int(size))
            for story, size, latest in rows
            if since is None or (latest is not None and latest >= since)
        ]

    def assign(self, assigned: dict[int, str], merged: dict[str, str]) -> None:
        """Inside the caller's transaction: give rows their clustered story, then fold each
        story of `merged` into the one it maps to (never an editorial row's story)."""
        self._db.executemany(
            "INSERT INTO article_stories (row_id, story, editorial) VALUES (?, ?, 0) "
            "ON CONFLICT (row_id) DO UPDATE SET story = excluded.story, editorial = 0 "
            "WHERE editorial = 0",
            list(assigned.items()),
        )
        self._db.executemany(
            "UPDATE article_stories SET story = ? WHERE story = ? AND editorial = 0",
            [(into, story) for story, into in merged.items()],
        )

    def adopt_editorial(self) -> None:
        """Inside the caller's transaction: give pending articles whose stored input carries
        a `story` that story (a store from before stories had them only in `articles`)."""
        self._db.execute(
            "INSERT INTO article_stories (row_id, story, editorial) "
            "SELECT row_id, story, 1 FROM articles WHERE story IS NOT NULL "
            "AND row_id NOT IN (SELECT row_id FROM article_stories)"
        )

    def clear_clustered(self) -> None:
        """Inside the caller's transaction: every clustered row back to pending."""
        self._db.execute("DELETE FROM article_stories WHERE editorial = 0")

    def clear_all(self) -> None:
        """Inside the caller's transaction: every row back to pending, editorial ones too
        (an evaluation clusters without the editors' answer)."""
        self._db.execute("DELETE FROM article_stories")


_MEMBER_COLUMNS = "a.row_id, a.id, a.title, a.published, a.published_start, a.source"
_TIME_ORDER = "ORDER BY a.published_start IS NULL, a.published_start, a.row_id"
