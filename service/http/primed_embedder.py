"""An embedder wrapper that lets the service run the model before taking the index's lock.

`ArticleIndex.apply` and `Recommender.related_to_text` encode inside the call. The service
encodes those texts first (`prime`), outside the readers-writer lock, so readers are never
held up while the model works; the call then finds the vectors already made. A text that
was not primed is simply encoded, so correctness never depends on priming.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from embeddings import Embedder, ProgressCallback, WrappedEmbedder

_MAX_PRIMED = 4096  # texts kept waiting for their call; a bound, not a tuning knob


class PrimedEmbedder(WrappedEmbedder):
    """Meets the `Embedder` protocol; delegates to `inner` for anything not primed."""

    def __init__(self, inner: Embedder) -> None:
        super().__init__(inner)
        self._primed: OrderedDict[str, np.ndarray] = OrderedDict()
        self._primed_lock = threading.Lock()
        # One model call at a time: the model loads lazily and is CPU-bound anyway.
        self._model_lock = threading.Lock()

    def prime(self, texts: Sequence[str]) -> None:
        """Encode `texts` now, so that a later `encode` of the same texts is a look-up."""
        with self._primed_lock:
            wanted = list(dict.fromkeys(t for t in texts if t not in self._primed))
        if not wanted:
            return
        vectors = self._encode(wanted, None)
        with self._primed_lock:
            for text, vector in zip(wanted, vectors, strict=True):
                self._primed[text] = vector
            while len(self._primed) > _MAX_PRIMED:
                self._primed.popitem(last=False)

    def encode(
        self, texts: Sequence[str], *, progress: ProgressCallback | None = None
    ) -> np.ndarray:
        """(len(texts), dimension) float32; primed texts are taken (and forgotten) first."""
        found: dict[int, np.ndarray] = {}
        with self._primed_lock:
            for position, text in enumerate(texts):
                vector = self._primed.pop(text, None)
                if vector is not None:
                    found[position] = vector
        missing = [position for position in range(len(texts)) if position not in found]
        result = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if missing:
            result[missing] = self._encode([texts[position] for position in missing], None)
        for position, vector in found.items():
            result[position] = vector
        if progress is not None:
            progress(len(texts))
        return result

    def _encode(self, texts: list[str], progress: ProgressCallback | None) -> np.ndarray:
        with self._model_lock:
            return self.inner.encode(texts, progress=progress)
