"""How a candidate is scored against a query: the `Ranking` parameters and their pure
combination of the two views of a pair (numpy in, numpy out).

The dense side is the cosine of the model's vectors (the first 256 tokens it reads), the
lexical side the TF-IDF cosine of the whole texts; stories close in time can get a bounded
boost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommender.errors import InvalidInputError


@dataclass(frozen=True)
class Ranking:
    """How candidates are scored.

    score = (w * dense cosine + (1 - w) * TF-IDF cosine) * (1 + b * exp(-days apart / t))
            / (1 + b)
    with w = `dense_weight`, b = `time_boost`, t = `time_decay_days`; undated pairs get no
    boost. The division keeps scores within [-1, 1]. The pool's best candidates then gain
    the shared-neighbour bonus (`neighbour_*`; a shown score is capped at 1).
    `dense_weight=1, time_boost=0, neighbour_weight=0` is plain dense retrieval.
    """

    # Measured with eval on WCEP and seeds/: see docs/relevance.md.
    dense_weight: float = 0.6
    # The model reads an article's first 256 tokens; TF-IDF reads all of it. For a query
    # with more than `long_text_terms` distinct terms the dense weight falls to
    # `dense_weight_long` (log-linearly from `short_text_terms`): a long article's own words
    # say more about its story than a vector of its opening does.
    dense_weight_long: float = 0.1
    short_text_terms: int = 32
    long_text_terms: int = 128
    # Off: on archives whose stories run for months beside unrelated same-week news, favouring
    # the same weeks ranks the neighbours in time above the story (eval.studies.relevance_study).
    time_boost: float = 0.0
    time_decay_days: float = 180.0
    pool_depth: int = 200
    # Pseudo-relevance feedback: the query is moved towards its best `feedback_depth`
    # candidates (weight `feedback_weight`, 0 = off) and the pool is scored again.
    feedback_weight: float = 0.0
    feedback_depth: int = 5
    # Shared-neighbour re-ranking (recommender/ranking/neighbourhood.py): the best `neighbour_pool`
    # candidates gain up to `neighbour_weight` as their `neighbour_count` nearest neighbours
    # agree with the query's (0 = off). On by default: it gained on every corpus of
    # eval.studies.fusion_study, where query expansion lost on two-article stories.
    neighbour_weight: float = 0.2
    neighbour_count: int = 7
    neighbour_pool: int = 50

    def dense_weight_for(self, distinct_terms: int) -> float:
        """The dense side's weight for a query with this many distinct terms."""
        short, long = self.short_text_terms, self.long_text_terms
        if distinct_terms <= short or long == short:
            return self.dense_weight
        if distinct_terms >= long:
            return self.dense_weight_long
        along = np.log(distinct_terms / short) / np.log(long / short)
        return float(self.dense_weight + along * (self.dense_weight_long - self.dense_weight))

    def combined(
        self,
        dense: np.ndarray,
        lexical: np.ndarray | None,
        days_apart: np.ndarray | None,
        distinct_terms: int,
    ) -> np.ndarray:
        """The score of candidates from their sides, all (m,): dense and TF-IDF cosines
        (`lexical` may be None where the dense weight is 1) and days from the query (None:
        an undated query; nan: an undated candidate, which gets no boost)."""
        weight = self.dense_weight_for(distinct_terms)
        scores = dense
        if weight < 1.0 and lexical is not None:
            scores = weight * dense + (1.0 - weight) * lexical
        if self.time_boost > 0.0 and days_apart is not None:
            closeness = np.nan_to_num(np.exp(-days_apart / self.time_decay_days), nan=0.0)
            scores = scores * (1.0 + self.time_boost * closeness) / (1.0 + self.time_boost)
        return scores

    def __post_init__(self) -> None:
        for name in ("dense_weight", "dense_weight_long"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InvalidInputError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not 1 <= self.short_text_terms <= self.long_text_terms:
            raise InvalidInputError(
                "short_text_terms must be >= 1 and <= long_text_terms, got "
                f"{self.short_text_terms} and {self.long_text_terms}"
            )
        if not self.time_boost >= 0.0:
            raise InvalidInputError(f"time_boost must be >= 0, got {self.time_boost}")
        if not self.time_decay_days > 0.0:
            raise InvalidInputError(f"time_decay_days must be > 0, got {self.time_decay_days}")
        if self.pool_depth < 1:
            raise InvalidInputError(f"pool_depth must be >= 1, got {self.pool_depth}")
        if not self.feedback_weight >= 0.0:
            raise InvalidInputError(f"feedback_weight must be >= 0, got {self.feedback_weight}")
        if self.feedback_depth < 1:
            raise InvalidInputError(f"feedback_depth must be >= 1, got {self.feedback_depth}")
        if not self.neighbour_weight >= 0.0:
            raise InvalidInputError(f"neighbour_weight must be >= 0, got {self.neighbour_weight}")
        for name in ("neighbour_count", "neighbour_pool"):
            if getattr(self, name) < 1:
                raise InvalidInputError(f"{name} must be >= 1, got {getattr(self, name)}")
