"""The index as the service holds it: loaded in the background, read by many threads at once,
written by one, and reloaded when another process publishes a new version.

Two ways to hold it (see `ServiceSettings.role`):

- writable (the default single process): the index is opened for writing and holds the
  directory's write lock. Reads share a readers-writer lock; a write takes it alone only
  while it changes the in-memory parts. The model runs before that (`PrimedEmbedder`),
  and the vector snapshot is published after it, so readers wait only for the swap.
  A write is committed to the store (synchronous=FULL) and published before it returns.
  The write sequence itself is the core's (`recommender/writer.py`); this module gives it
  its locks, the model's priming and the snapshot's bookkeeping (`service.http.write_hooks`).
- read-only (reader workers, or NEWSREC_READ_ONLY): the index is opened read-only with its
  SQLite connection pinned to one read transaction, so the in-memory parts and every row
  read by a request come from the same version. A background thread checks the manifest
  every `reload_interval` seconds and, on a new version, loads it beside the old one and
  swaps; the old one is closed once its last request is done.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from embeddings import Embedder
from recommender import (
    Article,
    ArticleNotFoundError,
    InvalidInputError,
    NewsrecError,
    Settings,
    UpsertReport,
    build_embedder,
    build_recommender,
    open_index,
)
from recommender.index.files import MANIFEST_FILE
from recommender.ranking.list_refresh import lists_in_use
from recommender.system import configured_tagger
from recommender.topics import TopicTagger, configured_model_dir, resolve_taxonomy
from recommender.writer import IndexWriter, WriteHooks, WriteOptions
from service.http.failures import load_failure
from service.http.primed_embedder import PrimedEmbedder
from service.http.response_cache import ResponseCache
from service.http.snapshot import Snapshot
from service.http.titles import TitleCatalog
from service.http.write_hooks import FillHooks, ServiceWriteHooks
from service.settings import ServiceSettings

logger = logging.getLogger("newsrec.service")
_RETRY_SECONDS = 2.0
_PARENT_CHECK_SECONDS = 0.5


class IndexNotReadyError(Exception):
    """The index is not loaded (yet): answered with 503."""


class WritesRefusedError(Exception):
    """This process does not write the index: answered with 403 or forwarded."""


class LiveIndex:
    def __init__(
        self,
        settings: Settings,
        service: ServiceSettings,
        *,
        embedder: Embedder | None = None,
    ) -> None:
        self.settings = settings
        self.service = service
        self.embedder = PrimedEmbedder(embedder or build_embedder(settings))
        self.writable = service.role == "single" and not service.read_only
        self.cache = ResponseCache(service.response_cache_size, service.response_cache_bytes)
        self._current: Snapshot | None = None
        self._error: str | None = None
        self._write_mutex = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tagger: TopicTagger | None = None
        self._tagger_lock = threading.Lock()
        self._taxonomy_primed = False
        # Ranking is CPU-bound (BLAS, numpy): more of it at once than there are cores only
        # thrashes. Requests beyond this wait for a turn instead of slowing every other one.
        self._compute_slots = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Load in the background: the app answers /healthz (and 503s) meanwhile."""
        self._thread = threading.Thread(target=self._run, name="newsrec-index", daemon=True)
        self._thread.start()
        if self.service.parent_pid is not None:
            threading.Thread(
                target=self._exit_with_parent,
                args=(self.service.parent_pid,),
                name="newsrec-parent",
                daemon=True,
            ).start()

    def _exit_with_parent(self, parent_pid: int) -> None:
        """Stop this process, as SIGTERM does, once the `newsrec serve` that started it is
        gone (killed with SIGKILL it can stop nobody): an orphan writer would keep the
        index's write lock, orphan readers the port, and a restart would fail."""
        while not self._stop.wait(_PARENT_CHECK_SECONDS):
            if os.getppid() != parent_pid:
                logger.error("the newsrec serve process %d is gone: stopping", parent_pid)
                os.kill(os.getpid(), signal.SIGTERM)
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self._write_mutex:
            current, self._current = self._current, None
            if current is not None:
                self._retire(current)

    def wait_ready(self, timeout: float) -> bool:
        """For tests and scripts: block until the first load ends (or `timeout`)."""
        deadline = time.monotonic() + timeout
        while self._current is None and time.monotonic() < deadline:
            time.sleep(0.02)
        return self._current is not None

    def status(self) -> dict[str, Any]:
        current = self._current
        return {
            "ready": current is not None,
            "articles": len(current.titles) if current else None,
            "generation": current.generation if current else None,
            "embedder": self.embedder.name,
            "writable": self.writable,
            "error": self._error if current is None else None,
        }

    def _run(self) -> None:
        while not self._stop.is_set():
            current = self._current
            if current is None:
                try:
                    self._current = self._load()
                    self._error = None
                    logger.info("index loaded: %s", self.status())
                except Exception as error:  # whatever it is, /readyz and the log say why
                    reason = load_failure(error)
                    if reason != self._error:
                        unexpected = not isinstance(error, NewsrecError)
                        logger.error("index not loaded (retrying): %s", reason, exc_info=unexpected)
                    self._error = reason
                    self._stop.wait(_RETRY_SECONDS)
                    continue
            elif not self.writable:
                self._reload_if_published(current)
            if self.writable:
                try:
                    self._fill_missing_lists()
                except Exception as error:  # a full disk: those lists stay ranked live
                    logger.error("missing related lists not stored (served live): %s", error)
                return  # nobody else can write: nothing to watch
            self._stop.wait(self.service.reload_interval)

    def _fill_missing_lists(self) -> None:
        """Rank, in the background after loading, every stored list the index lacks: all of
        them on an index written without lists (by an older release, or through the Python
        API), those a previous writer dropped but did not live to re-rank. Those articles
        are ranked live meanwhile, correct but slower.

        Not with list depth 0 (no stored lists). Each slice is ranked under the read lock
        alone, so writes go on meanwhile; it is stored only if no write came in between
        (the store refuses it otherwise, and the slice is ranked again)."""
        snapshot = self._current
        if snapshot is None or not lists_in_use(snapshot.recommender):
            return
        writer = self._writer(snapshot, FillHooks(snapshot, self._write_mutex))
        filled = writer.fill_lists(stopped=self._stop.is_set)
        if filled.stored:
            logger.info("%d missing related lists ranked and stored", filled.stored)

    def _reload_if_published(self, current: Snapshot) -> None:
        published = self._published_generation()
        if published is None or published == current.published:
            return
        try:
            fresh = self._load()
        except Exception as error:
            reason = load_failure(error)
            logger.error("new index version not loaded (keeping the old one): %s", reason)
            return
        self._current = fresh
        self.cache.clear()
        logger.info("index reloaded: generation %d -> %d", current.generation, fresh.generation)
        self._retire(current)

    def _load(self) -> Snapshot:
        published = self._published_generation()
        index = open_index(self.settings, writable=self.writable, embedder=self.embedder)
        try:
            if not self.writable:
                # One version for the snapshot's lifetime: a request never finds a row
                # added after the in-memory vectors were loaded (a torn read).
                index.pin_read_version()
            # Everything a request touches is loaded here, not by the first request.
            summaries = index.load_in_memory()
            generation = index.generation
        except BaseException:
            index.close()
            raise
        return Snapshot(
            index,
            build_recommender(self.settings, index),
            TitleCatalog(summaries.values()),
            generation,
            published,
        )

    def _published_generation(self) -> tuple[int, int] | None:
        """What the manifest says is published: the store generation, and the version of
        the stored related lists (`newsrec precompute` changes only that)."""
        try:
            manifest = json.loads((self.settings.index_dir / MANIFEST_FILE).read_text("utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("generation"), int):
            return None
        lists = manifest.get("related_lists_version")
        return manifest["generation"], lists if isinstance(lists, int) else 0

    @staticmethod
    def _retire(snapshot: Snapshot) -> None:
        """Close a snapshot once the requests still reading it are done."""
        with snapshot.lock.writing():
            snapshot.closed = True
            snapshot.index.close()

    # -- reading -------------------------------------------------------------------------

    @contextmanager
    def reading(self) -> Iterator[Snapshot]:
        """The current snapshot, held for reading (a write waits until the block ends)."""
        while True:
            snapshot = self._current
            if snapshot is None:
                raise IndexNotReadyError(self._error or "the index is still loading")
            with snapshot.lock.reading():
                if not snapshot.closed:
                    yield snapshot
                    return
            # Retired between the look-up and the lock: take the one that replaced it.

    def cached(self, key: Hashable) -> bytes | None:
        """A rendered response for `key` from the current version, without any lock."""
        snapshot = self._current
        if snapshot is None:
            return None
        return self.cache.get((snapshot.serial, snapshot.version, key))

    def answer(self, key: Hashable, render: Callable[[Snapshot], bytes]) -> bytes:
        """`render(snapshot)` under the read lock, cached per index version."""
        with self.reading() as snapshot:
            cache_key = (snapshot.serial, snapshot.version, key)
            found = self.cache.get(cache_key)
            if found is None:
                with self._compute_slots:
                    found = render(snapshot)
                self.cache.put(cache_key, found)
            return found

    def answer_at_once(
        self, key: Hashable, render: Callable[[Snapshot], bytes | None]
    ) -> bytes | None:
        """`render(snapshot)` right here, for answers that are only a few reads (stored
        lists): None when `render` declines or a write holds the index (never waits)."""
        snapshot = self._current
        if snapshot is None:
            return None
        with snapshot.lock.reading_if_free() as free:
            if not free or snapshot.closed:
                return None
            found = render(snapshot)
            if found is not None:
                self.cache.put((snapshot.serial, snapshot.version, key), found)
            return found

    def tagger(self) -> TopicTagger:
        """The configured topic tagger (zero-shot embeds its taxonomy once: the model runs)."""
        with self._tagger_lock:
            if self._tagger is None:
                self._tagger = configured_tagger(self.settings, self.embedder)
            return self._tagger

    # -- writing -------------------------------------------------------------------------

    def upsert(self, articles: Sequence[Article]) -> tuple[UpsertReport, int]:
        """Add or replace articles; returns the report and the new store generation."""
        self._check_lengths(articles)
        with self._write_mutex:
            snapshot = self._writable_snapshot()
            report = self._writer(snapshot, ServiceWriteHooks(snapshot, self._prime)).upsert(
                articles
            )
            return report, snapshot.generation

    def delete(self, article_id: str) -> int:
        """Delete one article; returns the new store generation."""
        with self._write_mutex:
            snapshot = self._writable_snapshot()
            if article_id not in snapshot.index:  # no write comes in between: we hold the mutex
                raise ArticleNotFoundError(article_id)
            self._writer(snapshot, ServiceWriteHooks(snapshot, self._prime)).delete([article_id])
            return snapshot.generation

    def _writer(self, snapshot: Snapshot, hooks: WriteHooks) -> IndexWriter:
        return IndexWriter(snapshot.recommender, WriteOptions.for_service(self.settings), hooks)

    def _check_lengths(self, articles: Sequence[Article]) -> None:
        """NEWSREC_MAX_TEXT_CHARS, checked here so forwarded writes are held to it too."""
        limit = self.service.max_text_chars
        for article in articles:
            for name, text in (("title", article.title), ("body", article.body)):
                if len(text) > limit:
                    raise InvalidInputError(
                        f"article {article.id!r}: {name} is {len(text):,} characters; at most "
                        f"{limit:,} per title or body (NEWSREC_MAX_TEXT_CHARS)"
                    )

    def _writable_snapshot(self) -> Snapshot:
        if not self.writable:
            raise WritesRefusedError("this process serves reads only")
        snapshot = self._current
        if snapshot is None:
            raise IndexNotReadyError(self._error or "the index is still loading")
        return snapshot

    def _prime(self, texts: list[str]) -> None:
        """Run the model now, outside the lock, for the texts `apply` is about to encode."""
        if not texts:
            return
        if not self._taxonomy_primed and self.settings.tag_on_index:
            # The index builds its zero-shot tagger on its first write, inside the write
            # lock: embed the taxonomy's prompts here instead, so readers don't wait for it.
            if configured_model_dir(self.settings.topic_model, self.settings.index_dir) is None:
                taxonomy = resolve_taxonomy(self.settings.topic_taxonomy)
                texts = texts + [p for topic in taxonomy for p in topic.prompts]
            self._taxonomy_primed = True
        self.embedder.prime(texts)
