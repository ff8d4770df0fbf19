"""The index directory on disk: its file names, its write lock and the store's identity.

Files, all prefixed so the directory can hold the user's own files too:
    newsrec-store.sqlite       articles, vectors by content hash, identity
    newsrec-vectors-<g>.faiss  vector snapshot at store generation g
    newsrec-manifest.json      schema version, embedder, generation, counts
    newsrec.lock               held by the one writing process
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
from typing import IO

from embeddings import Embedder
from recommender.errors import IndexBusyError, IndexMismatchError, InvalidInputError
from recommender.index.store import ArticleStore
from recommender.index.store_schema import SCHEMA_VERSION, UPGRADABLE_SCHEMA_VERSIONS

STORE_FILE = "newsrec-store.sqlite"
MANIFEST_FILE = "newsrec-manifest.json"
LOCK_FILE = "newsrec.lock"
SNAPSHOT_PREFIX = "newsrec-vectors-"
QDRANT_LOCAL_DIR = "newsrec-qdrant"  # qdrant-client's local mode, when no URL is set


def check_identity(store: ArticleStore, embedder: Embedder, directory: Path, create: bool) -> None:
    meta = store.meta()
    if not meta:
        if not create:
            raise InvalidInputError(f"no newsrec index in {directory}")
        store.initialise(embedder.name, embedder.dimension)
        return
    if create and meta.get("schema_version") in UPGRADABLE_SCHEMA_VERSIONS:
        store.upgrade_schema()
        meta = store.meta()
    readable = {str(SCHEMA_VERSION), *UPGRADABLE_SCHEMA_VERSIONS}
    if meta.get("schema_version") not in (readable if not create else {str(SCHEMA_VERSION)}):
        raise IndexMismatchError(
            f"{directory}: index schema version {meta.get('schema_version')} is not the "
            f"supported version {SCHEMA_VERSION}; rebuild it with `newsrec index`"
        )
    if meta.get("embedder") != embedder.name or meta.get("dimension") != str(embedder.dimension):
        raise IndexMismatchError(
            f"{directory} was built with embedder {meta.get('embedder')!r} "
            f"({meta.get('dimension')} dimensions), not {embedder.name!r} "
            f"({embedder.dimension}); use the same embedder or another --index-dir"
        )


def file_sha256(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def acquire_write_lock(directory: Path) -> IO[str]:
    try:
        handle = (directory / LOCK_FILE).open("a", encoding="utf-8")
    except OSError as error:
        # Any write needs this file: a read-only directory (mount, permissions) fails here.
        raise InvalidInputError(
            f"{directory}: read-only directory ({error.strerror or error}); newsrec cannot "
            "write there (serve it with NEWSREC_READ_ONLY=true)"
        ) from None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise IndexBusyError(f"{directory} is being written by another process") from None
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
