"""Vector sets for the query benchmark: real WCEP vectors (cached) and clustered synthetic ones.

Real vectors: every WCEP item encoded once with all-MiniLM-L6-v2, as `newsrec index` would
(title + "\\n" + body, 256-token truncation), cached as .npy outside the repository, since
encoding 49,684 items takes minutes on two cores.

Synthetic vectors: unit vectors drawn around random cluster centres (stories), so that
nearest neighbours are meaningful the way real article vectors are; uniform random vectors
in 384 dimensions are all nearly orthogonal and make an ANN index look worse than it is.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eval.quality.shared_data import WCEP

CACHE_DIR = Path("/tmp/newsrec-bench")


def wcep_vectors(corpus: Path = WCEP, cache_dir: Path = CACHE_DIR) -> np.ndarray:
    """(n, 384) float32 MiniLM vectors of every WCEP item, encoded once and cached."""
    cache = cache_dir / "wcep-minilm.npy"
    if cache.is_file():
        return np.load(cache)
    from embeddings import MiniLMEmbedder
    from recommender import load_articles

    articles = load_articles([corpus]).articles
    started = time.perf_counter()
    vectors = MiniLMEmbedder(batch_size=16).encode([article.text for article in articles])
    print(
        f"encoded {len(vectors):,} WCEP items in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    cache_dir.mkdir(parents=True, exist_ok=True)
    temporary = cache.with_suffix(".tmp.npy")
    np.save(temporary, vectors)
    temporary.replace(cache)
    return vectors


def clustered_vectors(
    count: int, dimension: int = 384, *, seed: int = 0, cluster_size: int = 20, spread: float = 0.6
) -> np.ndarray:
    """(count, dimension) float32 unit vectors in clusters of about `cluster_size`.

    Each vector is a cluster centre plus isotropic noise of norm about `spread`: members of
    a cluster sit at cosine ~0.85 from each other, and clusters are nearly orthogonal.
    """
    rng = np.random.default_rng(seed)
    clusters = max(1, count // cluster_size)
    out = np.empty((count, dimension), dtype=np.float32)
    block = 100_000
    centres = rng.standard_normal((clusters, dimension), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    for start in range(0, count, block):
        size = min(block, count - start)
        owner = rng.integers(0, clusters, size=size)
        noise = rng.standard_normal((size, dimension), dtype=np.float32)
        noise *= spread / np.sqrt(dimension)
        chunk = centres[owner] + noise
        chunk /= np.linalg.norm(chunk, axis=1, keepdims=True)
        out[start : start + size] = chunk
    return out


if __name__ == "__main__":
    print(wcep_vectors().shape)


def story_vectors(
    stories: np.ndarray, dimension: int = 384, *, seed: int = 0, spread: float = 0.6
) -> np.ndarray:
    """(m, dimension) float32 unit vectors, one per entry of `stories` (ints >= 0).

    Articles of the same story share a centre, so the dense side agrees with the text side
    of synthetic articles whose words are drawn from a per-story pool.
    """
    rng = np.random.default_rng(seed)
    unique, owner = np.unique(stories, return_inverse=True)
    centres = rng.standard_normal((len(unique), dimension), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((len(stories), dimension), dtype=np.float32)
    block = 100_000
    for start in range(0, len(stories), block):
        rows = owner[start : start + block]
        noise = rng.standard_normal((len(rows), dimension), dtype=np.float32)
        chunk = centres[rows] + noise * (spread / np.sqrt(dimension))
        out[start : start + len(rows)] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return out


class CachedEmbedder:
    """Answers with precomputed vectors under the real model's identity (name, dimension).

    Lets a benchmark build a MiniLM index of 100k or 1M articles without running the model
    on each text; a text it does not know (the topic taxonomy, a new text) goes to the
    `fallback` embedder, the real model.
    """

    def __init__(self, known: dict[str, np.ndarray], fallback: Any) -> None:
        self._known = known
        self._fallback = fallback

    @property
    def name(self) -> str:
        return str(self._fallback.name)

    @property
    def dimension(self) -> int:
        return int(self._fallback.dimension)

    def encode(self, texts: Sequence[str], *, progress: Any = None) -> np.ndarray:
        unknown = [text for text in texts if text not in self._known]
        if unknown:
            self._known.update(zip(unknown, self._fallback.encode(unknown), strict=True))
        if progress is not None:
            progress(len(texts))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._known[text] for text in texts])
