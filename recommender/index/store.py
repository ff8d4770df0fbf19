"""SQLite store: articles, their vectors keyed by content hash, and the index's identity.

The store is the source of truth. Each write is one transaction and bumps `generation`, so
the FAISS snapshot saved beside it can tell whether it is still in step (see `parts.py`).
Reads are in `store_reads.py`, the tables and transactions in `store_schema.py`; this
module holds the writes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from recommender.index.records import AssignedTopics, PreparedArticle
from recommender.index.related_lists import drop_lists_of, drop_lists_touching
from recommender.index.store_reads import StoreReads
from recommender.index.store_schema import BACKEND_KEYS, SCHEMA_VERSION, Transaction
from recommender.stories.store import update_in_write


class ArticleStore(StoreReads):
    """One SQLite file. Not thread-safe: one store object per thread or process."""

    # -- identity ------------------------------------------------------------------------

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

    def _transaction(self) -> Transaction:
        return Transaction(self._db)
