"""Related articles and the previous/next slots.

The score of a candidate blends two views of the pair (see `Ranking`): the cosine of the
dense vectors (the first 256 tokens, read by the model) and the TF-IDF cosine of the whole
texts; stories close in time get a bounded boost. Candidates come from both the FAISS
index and the lexical index, and every candidate is scored exactly on both sides.

A list never holds the query article, a near-duplicate of it, or two near-duplicates of each
other (the better ranked copy stands for both). Date filters become a FAISS id selector,
and the dense stream continues past the candidate pool when needed, so a list is short of k
only when the index has no more eligible articles.
"""

from __future__ import annotations

import functools
import itertools
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sparse

from recommender.dates import SECONDS_PER_DAY, PublishedTime, parse_bound, parse_published
from recommender.errors import ArticleNotFoundError, InvalidInputError
from recommender.index.article_index import ArticleIndex
from recommender.index.fingerprint import estimated_similarity, text_signature
from recommender.index.related_lists import RankedLists
from recommender.index.store import ArticleSummary
from recommender.index.vectors.faiss_index import in_bitmap
from recommender.index.vectors.protocol import (
    PayloadConditions,
    RowSelection,
    earlier_than,
    later_than,
)
from recommender.ranking.explain import ExplainedQuery, Explanation, explain
from recommender.ranking.feedback import expanded_query
from recommender.ranking.neighbourhood import pairwise_scores, shared_neighbour_bonus
from recommender.ranking.relevance_floor import (
    DEFAULT_ONE_IN,
    NEIGHBOUR_GUARD,
    RelevanceFloor,
    calibrate,
    length_bounds,
    load_floor,
    save_floor,
)

# The most items one call of the core ranks (its candidate pool grows with k). The HTTP
# API asks for fewer (service.http.schemas.API_MAX_K); this bounds the core's own callers.
MAX_RANKED_K = 1000
_FIRST_DEPTH_MARGIN = 16
# A slot whose story has no article on its side of the date takes the most related article
# there only from this score up (else it stays empty: a reader takes "previous" literally):
# its blended score plus its shared-neighbour bonus, the bonus counted up to
# SLOT_FLOOR_BONUS_CAP (see `_clears_slot_floor`;
# `python -m eval.quality.slot_comparison CORPUS --floors`).
# Stands in for the ranking's relevance floor (issue 14) until there is one.
SLOT_RELEVANCE_FLOOR = 0.35
SLOT_FLOOR_BONUS_CAP = 0.13
SLOT_KINDS = ("story", "related")
# How a slot is chosen when the story may have an article on its side (`_pick_slots`):
# - "story-nearest": the story's nearest member in time on that side (ties by score);
# - "story-related": the story's best scored member on that side;
# - "related-in-story": the nearest in time of the story's members among the
#   `SLOT_RELATED_DEPTH` most related articles on that side (a member far down the ranking
#   is more likely a clustering mistake than the story's next episode);
# - "related": the most related article on that side, whatever its story;
# - "related-then-story": "related", and where that leaves a side empty (nothing above the
#   floor), the story's best scored member there.
# Each falls back to the most related article on the side above the floor. Compared on
# every corpus by `newsrec eval stories` (README, "Stories"): "story-related" finds the
# story more often than "story-nearest" on all of them (a story's nearest member in time
# is more often a clustering mistake than its best scored one), with the same filler.
SLOT_STRATEGIES = (
    "story-nearest",
    "story-related",
    "related-in-story",
    "related",
    "related-then-story",
)
SLOT_STRATEGY = "story-related"
SLOT_RELATED_DEPTH = 10


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

    # Measured with eval on WCEP and seeds/: see the README's relevance section.
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


@dataclass(frozen=True, slots=True)
class RelatedArticle:
    id: str
    title: str
    score: float
    published: str | None
    source: str | None
    topics: tuple[str, ...] = ()
    explanation: Explanation | None = None  # only when asked for (`explain=True`)
    story: str | None = None
    kind: str | None = None  # a slot's: "story" (same story) or "related" (see SLOT_KINDS)

    @property
    def why(self) -> str | None:
        return self.explanation.text if self.explanation is not None else None

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "score": round(self.score, 6),
            "published": self.published,
            "source": self.source,
            "topics": list(self.topics),
            "story": self.story,
        }
        if self.kind is not None:
            found["kind"] = self.kind
        if self.explanation is not None:
            found["why"] = self.explanation.text
            found["reasons"] = self.explanation.to_dict()
        return found


@dataclass(frozen=True, slots=True)
class RelatedResult:
    """A related list and how many of the top k it withheld: items ranked in the top k
    that fell under the relevance floor or `min_score`."""

    items: list[RelatedArticle]
    withheld: int = 0


@dataclass(frozen=True, slots=True)
class Neighbours:
    """An article's candidates as (row_id, blended score) best first, and the weight of the
    dense side in its blend (see `Ranking.dense_weight_for`)."""

    dense_weight: float
    hits: list[tuple[int, float]]


@dataclass(frozen=True, slots=True)
class Slots:
    previous: RelatedArticle | None
    next: RelatedArticle | None


@dataclass
class _Query:
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


