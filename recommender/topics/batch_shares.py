"""The file's own topic shares: zero-shot re-weighted by the mix of the batch it tags.

Zero-shot treats every topic as equally likely, so a topic with strong neighbours swallows
them where a file covers few topics (politics articles go to crime and society, technology
to economy). A batch tagger sees the file: the topic shares of its first rows are estimated
from the zero-shot posteriors by EM (Saerens, Latinne & Decaestecker, 2002, as
adapt.reestimate_priors does for a whole archive), with a pull towards uniform worth
PRIOR_ROWS rows, so a small file with many topics stays close to zero-shot. Every row's
odds are then multiplied by its topic's share over the uniform share: one offset per topic
added to the zero-shot logits, label-free and deterministic.

Why the first SHARE_ROWS rows and not the whole file: a streaming tagger holds only those
back before it writes its first row, and memory stays flat. Measured on WCEP's ten sections,
its two subsets shaped like the independent check's corpora (in file order, sorted by class,
and subsampled to those corpora's sizes) and seeds/: every one gains, by 0.4 to 3.3 points
of macro-F1 (eval/studies/topics_batch_shares.py, docs/topics.md); more rows lose on a file
sorted by class. The temperature of the posteriors is the zero-shot tagger's own scale
(higher ones over-correct).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sparse

from recommender.errors import InvalidInputError
from recommender.index.publish import write_json_atomically
from recommender.topics.assignment import ThresholdTagger, logistic
from recommender.topics.zero_shot import ZeroShotTagger

SHARE_ROWS = 256
"""Rows of a file whose topic shares re-weight all of it (what is held back before writing)."""
PRIOR_ROWS = 100.0
"""Strength of the pull towards uniform shares, in rows: 100 rows with many topics move
the shares little, 256 rows of two topics move them far."""
EM_ITERATIONS = 100
SHARES_SUFFIX = ".topic-shares.json"


def estimate_shares(
    posteriors: np.ndarray, *, prior_rows: float = PRIOR_ROWS, iterations: int = EM_ITERATIONS
) -> np.ndarray:
    """posteriors: (n, L) zero-shot posteriors under uniform shares -> (L,) topic shares.

    EM on the shares, each step a maximum a posteriori estimate under a symmetric Dirichlet
    prior worth `prior_rows` rows spread evenly over the topics."""
    return em_shares(posteriors, prior_rows=prior_rows, tolerance=1e-7, iterations=iterations)[1]


def em_shares(
    posteriors: np.ndarray, *, prior_rows: float, tolerance: float, iterations: int
) -> tuple[np.ndarray, np.ndarray]:
    """The EM of Saerens et al. on (n, L) posteriors under uniform shares -> (the posteriors
    re-weighted by the last step's shares (n, L), the shares (L,)); `prior_rows` 0 is plain
    maximum likelihood (what `adapt` estimates for an archive)."""
    rows, labels = posteriors.shape
    uniform = 1.0 / labels
    shares = np.full(labels, uniform)
    adjusted = posteriors
    for _ in range(iterations):
        adjusted = posteriors * (shares / uniform)
        adjusted /= adjusted.sum(axis=1, keepdims=True)
        updated = (adjusted.sum(axis=0) + prior_rows * uniform) / (rows + prior_rows)
        converged = np.abs(updated - shares).max() < tolerance
        shares = updated
        if converged:
            break
    return adjusted, shares


@dataclass(frozen=True)
class BatchShares:
    """Topic shares estimated on the first `rows` rows of a file."""

    labels: tuple[str, ...]
    shares: tuple[float, ...]
    rows: int

    @classmethod
    def estimate(cls, tagger: ZeroShotTagger, vectors: np.ndarray) -> BatchShares:
        """vectors: (n, d) the file's first rows (n >= 1)."""
        shares = estimate_shares(tagger.posteriors(vectors))
        return cls(tagger.labels, tuple(float(share) for share in shares), len(vectors))

    def logit_offsets(self) -> np.ndarray:
        """(L,) log(share / uniform share): what each topic's logit gains."""
        return np.log(np.asarray(self.shares) * len(self.shares))

    def by_label(self) -> dict[str, float]:
        return dict(zip(self.labels, self.shares, strict=True))

    def save(self, path: Path) -> None:
        write_json_atomically(
            path,
            {"labels": list(self.labels), "shares": list(self.shares), "rows": self.rows},
        )

    @classmethod
    def load(cls, path: Path, labels: Sequence[str]) -> BatchShares:
        """The shares a previous run wrote; refuses those of another taxonomy."""
        try:
            value: Any = _read_json(path)
            stored = cls(
                tuple(str(label) for label in value["labels"]),
                tuple(float(share) for share in value["shares"]),
                int(value["rows"]),
            )
        except (KeyError, TypeError, ValueError, OverflowError):  # JSON's 1e400: inf
            raise _not_a_shares_file(path) from None
        if stored.labels != tuple(labels):
            raise InvalidInputError(
                f"{path}: shares of other topics ({', '.join(stored.labels)}); the output was "
                "tagged with another taxonomy: choose another -o"
            )
        if len(stored.shares) != len(stored.labels) or not all(
            share > 0 and math.isfinite(share) for share in stored.shares
        ):
            raise _not_a_shares_file(path)
        return stored


def shares_file(output: Path) -> Path:
    """Where a run to `output` keeps the shares it tags with (reused when it resumes)."""
    return output.with_name(output.name + SHARES_SUFFIX)


class ShareAdjustedTagger(ThresholdTagger):
    """A zero-shot tagger whose logits gain the file's topic share offsets."""

    def __init__(self, zero_shot: ZeroShotTagger, shares: BatchShares) -> None:
        if shares.labels != zero_shot.labels:
            raise InvalidInputError("topic shares of other labels than the tagger's")
        super().__init__(
            zero_shot.labels,
            embedder_name=zero_shot.embedder_name,
            threshold=zero_shot.threshold,
            iptc=zero_shot.iptc,
        )
        self._zero_shot = zero_shot
        self._offsets = shares.logit_offsets()
        self.shares = shares

    @property
    def dimension(self) -> int:
        return self._zero_shot.dimension

    def scores(self, vectors: np.ndarray, terms: sparse.csr_matrix | None = None) -> np.ndarray:
        """vectors: (n, d) -> (n, L) zero-shot scores with each topic's odds re-weighted."""
        return logistic(self._zero_shot.logits(vectors) + self._offsets)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InvalidInputError(f"{path}: cannot read ({error.strerror})") from None
    except ValueError:
        raise _not_a_shares_file(path) from None


def _not_a_shares_file(path: Path) -> InvalidInputError:
    return InvalidInputError(
        f"{path}: not a topic shares file; delete it to estimate the shares again"
    )
