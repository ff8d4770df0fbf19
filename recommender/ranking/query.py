"""What a ranking is asked for: the query (a stored article or a new text, as vectors,
fingerprint, date and terms, with what its ranking has picked so far) and the filters on
its candidates."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sparse

from recommender.dates import PublishedTime, parse_published
from recommender.errors import InvalidInputError
from recommender.index.article_index import ArticleIndex


@dataclass(frozen=True)
class RelatedFilters:
    """Optional restrictions on candidates. Dates are ISO 8601; a bare `until` date is inclusive.

    `topic` keeps articles tagged with that label at index time.

    `max_age_days` keeps candidates published within that many days of the query article,
    before or after it; it is ignored for a query without a date. Date filters drop
    undated candidates.
    """

    exclude_ids: frozenset[str] = frozenset()
    since: str | None = None
    until: str | None = None
    max_age_days: float | None = None
    min_score: float | None = None
    topic: str | None = None
    # The calibrated relevance floor (relevance_floor.py) for this request; None: the
    # recommender's default. Applied when a list is read, like `min_score`.
    calibrated_floor: bool | None = None

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None:
                try:
                    parse_published(value)
                except ValueError as error:
                    raise InvalidInputError(f"{name}: {error}") from None
        if self.max_age_days is not None and not self.max_age_days >= 0:
            raise InvalidInputError(f"max_age_days must be >= 0, got {self.max_age_days}")
        if self.min_score is not None and not math.isfinite(self.min_score):
            raise InvalidInputError(f"min_score must be a finite number, got {self.min_score}")

    @property
    def restricts_candidates(self) -> bool:
        dated = self.since is not None or self.until is not None or self.max_age_days is not None
        return dated or self.topic is not None


@dataclass
class Query:
    vector: np.ndarray  # (dimension,)
    fingerprint: np.ndarray  # (SIGNATURE_SIZE,)
    published: PublishedTime | None
    terms: sparse.csr_matrix  # (1, HASHED_FEATURES) unit TF-IDF
    row_id: int | None = None
    first_block: tuple[np.ndarray, np.ndarray] | None = None  # (scores, row_ids) prefetched
    chosen: list[np.ndarray] = field(default_factory=list)  # fingerprints already picked
    # What candidates are scored against: the query itself, or its feedback expansion.
    scoring: tuple[np.ndarray, sparse.csr_matrix] | None = None
    # Unfiltered pools by depth: a stored list's related items and slots rank the same pool.
    pools: dict[int, list[tuple[int, float]]] = field(default_factory=dict)


def row_query(index: ArticleIndex, row_id: int) -> Query:
    """A stored article as a query, without a prefetched block."""
    return Query(
        index.vectors_of(np.asarray([row_id]))[0],
        index.fingerprint(row_id),
        index.published(row_id),
        index.terms_of(row_id),
        row_id,
    )


def stored_queries(index: ArticleIndex, article_ids: Sequence[str], depth: int) -> dict[str, Query]:
    """Queries from stored vectors (no model), with a first block searched in one batch."""
    unique = list(dict.fromkeys(article_ids))
    row_ids = np.asarray([index.row_id(article_id) for article_id in unique], dtype=np.int64)
    if not len(row_ids):
        return {}
    vectors = index.vectors_of(row_ids)
    scores, hits = index.dense_search(vectors, depth)
    return {
        article_id: Query(
            vectors[position],
            index.fingerprint(int(row_id)),
            index.published(int(row_id)),
            index.terms_of(int(row_id)),
            int(row_id),
            (scores[position], hits[position]),
        )
        for position, (article_id, row_id) in enumerate(zip(unique, row_ids, strict=True))
    }
