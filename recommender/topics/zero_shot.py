"""Zero-shot topics: article vectors scored against the embedded taxonomy, no training data.

How a label scores, for an L2-normalised article vector x:

1. Each topic's prompts (its "name: description" and its example phrases) are embedded once,
   with the same embedder as the articles.
2. Everything is centred on the mean prompt vector `c` before cosine: sentence embeddings of
   news share a common direction that says "this is news" and nothing about the topic;
   removing it spreads the labels apart (a label-free step: no article is needed).
3. similarity = 0.5 * cos(x - c, centroid of the topic's prompts - c)
              + 0.5 * mean of the 3 best cos(x - c, prompt - c) among the topic's prompts.
   The centroid reads the topic as a whole; the best prompts let an article that matches
   one facet strongly (an arms deal, for diplomacy) score without matching all of them.
4. score = sigmoid((similarity - CENTRE) / SCALE), the same two constants for every label,
   so the ranking of labels is the ranking of similarities and `primary` is the most similar
   topic. CENTRE and SCALE were fitted once by a 1-D logistic regression of "label is gold"
   on similarity over the 64 hand-labelled articles of seeds/ (768 label decisions) with
   all-MiniLM-L6-v2, and rounded; nothing is fitted at run time, and no WCEP label was used.
   The default threshold (0.4) is the one with the best multi-label macro-F1 on seeds/.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sparse

from embeddings import Embedder, l2_normalise
from recommender.topics.assignment import ThresholdTagger, check_vectors, logistic
from recommender.topics.errors import InvalidTopicModelError
from recommender.topics.model_files import check_embedder, load_model, save_model
from recommender.topics.taxonomy import Taxonomy

KIND = "zero-shot"
CENTRE = 0.16
SCALE = 0.04
DEFAULT_THRESHOLD = 0.4
BEST_PROMPTS = 3
CENTROID_WEIGHT = 0.5


class ZeroShotTagger(ThresholdTagger):
    """Meets the `TopicTagger` protocol. Build it with `from_taxonomy` or `load`."""

    def __init__(
        self,
        labels: Sequence[str],
        prompt_vectors: np.ndarray,
        prompt_owners: np.ndarray,
        *,
        embedder_name: str,
        threshold: float = DEFAULT_THRESHOLD,
        iptc: Mapping[str, str | None] | None = None,
        centre: float = CENTRE,
        scale: float = SCALE,
        prompt_texts: Sequence[str] | None = None,
    ) -> None:
        """prompt_vectors: (m, d) embedded prompts; prompt_owners: (m,) label index of each;
        prompt_texts: the m prompts themselves, when known (adaptation fits the lexical head
        on their words)."""
        super().__init__(labels, embedder_name=embedder_name, threshold=threshold, iptc=iptc)
        vectors = np.asarray(prompt_vectors, dtype=np.float32)
        owners = np.asarray(prompt_owners, dtype=np.int64)
        if vectors.ndim != 2 or owners.shape != (vectors.shape[0],):
            raise InvalidTopicModelError(
                f"prompt vectors {vectors.shape} and owners {owners.shape} do not match"
            )
        if set(owners.tolist()) != set(range(len(self._labels))):
            raise InvalidTopicModelError("every label needs at least one prompt")
        if scale <= 0:
            raise InvalidTopicModelError(f"scale must be positive, got {scale}")
        if prompt_texts is not None and len(prompt_texts) != len(owners):
            raise InvalidTopicModelError(
                f"{len(prompt_texts)} prompt texts for {len(owners)} prompt vectors"
            )
        self._prompt_vectors = vectors
        self._prompt_owners = owners
        self._prompt_texts = tuple(prompt_texts) if prompt_texts is not None else None
        self._centre_value = float(centre)
        self._scale = float(scale)
        self._mean_prompt = vectors.mean(axis=0)
        centred = l2_normalise(vectors - self._mean_prompt)
        self._centred_prompts = centred
        centroids = np.stack(
            [vectors[owners == label].mean(axis=0) for label in range(len(self._labels))]
        )
        self._centred_centroids = l2_normalise(centroids - self._mean_prompt)
        self._members = [np.flatnonzero(owners == label) for label in range(len(self._labels))]

    @classmethod
    def from_taxonomy(
        cls, taxonomy: Taxonomy, embedder: Embedder, *, threshold: float = DEFAULT_THRESHOLD
    ) -> ZeroShotTagger:
        """Embed the taxonomy's prompts once (a few dozen short texts)."""
        texts: list[str] = []
        owners: list[int] = []
        for position, topic in enumerate(taxonomy):
            texts.extend(topic.prompts)
            owners.extend([position] * len(topic.prompts))
        return cls(
            taxonomy.labels,
            embedder.encode(texts),
            np.asarray(owners),
            embedder_name=embedder.name,
            threshold=threshold,
            iptc=taxonomy.iptc_codes(),
            prompt_texts=texts,
        )

    @property
    def dimension(self) -> int:
        return int(self._prompt_vectors.shape[1])

    @property
    def prompt_vectors(self) -> np.ndarray:
        """(m, dimension) the embedded prompts, a prior for adapted and few-shot models."""
        return self._prompt_vectors

    @property
    def prompt_owners(self) -> np.ndarray:
        """(m,) the label index of each prompt."""
        return self._prompt_owners

    @property
    def prompt_texts(self) -> tuple[str, ...] | None:
        """The m prompts as text (None for a model saved before they were kept)."""
        return self._prompt_texts

    def posteriors(self, vectors: np.ndarray) -> np.ndarray:
        """vectors: (n, d) -> (n, len(labels)) a distribution over labels (rows sum to 1):
        a softmax of the calibrated logits, the starting point of adaptation."""
        logits = self.similarities(vectors) / self._scale
        logits -= logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        return weights / weights.sum(axis=1, keepdims=True)

    def similarities(self, vectors: np.ndarray) -> np.ndarray:
        """vectors: (n, d) -> (n, len(labels)) centred similarities (step 3 above)."""
        centred = l2_normalise(check_vectors(vectors, self.dimension) - self._mean_prompt)
        to_centroids = centred @ self._centred_centroids.T
        to_prompts = centred @ self._centred_prompts.T
        best = np.empty_like(to_centroids)
        for label, members in enumerate(self._members):
            own = to_prompts[:, members]
            k = min(BEST_PROMPTS, own.shape[1])
            best[:, label] = np.partition(own, own.shape[1] - k, axis=1)[:, -k:].mean(axis=1)
        return CENTROID_WEIGHT * to_centroids + (1.0 - CENTROID_WEIGHT) * best

    def logits(self, vectors: np.ndarray) -> np.ndarray:
        """vectors: (n, d) -> (n, len(labels)) calibrated logits (step 4, before the sigmoid)."""
        return (self.similarities(vectors) - self._centre_value) / self._scale

    def scores(self, vectors: np.ndarray, terms: sparse.csr_matrix | None = None) -> np.ndarray:
        """vectors: (n, d) -> (n, len(labels)) calibrated scores in [0, 1] (terms unread)."""
        return logistic(self.logits(vectors))

    def save(self, directory: Path) -> None:
        """Keep the embedded prompts, so tagging later needs no model to embed them again."""
        save_model(
            directory,
            kind=KIND,
            labels=self._labels,
            embedder_name=self._embedder_name,
            dimension=self.dimension,
            arrays={"prompt_vectors": self._prompt_vectors, "prompt_owners": self._prompt_owners},
            meta={
                "threshold": self._threshold,
                "iptc": self._iptc,
                "centre": self._centre_value,
                "scale": self._scale,
                "prompt_texts": list(self._prompt_texts) if self._prompt_texts else None,
                "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        )

    @classmethod
    def load(
        cls, directory: Path, *, embedder_name: str | None = None, dimension: int | None = None
    ) -> ZeroShotTagger:
        stored = load_model(directory)
        if stored.kind != KIND:
            raise InvalidTopicModelError(f"{directory}: a {stored.kind!r} model, not {KIND!r}")
        check_embedder(directory, stored, embedder_name, dimension)
        meta: dict[str, Any] = stored.meta
        try:
            return cls(
                stored.labels,
                stored.arrays["prompt_vectors"],
                stored.arrays["prompt_owners"],
                embedder_name=stored.embedder_name,
                threshold=float(meta.get("threshold", DEFAULT_THRESHOLD)),
                iptc=meta.get("iptc") or {},
                centre=float(meta.get("centre", CENTRE)),
                scale=float(meta.get("scale", SCALE)),
                prompt_texts=_texts(meta.get("prompt_texts")),
            )
        except KeyError as error:
            raise InvalidTopicModelError(f"{directory}: model array {error} missing") from None


def _texts(value: Any) -> list[str] | None:
    """A stored list of prompt texts, or None (absent, or not a list of strings)."""
    if isinstance(value, list) and all(isinstance(text, str) for text in value):
        return value
    return None
