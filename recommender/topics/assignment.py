"""What every topic tagger returns, and the protocol it meets.

A tagger works on vectors the caller already has (the index's stored vectors, or a batch just
encoded): it never sees, and never re-encodes, article text. A tagger that `reads_terms` (an
adapted model with a lexical head) is also handed each article's hashed term frequencies
(`recommender.index.lexical.term_vectors` of its text, or its stored term blob decoded).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sparse

from recommender.errors import InvalidInputError


@dataclass(frozen=True, slots=True)
class TopicScore:
    label: str
    score: float
    iptc: str | None = None
    confident: bool = True
    """False for the primary topic listed although no topic cleared the threshold."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "score": round(self.score, 4),
            "iptc": self.iptc,
            "confident": self.confident,
        }


@dataclass(frozen=True, slots=True)
class TopicAssignment:
    """The topics of one article.

    ``scores`` holds every label's score in [0, 1]; ``topics`` those at or above the
    threshold, best first, or, when none is, just the best-scoring one marked
    ``confident=False``; ``primary`` is always the best-scoring label, so it is always
    ``topics[0]``. One answer, never an empty list beside a primary topic.
    """

    scores: Mapping[str, float]
    topics: tuple[TopicScore, ...]
    primary: str

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels that cleared the threshold (what topic filters match); may be empty."""
        return tuple(topic.label for topic in self.topics if topic.confident)

    @property
    def confident(self) -> bool:
        return self.topics[0].confident

    def to_fields(self) -> dict[str, Any]:
        """The fields a tagged output row gains."""
        return {
            "topics": [topic.to_dict() for topic in self.topics],
            "primary_topic": self.primary,
        }


@runtime_checkable
class TopicTagger(Protocol):
    """Scores L2-normalised article vectors against a fixed list of labels."""

    @property
    def labels(self) -> tuple[str, ...]: ...

    @property
    def embedder_name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    @property
    def threshold(self) -> float: ...

    @property
    def iptc(self) -> Mapping[str, str | None]:
        """The IPTC media topic code of each label that has one."""
        ...

    @property
    def reads_terms(self) -> bool:
        """True when `scores` needs each article's terms besides its vector."""
        ...

    def scores(self, vectors: np.ndarray, terms: sparse.csr_matrix | None = None) -> np.ndarray:
        """vectors: (n, dimension), terms: (n, HASHED_FEATURES) term frequencies or None
        -> (n, len(labels)) float scores in [0, 1]."""
        ...

    def tag(
        self,
        vectors: np.ndarray,
        *,
        threshold: float | None = None,
        terms: sparse.csr_matrix | None = None,
    ) -> list[TopicAssignment]: ...


def check_vectors(vectors: np.ndarray, dimension: int) -> np.ndarray:
    """The vectors as a float32 (n, dimension) array, or a clear error."""
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim == 1 and array.shape[0] == dimension:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != dimension:
        raise InvalidInputError(
            f"expected vectors of shape (n, {dimension}), got {tuple(np.shape(vectors))}"
        )
    return array


def check_threshold(threshold: float) -> float:
    if not 0.0 <= threshold <= 1.0:
        raise InvalidInputError(f"threshold must be between 0 and 1, got {threshold}")
    return float(threshold)


def assignments_from_scores(
    scores: np.ndarray,
    labels: Sequence[str],
    iptc: Mapping[str, str | None],
    threshold: float,
) -> list[TopicAssignment]:
    """scores: (n, len(labels)) in [0, 1] -> one assignment per row.

    Ties break by label order, so the result is deterministic.
    """
    check_threshold(threshold)
    # A stable sort on the negated scores keeps label order among equal scores.
    order = np.argsort(-scores, axis=1, kind="stable")
    assignments = []
    for row, ranking in zip(scores, order, strict=True):
        best = int(ranking[0])
        above = tuple(
            TopicScore(labels[j], float(row[j]), iptc.get(labels[j]))
            for j in ranking
            if row[j] >= threshold
        )
        if not above:
            above = (TopicScore(labels[best], float(row[best]), iptc.get(labels[best]), False),)
        assignments.append(
            TopicAssignment(
                scores={label: float(value) for label, value in zip(labels, row, strict=True)},
                topics=above,
                primary=labels[best],
            )
        )
    return assignments


def logistic(logits: np.ndarray) -> np.ndarray:
    """Scores in (0, 1); clipped so that extreme logits cannot overflow."""
    return 1.0 / (1.0 + np.exp(-np.clip(logits, -30.0, 30.0)))


class ThresholdTagger:
    """What every tagger shares: its labels, the embedder it reads, a threshold, and `tag`
    on top of the subclass's `scores`."""

    def __init__(
        self,
        labels: Sequence[str],
        *,
        embedder_name: str,
        threshold: float,
        iptc: Mapping[str, str | None] | None,
    ) -> None:
        self._labels = tuple(labels)
        self._embedder_name = embedder_name
        self._threshold = check_threshold(threshold)
        self._iptc = dict(iptc or {})

    @property
    def labels(self) -> tuple[str, ...]:
        return self._labels

    @property
    def embedder_name(self) -> str:
        return self._embedder_name

    @property
    def threshold(self) -> float:
        return self._threshold

    @property
    def iptc(self) -> Mapping[str, str | None]:
        return self._iptc

    @property
    def reads_terms(self) -> bool:
        return False

    def scores(self, vectors: np.ndarray, terms: sparse.csr_matrix | None = None) -> np.ndarray:
        raise NotImplementedError

    def tag(
        self,
        vectors: np.ndarray,
        *,
        threshold: float | None = None,
        terms: sparse.csr_matrix | None = None,
    ) -> list[TopicAssignment]:
        return assignments_from_scores(
            self.scores(vectors, terms),
            self._labels,
            self._iptc,
            self._threshold if threshold is None else threshold,
        )
