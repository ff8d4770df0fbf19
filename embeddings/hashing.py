"""A hashed bag-of-words embedder: deterministic, instant, and meant for tests only.

It is a real function of the text (two texts sharing words get a positive cosine), so tests
can assert rankings exactly, but it knows nothing of meaning; the CLI never picks it by
default.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from embeddings.base import ProgressCallback, l2_normalise

_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    """Each lower-cased word adds ``1 + log(count)`` to a signed hashed bucket."""

    def __init__(self, dimension: int = 256) -> None:
        if dimension < 8:
            raise ValueError(f"dimension must be at least 8, got {dimension}")
        self._dimension = dimension

    @property
    def name(self) -> str:
        return f"hashing-bow-{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode(
        self, texts: Sequence[str], *, progress: ProgressCallback | None = None
    ) -> np.ndarray:
        vectors = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            counts = Counter(word.lower() for word in _WORD.findall(text))
            for word, count in counts.items():
                bucket, sign = self._bucket(word)
                vectors[row, bucket] += sign * (1.0 + np.log(count))
        if progress is not None:
            progress(len(texts))
        return l2_normalise(vectors)

    def _bucket(self, word: str) -> tuple[int, float]:
        # blake2b rather than hash(): Python salts str hashes per process.
        digest = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
        return digest % self._dimension, 1.0 if (digest >> 63) & 1 else -1.0
