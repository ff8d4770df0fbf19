"""The taxonomy's prompt vectors, encoded once per machine rather than once per process.

Zero-shot tagging embeds every prompt of its taxonomy (134 short texts for the default one)
each time a process builds the tagger: `newsrec index`, `newsrec tag`, the service. On two
busy cores that costs 2 to 8 CPU seconds, as much as encoding dozens of articles. The vectors
depend only on the embedder and the prompts' texts, so they are kept in a small file named by
a digest of both and read back on the next build: the same array, bit for bit.

A cache that cannot be read or written is not an error: the prompts are encoded as before.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from embeddings import Embedder, WrappedEmbedder
from embeddings.base import ProgressCallback


class PromptVectorCache(WrappedEmbedder):
    """An embedder for prompt sets: encodes a set of texts once, then reads it from `directory`."""

    def __init__(self, inner: Embedder, directory: Path) -> None:
        super().__init__(inner)
        self.directory = Path(directory)

    def encode(
        self, texts: Sequence[str], *, progress: ProgressCallback | None = None
    ) -> np.ndarray:
        path = self.directory / f"{self._digest(texts)}.npy"
        cached = _read(path, (len(texts), self.dimension))
        if cached is not None:
            return cached
        vectors = self.inner.encode(texts, progress=progress)
        _write(path, vectors)
        return vectors

    def _digest(self, texts: Sequence[str]) -> str:
        digest = hashlib.sha256(f"{self.name}\0{self.dimension}".encode())
        for text in texts:
            # Lengths first, so that no two different lists of texts join into the same bytes.
            encoded = text.encode("utf-8")
            digest.update(len(encoded).to_bytes(8, "little") + encoded)
        return digest.hexdigest()[:32]


def _read(path: Path, shape: tuple[int, int]) -> np.ndarray | None:
    try:
        vectors = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):  # EOFError: an empty file
        return None
    if vectors.shape != shape or vectors.dtype != np.float32:
        return None
    return vectors


def _write(path: Path, vectors: np.ndarray) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as stream:
                np.save(stream, np.ascontiguousarray(vectors, dtype=np.float32))
            # No fsync: a file a crash loses or tears fails the read's shape check and is
            # encoded again.
            os.replace(temporary, path)
        finally:
            Path(temporary).unlink(missing_ok=True)
    except OSError:
        return
