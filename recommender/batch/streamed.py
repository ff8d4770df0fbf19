"""An embedder and a topic tagger that serve results computed elsewhere (a Ray pipeline).

The local code (`ArticleIndex.apply`, `tag_file`) encodes and tags through the `Embedder` and
`TopicTagger` protocols; these two meet them with what a pipeline already computed, so that
code runs unchanged whichever engine did the model's work:

- `StreamedEmbedder` serves vectors by content hash, pulling batches from the pipeline until
  it holds the ones asked for;
- `StreamedTagger` serves the scores the pipeline's tagger gave those vectors, looked up by
  the vector itself: scores are a function of the vector (and, for a model with a lexical
  head, of the same text's terms), and the tagger protocol is given vectors, not texts.

Anything the pipeline was never going to deliver (a zero-shot tagger's taxonomy prompts, an
index's stored vectors) is computed in this process by the wrapped embedder or tagger, and
counted (`encoded_here`, `scored_here`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np
import scipy.sparse as sparse

from embeddings import Embedder, ProgressCallback, WrappedEmbedder
from recommender.articles import content_hash
from recommender.topics.assignment import (
    TopicAssignment,
    TopicTagger,
    assignments_from_scores,
    check_vectors,
)

VectorBatches = Iterator[Mapping[str, np.ndarray]]
"""Batches of content hash -> (dimension,) float32 vector, as a pipeline delivers them."""


class StreamedEmbedder(WrappedEmbedder):
    """Meets the `Embedder` protocol: serves vectors computed elsewhere, by content hash.

    `attach` a source of vector batches and the hashes it will deliver; `encode` then pulls
    from the source until it holds the vectors asked for. A text the source was never going
    to deliver (a zero-shot tagger's taxonomy prompts) is encoded by `inner` in this
    process; `encoded_here` counts those.
    """

    def __init__(self, inner: Embedder) -> None:
        super().__init__(inner)
        self._vectors: dict[str, np.ndarray] = {}
        self._pending: set[str] = set()
        self._source: VectorBatches | None = None
        self.encoded_here = 0

    def attach(self, source: VectorBatches, hashes: Iterable[str]) -> None:
        self._source = source
        self._pending = set(hashes) - self._vectors.keys()

    def detach(self) -> None:
        self._source = None
        self._pending = set()

    def encode(
        self, texts: Sequence[str], *, progress: ProgressCallback | None = None
    ) -> np.ndarray:
        """(len(texts), dimension) float32, L2-normalised."""
        keys = [content_hash(text) for text in texts]
        self._pull({key for key in keys if key in self._pending})
        result = np.zeros((len(texts), self.dimension), dtype=np.float32)
        missing: list[int] = []
        for position, key in enumerate(keys):
            vector = self._vectors.get(key)
            if vector is None:
                missing.append(position)
            else:
                result[position] = vector
        if missing:
            result[missing] = self.inner.encode([texts[position] for position in missing])
            self.encoded_here += len(missing)
        if progress is not None:
            progress(len(texts))
        return result

    def _pull(self, wanted: set[str]) -> None:
        while wanted:
            if self._source is None:
                raise RuntimeError(f"{len(wanted)} vectors were expected from a detached source")
            try:
                batch = next(self._source)
            except StopIteration:
                raise RuntimeError(
                    f"the vector source ended {len(self._pending)} vectors short"
                ) from None
            self._vectors.update(batch)
            self._pending.difference_update(batch)
            wanted.difference_update(batch)


class StreamedTagger:
    """Meets the `TopicTagger` protocol: serves the scores `inner` gave vectors elsewhere.

    `remember` records scores computed by a copy of `inner` (an actor's), keyed by the exact
    bytes of the vector they were computed from; `scores` and `tag` serve those, and score
    any other vector with `inner` here (`scored_here` counts those rows). The topics are
    then exactly those of `inner` on the same vectors: only the threshold (and so which
    labels pass it) is applied here, as `tag` does for every tagger.
    """

    def __init__(self, inner: TopicTagger) -> None:
        self.inner = inner
        self._scores: dict[bytes, np.ndarray] = {}
        self.scored_here = 0

    @property
    def labels(self) -> tuple[str, ...]:
        return self.inner.labels

    @property
    def embedder_name(self) -> str:
        return self.inner.embedder_name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def threshold(self) -> float:
        return self.inner.threshold

    @property
    def iptc(self) -> Mapping[str, str | None]:
        return self.inner.iptc

    @property
    def reads_terms(self) -> bool:
        return self.inner.reads_terms

    def remember(self, vectors: np.ndarray, scores: np.ndarray) -> None:
        """vectors: (n, dimension) float32; scores: (n, len(labels)), `inner`'s of them."""
        for vector, row in zip(check_vectors(vectors, self.dimension), scores, strict=True):
            self._scores[_vector_key(vector)] = row

    def scores(self, vectors: np.ndarray, terms: sparse.csr_matrix | None = None) -> np.ndarray:
        """vectors: (n, dimension) -> (n, len(labels)) scores in [0, 1]; `terms` (the rows'
        term frequencies) are read only to score a vector the pipeline did not."""
        array = check_vectors(vectors, self.dimension)
        rows = [self._scores.get(_vector_key(vector)) for vector in array]
        missing = [position for position, row in enumerate(rows) if row is None]
        if missing:
            missing_terms = sparse.csr_matrix(terms)[missing] if terms is not None else None
            scored = self.inner.scores(array[missing], missing_terms)
            for position, row in zip(missing, scored, strict=True):
                rows[position] = row
            self.scored_here += len(missing)
        if not rows:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return np.stack([row for row in rows if row is not None])

    def tag(
        self,
        vectors: np.ndarray,
        *,
        threshold: float | None = None,
        terms: sparse.csr_matrix | None = None,
    ) -> list[TopicAssignment]:
        return assignments_from_scores(
            self.scores(vectors, terms),
            self.labels,
            self.iptc,
            self.threshold if threshold is None else threshold,
        )


def _vector_key(vector: np.ndarray) -> bytes:
    """16 bytes standing for the vector's exact float32 bytes (a collision would need 2^64
    vectors): the map then costs about as much as the scores it holds, not the vectors."""
    return hashlib.blake2b(vector.tobytes(), digest_size=16).digest()
