"""Article vectors for tagging: stored ones where a lookup has them, the rest encoded once."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sparse

from embeddings import Embedder, ProgressCallback
from recommender.articles import Article
from recommender.errors import InvalidInputError
from recommender.index.lexical import term_vectors

VectorLookup = Callable[[Sequence[str]], Mapping[str, np.ndarray]]
"""Content hashes (SHA-256 of title + "\\n" + body) -> stored vectors of those it has."""


@dataclass(frozen=True)
class ArticleVectors:
    vectors: np.ndarray
    """(len(articles), dimension) float32, L2-normalised, in article order."""
    encoded: int  # distinct texts that went through the embedder
    reused: int  # distinct texts whose vector came from the lookup


def article_vectors(
    articles: Sequence[Article],
    embedder: Embedder,
    *,
    vectors_for: VectorLookup | None = None,
    progress: ProgressCallback | None = None,
) -> ArticleVectors:
    """Each distinct text is encoded at most once, and not at all if the lookup has it."""
    hashes = [article.content_hash for article in articles]
    known: dict[str, np.ndarray] = {}
    if vectors_for is not None and hashes:
        known = {
            key: np.asarray(vector, dtype=np.float32)
            for key, vector in vectors_for(list(dict.fromkeys(hashes))).items()
        }
    reused = len(known)
    texts: dict[str, str] = {}
    for key, article in zip(hashes, articles, strict=True):
        if key not in known:
            texts.setdefault(key, article.text)
    if texts:
        # Sorted by length, each of the encoder's slices holds texts of similar length and
        # wastes little on padding (a slice is padded to its longest text).
        keys = sorted(texts, key=lambda key: len(texts[key]))
        encoded = embedder.encode([texts[key] for key in keys], progress=progress)
        known.update(zip(keys, encoded, strict=True))
    if not hashes:
        return ArticleVectors(np.zeros((0, embedder.dimension), dtype=np.float32), 0, 0)
    vectors = np.stack([known[key] for key in hashes])
    if vectors.shape[1] != embedder.dimension:
        raise InvalidInputError(
            f"stored vectors have {vectors.shape[1]} dimensions, the embedder "
            f"{embedder.name!r} {embedder.dimension}"
        )
    return ArticleVectors(vectors, len(texts), reused)


def article_terms(articles: Sequence[Article]) -> sparse.csr_matrix:
    """(len(articles), HASHED_FEATURES) term frequencies of each article's text: what an
    index stores for it, so a tagger with a lexical head scores it alike on every path."""
    return term_vectors([article.text for article in articles])