class Recommender:
    """Answers related and slots questions over an open `ArticleIndex`.

    Related-by-id without filters (k up to `list_depth`) and slots are read from the lists
    stored in the index when there are any for this ranking (see `related_lists.py`), and
    ranked live otherwise; both give the same items. `list_depth=0`: always live.
    """

    def __init__(
        self,
        index: ArticleIndex,
        ranking: Ranking | None = None,
        *,
        list_depth: int = 20,
        slot_floor: float = SLOT_RELEVANCE_FLOOR,
        slot_strategy: str = SLOT_STRATEGY,
        calibrated_floor: bool = False,
        floor_one_in: int = DEFAULT_ONE_IN,
    ) -> None:
        self.index = index
        self.ranking = ranking or Ranking()
        self.list_depth = list_depth
        self.slot_floor = slot_floor
        if slot_strategy not in SLOT_STRATEGIES:
            raise InvalidInputError(
                f"slot strategy must be one of {', '.join(SLOT_STRATEGIES)}, got {slot_strategy!r}"
            )
        self.slot_strategy = slot_strategy
        # Related items must clear the index's calibrated floor (see relevance_floor.py):
        # fewer than 1 in `floor_one_in` random pairs score above it. Off by default.
        self.calibrated_floor = calibrated_floor
        self.floor_one_in = floor_one_in
        self._floor: RelevanceFloor | None = None
        self._floor_lock = threading.Lock()
        # A list ranked k deep uses a pool of max(pool_depth, 4k): past pool_depth / 4 its
        # first items would no longer be what a live request for fewer ranks. Deeper (or 0):
        # no stored list is read or ranked.
        self.reads_lists = 0 < list_depth <= self.ranking.pool_depth // 4

    @functools.cached_property
    def scoring(self) -> str:
        """What scores are computed with: the ranking, and the index's lexical cut-off when
        it has one (none adds nothing, so what was kept before the setting still holds)."""
        max_df = self.index.lexical_max_df
        return repr(self.ranking) + (f" lexical_max_df={max_df}" if max_df < 1.0 else "")

    @functools.cached_property
    def list_signature(self) -> str:
        """What stored lists must have been ranked with to be read by this recommender."""
        return (
            f"{self.scoring} depth={self.list_depth} duplicates={self.index.duplicate_threshold}"
            f" slot_floor={self.slot_floor} slot_floor_bonus_cap={SLOT_FLOOR_BONUS_CAP}"
            f" slot_strategy={self.slot_strategy}"
        )

    def ranked_lists(self, article_ids: Sequence[str]) -> dict[int, RankedLists]:
        """Rank the lists to store for these articles (by row id), live."""
        depth = self.list_depth
        if not self.reads_lists:
            raise InvalidInputError(
                f"stored related lists hold 1 to {self.ranking.pool_depth // 4} items with a "
                f"candidate pool of {self.ranking.pool_depth}; the list depth is {depth}"
            )
        queries = self._stored_queries(
            article_ids, depth=max(depth + _FIRST_DEPTH_MARGIN, self.ranking.pool_depth)
        )
        found = {}
        for query in queries.values():
            related = self._pick(query, depth, RelatedFilters())
            query.chosen.clear()
            previous, following = self._pick_slots(query)
            assert query.row_id is not None
            found[query.row_id] = RankedLists(related, previous, following)
        return found

    # -- public --------------------------------------------------------------------------

    def related(
        self,
        article_id: str,
        k: int = 10,
        filters: RelatedFilters | None = None,
        *,
        explain: bool = False,
    ) -> list[RelatedArticle]:
        return self.related_many([article_id], k, filters, explain=explain)[article_id]

    def related_many(
        self,
        article_ids: Sequence[str],
        k: int = 10,
        filters: RelatedFilters | None = None,
        *,
        explain: bool = False,
    ) -> dict[str, list[RelatedArticle]]:
        """Related lists for several indexed articles; one batched search underneath.

        Raises ArticleNotFoundError for the first unknown id; check ids first to answer
        the others (`ArticleIndex.__contains__`). `explain` adds each item's reasons
        (see `explain.py`): it reads and tokenises the query texts, so it is opt-in.
        """
        found = self.related_results(article_ids, k, filters, explain=explain)
        return {article_id: result.items for article_id, result in found.items()}

    def related_results(
        self,
        article_ids: Sequence[str],
        k: int = 10,
        filters: RelatedFilters | None = None,
        *,
        explain: bool = False,
    ) -> dict[str, RelatedResult]:
        """`related_many` with how many items of each top k the floors withheld."""
        _check_k(k)
        filters = filters or RelatedFilters()
        picked: dict[str, list[tuple[int, float]]] = {}
        if not explain and self._lists_serve(k, filters):
            for article_id, ranked in self._stored_lists(article_ids).items():
                picked[article_id] = _best_first(ranked.related[:k])
        unranked = [article_id for article_id in article_ids if article_id not in picked]
        queries = self._stored_queries(
            unranked, depth=max(k + _FIRST_DEPTH_MARGIN, self.ranking.pool_depth)
        )
        for article_id, query in queries.items():
            picked[article_id] = _best_first(self._pick(query, k, filters))
        kept = {
            article_id: self._floored(self._query_of(article_id), hits, filters)
            for article_id, hits in picked.items()
        }
        items = self._materialise(kept, self._explained(queries) if explain else None)
        return {
            article_id: RelatedResult(items[article_id], len(picked[article_id]) - len(hits))
            for article_id, hits in kept.items()
        }

    def stored_related(
        self, article_id: str, k: int = 10, filters: RelatedFilters | None = None
    ) -> RelatedResult | None:
        """`related_results` when a stored list answers it (a few reads, no ranking);
        else None, also while the calibrated floor it needs is not estimated yet (the
        service answers this on its event loop: the estimate takes seconds)."""
        _check_k(k)
        filters = filters or RelatedFilters()
        if not self._lists_serve(k, filters):
            return None
        if self._floor_on(filters) and not self._floor_current():
            return None
        ranked = self._stored_lists([article_id]).get(article_id)
        if ranked is None:
            return None
        picked = _best_first(ranked.related[:k])
        kept = self._floored(self._query_of(article_id), picked, filters)
        items = self._materialise({article_id: kept})[article_id]
        return RelatedResult(items, len(picked) - len(kept))

    # -- relevance floor -----------------------------------------------------------------

    def relevance_floor(self) -> RelevanceFloor:
        """The index's calibrated floor: the one kept in the index directory while it fits
        this ranking and index size, else estimated again (seconds) and kept."""
        ranking, articles = self.scoring, len(self.index)
        floor = self._floor
        if floor is not None and self._floor_current():
            return floor
        # One estimate at a time: concurrent requests wait for it rather than repeat it.
        with self._floor_lock:
            floor = self._floor
            if floor is None or not floor.fits(self.floor_one_in, articles, ranking):
                floor = load_floor(self.index.directory)
            if floor is None or not floor.fits(self.floor_one_in, articles, ranking):
                floor = self._estimated_floor(ranking)
            self._floor = floor
        return floor

    def _estimated_floor(self, ranking: str) -> RelevanceFloor:
        row_ids = self.index.catalog.row_ids
        terms = np.diff(self.index.lexical.rows_of(row_ids).indptr)
        floor = calibrate(
            row_ids,
            terms,
            self.pair_scores,
            guard=self.neighbour_guard,
            one_in=self.floor_one_in,
            bounds=length_bounds(self.ranking.short_text_terms, self.ranking.long_text_terms),
            ranking=ranking,
        )
        if self.index.writable:  # a read-only reader keeps its estimate in memory
            save_floor(self.index.directory, floor)
        return floor

    def pair_scores(self, row_id: int, candidates: np.ndarray) -> np.ndarray:
        """The ranking's scores of stored articles against a stored article: (m,)."""
        return self._fused(self._row_query(row_id), np.asarray(candidates, dtype=np.int64))

    def neighbour_guard(self, row_ids: np.ndarray) -> np.ndarray:
        """Stored articles' NEIGHBOUR_GUARD-th best blended score (as `pair_scores`) over
        their dense and lexical candidates: their story would score above. +inf (no guard)
        with fewer: on so small an index the guard would leave no pair at all.
        One batched dense search: (q,) row ids in, (q,) scores out."""
        depth = NEIGHBOUR_GUARD + 1  # the article itself comes first
        dense = self.index.vectors.search(self.index.vectors.vectors_of(row_ids), depth)[1]
        found = np.full(len(row_ids), math.inf)
        for position, row_id in enumerate(row_ids):
            query = self._row_query(int(row_id))
            candidates = dense[position][dense[position] >= 0]
            if min(self.ranking.dense_weight, self.ranking.dense_weight_long) < 1.0:
                lexical = self.index.lexical.search(query.terms, NEIGHBOUR_GUARD)[0]
                candidates = np.union1d(candidates, lexical)
            candidates = np.unique(candidates[candidates != row_id])
            if len(candidates) >= NEIGHBOUR_GUARD:
                blended = self._fused(query, candidates)
                found[position] = np.sort(blended)[-NEIGHBOUR_GUARD]
        return found

    def _row_query(self, row_id: int) -> _Query:
        """A stored article as a query, without a prefetched block."""
        catalog = self.index.catalog
        return _Query(
            self.index.vectors.vectors_of(np.asarray([row_id]))[0],
            catalog.fingerprint(row_id),
            catalog.published(row_id),
            self.index.lexical.query_of(row_id),
            row_id,
        )

    def _floor_on(self, filters: RelatedFilters) -> bool:
        asked = filters.calibrated_floor
        return self.calibrated_floor if asked is None else asked

    def _floor_current(self) -> bool:
        """Whether the floor in memory holds for the index as it is (no file read)."""
        floor = self._floor
        return floor is not None and floor.fits(self.floor_one_in, len(self.index), self.scoring)

    def _query_of(self, article_id: str) -> Callable[[], _Query]:
        return lambda: self._row_query(self.index.row_id(article_id))

    def _floored(
        self, query: Callable[[], _Query], picked: list[tuple[int, float]], filters: RelatedFilters
    ) -> list[tuple[int, float]]:
        """The picks (best first) that reach `min_score` (their shown score) and, when on,
        the calibrated floor. Applied when a list is read, so stored lists and the live
        ranking agree whatever the floors are.

        The calibrated floor is compared with the pair's blended score, without the
        shared-neighbour bonus of the list's own ranking: the floor was estimated on
        blended scores of random pairs (`pair_scores`), which get no bonus. `query` is
        built only then."""
        kept = [hit for hit in picked if filters.min_score is None or hit[1] >= filters.min_score]
        if not self._floor_on(filters) or not kept or len(self.index) < 2:
            return kept
        scoring = query()
        floor = self.relevance_floor().floor_for(scoring.terms.nnz)
        blended = self._fused(scoring, np.asarray([row_id for row_id, _ in kept], dtype=np.int64))
        return [hit for hit, score in zip(kept, blended, strict=True) if score >= floor]

    def stored_slots(self, article_id: str) -> Slots | None:
        """`slots` when they are stored (a few reads, no ranking); else None."""
        ranked = self._stored_lists([article_id]).get(article_id)
        if ranked is None:
            return None
        return self._slots_of({article_id: [ranked.previous, ranked.next]})[article_id]

    def related_to_text(
        self,
        title: str,
        body: str = "",
        k: int = 10,
        filters: RelatedFilters | None = None,
        *,
        published: str | None = None,
        explain: bool = False,
    ) -> list[RelatedArticle]:
        """Related articles for a text that is not indexed. Runs the embedder once."""
        _check_k(k)
        if not title.strip() and not body.strip():
            raise InvalidInputError("title and body are both empty")
        text = f"{title}\n{body}" if body else title
        try:
            moment = parse_published(published) if published is not None else None
        except ValueError as error:
            raise InvalidInputError(f"published: {error}") from None
        query = _Query(
            self.index.embedder.encode([text])[0],
            text_signature(text),
            moment,
            self.index.lexical.query_for_text(text),
        )
        filters = filters or RelatedFilters()
        picked = self._floored(
            lambda: replace(query, scoring=None, chosen=[]),
            _best_first(self._pick(query, k, filters)),
            filters,
        )
        explained = {"": ExplainedQuery(text, query.terms, (), moment)} if explain else None
        return self._materialise({"": picked}, explained)[""]

    def slots(self, article_id: str, *, explain: bool = False) -> Slots:
        return self.slots_many([article_id], explain=explain)[article_id]

    def slots_many(self, article_ids: Sequence[str], *, explain: bool = False) -> dict[str, Slots]:
        """Previous = an earlier article of the same story, next = a later one, kind "story":
        the best scored (`slot_strategy` "story-related", the default), or the nearest in
        time ("story-nearest"; see SLOT_STRATEGIES).

        A side where the story has none takes the most related article on that side of the
        date if it scores at least `slot_floor` (kind "related"), else stays None. Never an
        article on the wrong side of the date: an undated article has no slots. The two
        slots are never the same story copy. `explain` adds the reasons of each slot, as for
        `related_many`.
        """
        picked: dict[str, list[tuple[int, float] | None]] = {}
        if not explain:
            for article_id, ranked in self._stored_lists(article_ids).items():
                picked[article_id] = [ranked.previous, ranked.next]
        unranked = [article_id for article_id in article_ids if article_id not in picked]
        queries = self._stored_queries(unranked, depth=self.ranking.pool_depth)
        for article_id, query in queries.items():
            picked[article_id] = self._pick_slots(query)
        return self._slots_of(picked, self._explained(queries) if explain else None)

    # -- stored lists --------------------------------------------------------------------

    def _lists_serve(self, k: int, filters: RelatedFilters) -> bool:
        """Whether a stored list answers this request: its first k items are the live answer
        (the live ranking takes items in pool order), unless filters change the pool."""
        unfiltered = not filters.restricts_candidates and not filters.exclude_ids
        return self.reads_lists and unfiltered and k <= self.list_depth

    def _stored_lists(self, article_ids: Sequence[str]) -> dict[str, RankedLists]:
        """The stored lists there are for these ids (unknown ids are left to the live path)."""
        store = self.index.store
        signature = self.list_signature
        found: dict[str, RankedLists] = {}
        if not self.reads_lists:
            return found
        for article_id in dict.fromkeys(article_ids):
            row_id = store.row_id_of(article_id)
            ranked = store.related_lists.get(row_id, signature) if row_id is not None else None
            if ranked is not None:
                found[article_id] = ranked
        return found

    # -- queries -------------------------------------------------------------------------

    def _stored_queries(self, article_ids: Sequence[str], depth: int) -> dict[str, _Query]:
        """Queries from stored vectors (no model), with a first block searched in one batch."""
        index = self.index
        unique = list(dict.fromkeys(article_ids))
        row_ids = np.asarray([index.row_id(article_id) for article_id in unique], dtype=np.int64)
        if not len(row_ids):
            return {}
        vectors = index.vectors.vectors_of(row_ids)
        scores, hits = index.vectors.search(vectors, depth)
        catalog, lexical = index.catalog, index.lexical
        return {
            article_id: _Query(
                vectors[position],
                catalog.fingerprint(int(row_id)),
                catalog.published(int(row_id)),
                lexical.query_of(int(row_id)),
                int(row_id),
                (scores[position], hits[position]),
            )
            for position, (article_id, row_id) in enumerate(zip(unique, row_ids, strict=True))
        }

    # -- ranking -------------------------------------------------------------------------

    def _pick(self, query: _Query, k: int, filters: RelatedFilters) -> list[tuple[int, float]]:
        """The first k acceptable candidates in pick order: the pool's, then (only when the
        pool runs out) the dense stream's past it. See `_best_first`."""
        allowed = self._allowed(query, filters)
        excluded = self._row_ids_of(filters.exclude_ids)
        pool = self._pool(query, allowed, max(self.ranking.pool_depth, 4 * k))
        picked: list[tuple[int, float]] = []
        for hit in itertools.chain(pool, self._beyond(query, allowed, pool)):
            if hit[0] in excluded or self._copies_a_pick(query, hit[0]):
                continue
            picked.append(self._choose(query, hit))
            if len(picked) == k:
                break
        return picked

    def _pick_slots(self, query: _Query) -> list[tuple[int, float] | None]:
        if query.published is None or query.row_id is None:
            return [None, None]
        catalog = self.index.catalog
        before, after = catalog.before(query.published), catalog.after(query.published)
        strategy = self.slot_strategy
        sides: list[tuple[int, float] | None] = [None, None]
        if strategy in ("story-nearest", "story-related"):
            sides = self._story_slots(query, before, after, nearest=strategy == "story-nearest")
            if sides[0] is not None and sides[1] is not None:
                return sides
        pool = self._pool(query, None, self.ranking.pool_depth)
        positions = np.searchsorted(catalog.row_ids, [row_id for row_id, _ in pool])
        if strategy == "related-in-story":
            sides = self._story_among_related(query, pool, (before, after))
        for side, on_side, bound in ((0, before, earlier_than), (1, after, later_than)):
            if sides[side] is not None or not on_side.any():
                continue
            hit = self._related_slot(query, pool, on_side[positions], on_side, bound)
            if hit is not None:
                sides[side] = self._choose(query, hit)
        if strategy == "related-then-story" and (sides[0] is None or sides[1] is None):
            missing = [side for side in (0, 1) if sides[side] is None]
            found = self._story_slots(query, before, after, nearest=False, sides=missing)
            sides = [hit if hit is not None else found[side] for side, hit in enumerate(sides)]
        return sides

    def _related_slot(
        self,
        query: _Query,
        pool: list[tuple[int, float]],
        in_pool: np.ndarray,
        on_side: np.ndarray,
        bound: Callable[[PublishedTime], PayloadConditions],
    ) -> tuple[int, float] | None:
        """The side's most related acceptable article (in the related list's order, the
        shared-neighbour bonus included) if it clears the slot floor (`_clears_slot_floor`).
        `in_pool`: which pool hits are on the side. Past the pool, the side's best dense
        match."""
        for hit, there in zip(pool, in_pool, strict=True):
            if hit[1] < self.slot_floor:
                return None
            if there and not self._copies_a_pick(query, hit[0]):
                return hit if self._clears_slot_floor(query, hit) else None
        assert query.published is not None
        rows = self.index.catalog.selection(on_side, bound(query.published))
        beyond = self._rescored(query, next(self._acceptable(query, rows), None))
        # Its score is the blend (no bonus past the pool): one floor test covers both.
        return beyond if beyond is not None and beyond[1] >= self.slot_floor else None

    def _clears_slot_floor(self, query: _Query, hit: tuple[int, float]) -> bool:
        """Whether a pool hit clears `slot_floor` with its neighbour bonus counted up to
        `SLOT_FLOOR_BONUS_CAP`. The bonus says the candidate's neighbours agree with the
        query's, which lifts an article of a neighbouring story nearly as much as one of
        the same story: counted whole (up to 0.2) it let them into slots as filler."""
        blended = float(self._fused(query, np.asarray([hit[0]], dtype=np.int64))[0])
        return blended + min(hit[1] - blended, SLOT_FLOOR_BONUS_CAP) >= self.slot_floor

    def _story_among_related(
        self, query: _Query, pool: list[tuple[int, float]], sides: tuple[np.ndarray, np.ndarray]
    ) -> list[tuple[int, float] | None]:
        """On each side, the nearest in time (ties by score) of the story's members among
        the `SLOT_RELATED_DEPTH` most related articles there ("related-in-story")."""
        catalog = self.index.catalog
        members = set(self._story_members(query).tolist())
        found: list[tuple[int, float] | None] = [None, None]
        if not members or not pool or query.published is None:
            return found
        rows = np.asarray([row_id for row_id, _ in pool], dtype=np.int64)
        positions = np.searchsorted(catalog.row_ids, rows)
        for side, on_side in enumerate(sides):
            top = itertools.islice(
                (
                    hit
                    for hit, there in zip(pool, on_side[positions], strict=True)
                    if there and not self._copies_a_pick(query, hit[0])
                ),
                SLOT_RELATED_DEPTH,
            )
            in_story = [hit for hit in top if hit[0] in members]
            if in_story:
                starts = catalog.starts[np.searchsorted(catalog.row_ids, [h[0] for h in in_story])]
                distance = np.abs(starts - query.published.start)
                scores = np.asarray([h[1] for h in in_story])
                found[side] = self._choose(query, in_story[int(np.lexsort((-scores, distance))[0])])
        return found

    def _story_members(self, query: _Query) -> np.ndarray:
        """The other stored members of the query's story, without its near-duplicates."""
        assert query.row_id is not None
        store, catalog = self.index.store, self.index.catalog
        story = store.stories.stories_of([query.row_id]).get(query.row_id)
        members = np.asarray(
            [m for m in (store.stories.member_rows(story) if story else []) if m != query.row_id],
            dtype=np.int64,
        )
        members = members[np.isin(members, catalog.row_ids)]
        if len(members):
            members = members[
                ~catalog.duplicates(query.fingerprint, members, self.index.duplicate_threshold)
            ]
        return members

    def _story_slots(
        self,
        query: _Query,
        before: np.ndarray,
        after: np.ndarray,
        *,
        nearest: bool = True,
        sides: Sequence[int] = (0, 1),
    ) -> list[tuple[int, float] | None]:
        """The nearest earlier and later articles of the query's story, ties by score
        (`nearest=False`: the best scored ones); only on `sides` (0 earlier, 1 later)."""
        catalog = self.index.catalog
        members = self._story_members(query)
        found: list[tuple[int, float] | None] = [None, None]
        if not len(members):
            return found
        positions = np.searchsorted(catalog.row_ids, members)
        starts = catalog.starts[positions]
        scores = self._fused(query, members)
        for side, on_side in enumerate((before[positions], after[positions])):
            if side not in sides:
                continue
            # Nearest in time first, then the better scored.
            distance = np.abs(starts - query.published.start) if query.published else starts
            order = (
                np.lexsort((-scores, distance)) if nearest else np.argsort(-scores, kind="stable")
            )
            for i in order:
                if on_side[i] and not self._copies_a_pick(query, int(members[i])):
                    found[side] = self._choose(query, (int(members[i]), float(scores[i])))
                    break
        return found

    def neighbours(self, article_ids: Sequence[str], depth: int) -> dict[str, Neighbours]:
        """Each stored article's dense and lexical candidates (`depth` of each, near-duplicates
        included, itself not) with their blended scores, best first, and the dense weight of
        its blend: what story clustering compares an article with (see `stories.py`)."""
        found: dict[str, Neighbours] = {}
        for article_id, query in self._stored_queries(article_ids, depth=depth).items():
            assert query.first_block is not None
            candidates = query.first_block[1][query.first_block[1] >= 0]
            if min(self.ranking.dense_weight, self.ranking.dense_weight_long) < 1.0:
                lexical_ids = self.index.lexical.search(query.terms, depth)[0]
                candidates = np.union1d(candidates, lexical_ids)
            candidates = np.unique(candidates[candidates != query.row_id])
            scores = self._fused(query, candidates)
            order = np.argsort(-scores, kind="stable")
            found[article_id] = Neighbours(
                self.ranking.dense_weight_for(query.terms.nnz),
                [(int(candidates[i]), float(scores[i])) for i in order],
            )
        return found

    def _pool(
        self, query: _Query, allowed: RowSelection | None, depth: int
    ) -> list[tuple[int, float]]:
        """Dense and lexical candidates, scored exactly on both sides, best first.

        Leaves out the query, its near-duplicates and rows outside `allowed`.
        """
        if allowed is None and depth in query.pools:
            return query.pools[depth]
        if allowed is None and query.first_block is not None:
            dense_ids = query.first_block[1][query.first_block[1] >= 0]
        else:
            dense_ids = self.index.vectors.search(query.vector[None, :], depth, allowed)[1][0]
            dense_ids = dense_ids[dense_ids >= 0]
        candidates = dense_ids
        if min(self.ranking.dense_weight, self.ranking.dense_weight_long) < 1.0:
            lexical_ids = self.index.lexical.search(query.terms, depth)[0]
            if allowed is not None:
                lexical_ids = lexical_ids[in_bitmap(allowed.bitmap, lexical_ids)]
            candidates = np.union1d(dense_ids, lexical_ids)
        if query.row_id is not None:
            candidates = candidates[candidates != query.row_id]
        if not len(candidates):
            return []
        catalog = self.index.catalog
        copies = catalog.duplicates(query.fingerprint, candidates, self.index.duplicate_threshold)
        candidates = candidates[~copies]
        scores = self._fused(query, candidates)
        if self.ranking.feedback_weight > 0.0 and query.scoring is None:
            top = candidates[np.argsort(-scores, kind="stable")[: self.ranking.feedback_depth]]
            query.scoring = expanded_query(
                query.vector,
                query.terms,
                self.index.vectors.vectors_of(top),
                [self.index.lexical.query_of(int(row_id)) for row_id in top],
                self.ranking.feedback_weight,
            )
            scores = self._fused(query, candidates)
        if self.ranking.neighbour_weight > 0.0:
            scores = self._with_neighbour_bonus(query, candidates, scores)
        order = np.argsort(-scores, kind="stable")
        found = [(int(candidates[i]), float(scores[i])) for i in order]
        if allowed is None:
            query.pools[depth] = found
        return found

    def _with_neighbour_bonus(
        self, query: _Query, candidates: np.ndarray, scores: np.ndarray
    ) -> np.ndarray:
        """Pool scores plus the shared-neighbour bonus of the best `neighbour_pool` (ranked
        uncapped: near-copies of one story would otherwise tie at 1; shown capped, see
        `_related`)."""
        ranking = self.ranking
        # Ties by row id, not by the engine's candidate order: FAISS and Qdrant return equal
        # scores in different orders, and the sets must not depend on it.
        best = np.lexsort((candidates, -scores))[: ranking.neighbour_pool]
        rows = candidates[best]
        vectors = np.vstack([query.vector[None, :], self.index.vectors.vectors_of(rows)])
        terms = sparse.vstack([query.terms, self.index.lexical.rows_of(rows)], format="csr")
        local = pairwise_scores(vectors, terms, ranking.dense_weight_for)
        bonus = shared_neighbour_bonus(local, ranking.neighbour_count)
        found = scores.astype(np.float64, copy=True)
        found[best] += ranking.neighbour_weight * bonus
        return found

    def _beyond(
        self, query: _Query, allowed: RowSelection | None, pool: list[tuple[int, float]]
    ) -> Iterator[tuple[int, float]]:
        """The dense stream past the pool, so a list reaches k whenever the index can."""
        seen = {row_id for row_id, _ in pool}
        for row_id, _ in self._acceptable(query, allowed):
            if row_id not in seen:
                yield row_id, float(self._fused(query, np.asarray([row_id]))[0])

    def _fused(self, query: _Query, row_ids: np.ndarray) -> np.ndarray:
        """Exact blended scores of the given rows: (m,) float64."""
        ranking = self.ranking
        vector, terms = query.scoring or (query.vector, query.terms)
        dense = (self.index.vectors.vectors_of(row_ids) @ vector).astype(np.float64)
        lexical = days_apart = None
        if ranking.dense_weight_for(query.terms.nnz) < 1.0:
            lexical = self.index.lexical.scores(terms, row_ids).astype(np.float64)
        if ranking.time_boost > 0.0 and query.published is not None:
            catalog = self.index.catalog
            starts = catalog.starts[np.searchsorted(catalog.row_ids, row_ids)]
            days_apart = np.abs(starts - query.published.start) / SECONDS_PER_DAY
        return ranking.combined(dense, lexical, days_apart, query.terms.nnz)

    def _rescored(self, query: _Query, hit: tuple[int, float] | None) -> tuple[int, float] | None:
        if hit is None:
            return None
        return hit[0], float(self._fused(query, np.asarray([hit[0]]))[0])

    def _copies_a_pick(self, query: _Query, row_id: int) -> bool:
        if not query.chosen:
            return False
        similarity = estimated_similarity(
            self.index.catalog.fingerprint(row_id), np.stack(query.chosen)
        )
        return bool((similarity >= self.index.duplicate_threshold).any())

    def _choose(self, query: _Query, hit: tuple[int, float]) -> tuple[int, float]:
        query.chosen.append(self.index.catalog.fingerprint(hit[0]))
        return hit

    def _first(self, query: _Query, allowed: RowSelection | None) -> tuple[int, float] | None:
        hit = next(self._acceptable(query, allowed), None)
        return self._choose(query, hit) if hit is not None else None

    def _acceptable(
        self, query: _Query, allowed: RowSelection | None, *, first_block_only: bool = False
    ) -> Iterator[tuple[int, float]]:
        """Candidates best first, without the query, its near-duplicates, or copies of picks."""
        threshold = self.index.duplicate_threshold
        catalog = self.index.catalog
        blocks = self._blocks(query, allowed)
        if first_block_only:
            blocks = itertools.islice(blocks, 1)
        for scores, row_ids in blocks:
            keep = row_ids != (query.row_id if query.row_id is not None else -1)
            scores, row_ids = scores[keep], row_ids[keep]
            if not len(row_ids):
                continue
            fingerprints = catalog.fingerprints[np.searchsorted(catalog.row_ids, row_ids)]
            copies = estimated_similarity(query.fingerprint, fingerprints) >= threshold
            for position in np.flatnonzero(~copies):
                candidate = fingerprints[position]
                if (
                    query.chosen
                    and (estimated_similarity(candidate, np.stack(query.chosen)) >= threshold).any()
                ):
                    continue
                yield int(row_ids[position]), float(scores[position])

    def _blocks(
        self, query: _Query, allowed: RowSelection | None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Successively deeper result blocks (new rows only), until the index is exhausted."""
        vectors = self.index.vectors
        total = len(vectors)
        seen = 0
        if allowed is None and query.first_block is not None:
            scores, row_ids = query.first_block
            valid = row_ids >= 0
            yield scores[valid], row_ids[valid]
            seen = int(valid.sum())
            if seen < len(row_ids):
                return
            depth = seen * 4
        else:
            depth = 2 * _FIRST_DEPTH_MARGIN
        while seen < total:
            depth = min(depth, total)
            scores, row_ids = vectors.search(query.vector[None, :], depth, allowed)
            valid = row_ids[0] >= 0
            found = int(valid.sum())
            yield scores[0][valid][seen:], row_ids[0][valid][seen:]
            if found < depth:
                return
            seen = found
            depth *= 4

    def _allowed(self, query: _Query, filters: RelatedFilters) -> RowSelection | None:
        """The rows passing the filters (a bitmap for FAISS, payload conditions for Qdrant),
        or None when unrestricted."""
        if not filters.restricts_candidates:
            return None
        catalog = self.index.catalog
        mask = np.ones(len(catalog), dtype=bool)
        dated = (
            filters.since is not None
            or filters.until is not None
            or filters.max_age_days is not None
        )
        since = until = None
        if dated:
            since = parse_bound(filters.since, upper=False) if filters.since else None
            until = parse_bound(filters.until, upper=True) if filters.until else None
            if filters.max_age_days is not None and query.published is not None:
                reach = filters.max_age_days * SECONDS_PER_DAY
                low, high = query.published.start - reach, query.published.end + reach
                since = low if since is None else max(since, low)
                until = high if until is None else min(until, high)
            mask &= catalog.dated_between(since, until)
        conditions = PayloadConditions(dated, since, until, topic=filters.topic)
        if filters.topic is not None:
            try:
                mask &= catalog.with_topic(filters.topic)
            except KeyError:
                known = ", ".join(sorted(catalog.topic_bits)) or "none: the index is untagged"
                raise InvalidInputError(
                    f"unknown topic {filters.topic!r}; indexed topics: {known}"
                ) from None
        return catalog.selection(mask, conditions)

    def _row_ids_of(self, article_ids: frozenset[str]) -> set[int]:
        found = self.index.store.states(list(article_ids)) if article_ids else {}
        return {state.row_id for state in found.values()}

    # -- results -------------------------------------------------------------------------

    def _summaries(self, row_ids: list[int]) -> dict[int, ArticleSummary]:
        return self.index.store.summaries_by_row_id(list(set(row_ids)))

    def _materialise(
        self,
        picked: dict[str, list[tuple[int, float]]],
        explained: dict[str, ExplainedQuery] | None = None,
    ) -> dict[str, list[RelatedArticle]]:
        summaries = self._summaries([row_id for hits in picked.values() for row_id, _ in hits])
        found = {
            article_id: [_related(summaries, hit) for hit in hits]
            for article_id, hits in picked.items()
        }
        if explained is None:
            return found
        lexical = self.index.lexical
        for article_id, items in found.items():
            reasons = explain(
                explained[article_id],
                [
                    (lexical.query_of(row_id), item.topics, item.published)
                    for (row_id, _), item in zip(picked[article_id], items, strict=True)
                ],
            )
            found[article_id] = [
                replace(item, explanation=reason)
                for item, reason in zip(items, reasons, strict=True)
            ]
        return found

    def _slots_of(
        self,
        picked: dict[str, list[tuple[int, float] | None]],
        explained: dict[str, ExplainedQuery] | None = None,
    ) -> dict[str, Slots]:
        """(previous, next) picks, either possibly None, as `Slots` of materialised items."""
        materialised = self._materialise(
            {article_id: [hit for hit in pair if hit] for article_id, pair in picked.items()},
            explained,
        )
        own = self._story_ids(list(picked))
        found = {}
        for article_id, pair in picked.items():
            items = iter(materialised[article_id])
            chosen = [next(items) if hit else None for hit in pair]
            found[article_id] = Slots(
                *(
                    replace(item, kind="story" if item.story == own[article_id] else "related")
                    if item is not None
                    else None
                    for item in chosen
                )
            )
        return found

    def _story_ids(self, article_ids: list[str]) -> dict[str, str | None]:
        """The story of each stored article (by id)."""
        states = self.index.store.states(article_ids)
        summaries = self._summaries([state.row_id for state in states.values()])
        return {
            article_id: summaries[states[article_id].row_id].story
            if article_id in states and states[article_id].row_id in summaries
            else None
            for article_id in article_ids
        }

    def _explained(self, queries: dict[str, _Query]) -> dict[str, ExplainedQuery]:
        """What the explanations need of stored query articles: text, topics, date."""
        row_ids = {
            article_id: q.row_id for article_id, q in queries.items() if q.row_id is not None
        }
        store = self.index.store
        articles = store.articles_by_row_id(list(row_ids.values()))
        summaries = store.summaries_by_row_id(list(row_ids.values()))
        return {
            article_id: ExplainedQuery(
                articles[row_id].text,
                queries[article_id].terms,
                summaries[row_id].topics,
                queries[article_id].published,
            )
            for article_id, row_id in row_ids.items()
        }


def _related(summaries: dict[int, ArticleSummary], hit: tuple[int, float]) -> RelatedArticle:
    found = summaries[hit[0]]
    return RelatedArticle(
        found.id,
        found.title,
        # The neighbour bonus can lift a score past 1; the order is ranked on the raw score
        # and a reader sees the scores' usual bound.
        min(hit[1], 1.0),
        found.published,
        found.source,
        found.topics,
        story=found.story,
    )


def _best_first(picked: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Rows from past the pool join a list only when the pool ran out, and may outscore some
    of its rows: show the list best first. (Stored lists keep pick order, so that their
    first k items are the live answer for k.)"""
    return sorted(picked, key=lambda hit: -hit[1])


def _check_k(k: int) -> None:
    if not 1 <= k <= MAX_RANKED_K:
        raise InvalidInputError(f"k must be between 1 and {MAX_RANKED_K}, got {k}")


__all__ = [
    "SLOT_KINDS",
    "SLOT_RELEVANCE_FLOOR",
    "ArticleNotFoundError",
    "Ranking",
    "Recommender",
    "RelatedArticle",
    "RelatedFilters",
    "RelatedResult",
    "Slots",
]
