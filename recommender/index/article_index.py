"""The article index: store + vector index + catalog, kept in step, in one directory.

Durability model: the SQLite store is the source of truth and every write is one
transaction. The FAISS file is a snapshot of the store at a given `generation`, published
atomically with the manifest after the store commits. On open, a snapshot whose generation
differs from the store's (a crash between the two) is discarded and rebuilt from the stored
vectors, so the vector index and the store never disagree.

The index is built in layers, one module each: `parts` (opening, the in-memory parts),
`reads`, `saving` (snapshot and manifest) and this module, the writes (upsert planning and
apply, delete, retag) with their topic and story hooks. The on-disk files: see `files.py`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from embeddings import ProgressCallback
from recommender.articles import Article
from recommender.index.lexical import frequency_rows
from recommender.index.records import AssignedTopics, PreparedArticle
from recommender.index.saving import IndexSaving
from recommender.index.upsert_plan import (
    UpsertPlan,
    UpsertReport,
    assigned_topics,
    prepare_articles,
    record_hash,
    refuse_repeated_ids,
)
from recommender.topics.assignment import TopicTagger


class ArticleIndex(IndexSaving):
    """Open with `ArticleIndex.open`. A writable index holds the directory's write lock."""

    # -- writing -------------------------------------------------------------------------

    def plan_upsert(self, articles: Sequence[Article]) -> UpsertPlan:
        """Sort articles into new, changed and unchanged, and count the texts to encode."""
        self._require_writable()
        refuse_repeated_ids(articles)
        states = self._store.states([article.id for article in articles])
        changed: list[Article] = []
        added = 0
        for article in articles:
            state = states.get(article.id)
            if state is not None and state.record_hash == record_hash(article):
                continue
            added += state is None
            changed.append(article)
        prepared = prepare_articles(changed)
        # Similar lengths in a batch waste less padding in the encoder.
        prepared.sort(key=lambda item: len(item.article.text))
        hashes = {item.article.content_hash for item in prepared}
        to_encode = len(hashes - self._store.hashes_with_vectors(hashes))
        return UpsertPlan(prepared, added, len(articles) - len(prepared), to_encode)

    def texts_to_encode(self, plan: UpsertPlan) -> dict[str, str]:
        """Content hash -> text of what `apply(plan)` will encode, in the order it will ask
        (changed articles whose text has no stored vector; each distinct text once)."""
        texts = {item.article.content_hash: item.article.text for item in plan.changed}
        stored = self._store.hashes_with_vectors(texts)
        return {key: text for key, text in texts.items() if key not in stored}

    def apply(self, plan: UpsertPlan, *, progress: ProgressCallback | None = None) -> UpsertReport:
        """Write a plan. Only texts with no stored vector are encoded.

        Work is committed in batches, so a crash loses at most the batch in flight; call
        `save` at the end to publish the vector snapshot.
        """
        self._require_writable()
        stored_hashes = self._store.hashes_with_vectors(
            i.article.content_hash for i in plan.changed
        )
        encoded = 0
        for start in range(0, len(plan.changed), self._write_batch_size):
            batch = plan.changed[start : start + self._write_batch_size]
            encoded += self._write_batch(batch, stored_hashes, progress)
        if self.story_assigner is not None:
            # After the last batch, so the written articles meet one another oldest first.
            self.story_assigner.assign_pending()
        return UpsertReport(
            added=plan.added,
            updated=len(plan.changed) - plan.added,
            unchanged=plan.unchanged,
            encoded=encoded,
        )

    def upsert(
        self, articles: Sequence[Article], *, progress: ProgressCallback | None = None
    ) -> UpsertReport:
        """Add new articles, replace changed ones, skip unchanged ones (plan, then apply)."""
        return self.apply(self.plan_upsert(articles), progress=progress)

    def delete(self, article_ids: Sequence[str]) -> list[str]:
        """Delete the given ids; returns those that were not in the index."""
        self._require_writable()
        states = self._store.states(article_ids)
        missing = [article_id for article_id in article_ids if article_id not in states]
        present = [article_id for article_id in dict.fromkeys(article_ids) if article_id in states]
        if present:
            rows = [states[article_id].row_id for article_id in present]
            stories = set(self._store.stories.stories_of(rows).values())
            _, deleted = self._store.write([], {}, present)
            removed = np.asarray(deleted, dtype=np.int64)
            self.vectors.remove(removed)
            self.catalog.remove(removed)
            self.lexical.remove(removed)
            if self.story_assigner is not None:
                # A story the deleted articles bridged falls apart (`StoryAssigner.split`).
                self.story_assigner.split(stories)
        return missing

    def retag(self, tagger: TopicTagger, *, progress: ProgressCallback | None = None) -> int:
        """Tag every stored article again with `tagger` (from its stored vector, and its
        stored terms for a tagger that reads them); one commit."""
        self._require_writable()
        assigned: dict[int, AssignedTopics] = {}
        term_ids, blobs = self._store.term_rows() if tagger.reads_terms else (None, [])
        for row_ids, vectors in self._store.vector_rows(self.embedder.dimension):
            terms = None
            if term_ids is not None:
                positions = np.searchsorted(term_ids, row_ids)
                terms = frequency_rows([blobs[int(position)] for position in positions])
            for row_id, assignment in zip(row_ids, tagger.tag(vectors, terms=terms), strict=True):
                assigned[int(row_id)] = assigned_topics(assignment)
            if progress is not None:
                progress(len(row_ids))
        self._store.set_topics(assigned)
        ids = np.fromiter(assigned, dtype=np.int64, count=len(assigned))
        if self._catalog is not None:
            self._catalog.set_topics(ids, [a.labels for a in assigned.values()])
        if self._vector_backend == "qdrant":
            catalog = self.catalog
            published = [catalog.published(int(row_id)) for row_id in ids]
            self.vectors.describe(ids, published, [a.labels for a in assigned.values()])
        return len(assigned)

    def _write_batch(
        self,
        batch: list[PreparedArticle],
        stored_hashes: set[str],
        progress: ProgressCallback | None,
    ) -> int:
        texts_to_encode: dict[str, str] = {}
        for item in batch:
            key = item.article.content_hash
            if key not in stored_hashes:
                texts_to_encode.setdefault(key, item.article.text)
        new_vectors: dict[str, np.ndarray] = {}
        if texts_to_encode:
            encoded = self.embedder.encode(list(texts_to_encode.values()), progress=progress)
            new_vectors = dict(zip(texts_to_encode, encoded, strict=True))
        wanted = {item.article.content_hash for item in batch} - new_vectors.keys()
        known = {**self._store.vectors_by_hash(wanted, self.embedder.dimension), **new_vectors}
        batch_vectors = np.stack([known[item.article.content_hash] for item in batch])
        topics = self._assign_topics(batch, batch_vectors)

        # Load the in-memory parts before the write, so they reflect the store up to now.
        vectors, catalog, lexical = self.vectors, self.catalog, self.lexical
        previous = self._store.states([item.article.id for item in batch])
        row_ids, _ = self._store.write(batch, new_vectors, topics=topics)
        stored_hashes.update(new_vectors)

        # Only a changed text changes the vector; a metadata-only update keeps it in place.
        moved = [
            position
            for position, item in enumerate(batch)
            if item.article.id not in previous
            or previous[item.article.id].content_hash != item.article.content_hash
        ]
        replaced = [
            previous[batch[i].article.id].row_id for i in moved if batch[i].article.id in previous
        ]
        vectors.remove(np.asarray(replaced, dtype=np.int64))
        if moved:
            vectors.add(
                np.asarray([row_ids[batch[i].article.id] for i in moved], dtype=np.int64),
                batch_vectors[moved],
            )
        batch_row_ids = np.asarray([row_ids[item.article.id] for item in batch], dtype=np.int64)
        published = [item.article.published_time for item in batch]
        labels = [topics[item.article.id].labels if topics else () for item in batch]
        catalog.upsert_many(
            batch_row_ids, published, np.stack([item.fingerprint for item in batch]), labels
        )
        vectors.describe(batch_row_ids, published, labels)  # Qdrant's payload; FAISS: nothing
        lexical.upsert(batch_row_ids, frequency_rows([item.terms for item in batch]))
        return len(new_vectors)

    def _assign_topics(
        self, batch: list[PreparedArticle], batch_vectors: np.ndarray
    ) -> dict[str, AssignedTopics]:
        tagger = self._tagger()
        if tagger is None:
            return {}
        terms = frequency_rows([item.terms for item in batch]) if tagger.reads_terms else None
        assignments = tagger.tag(batch_vectors, terms=terms)
        return {
            item.article.id: assigned_topics(assignment)
            for item, assignment in zip(batch, assignments, strict=True)
        }

    def _tagger(self) -> TopicTagger | None:
        if self._cached_tagger is None and self._tagger_factory is not None:
            self._cached_tagger = self._tagger_factory()
        return self._cached_tagger
