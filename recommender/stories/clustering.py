"""Story clustering, online: every article joins the story it reads as part of, or opens one.

An article waiting for a story (new, or its text or date changed: see `store.py`)
is compared with its candidates, the articles the ranking would consider for its related
list, by the ranking's own blended score (`Recommender.neighbours`). A story's link to the
article is its best-scoring member among them (single link: a story drifts, from a bridge
collapse to a trial to a reopening, and its newest coverage reads most like the next).
A story of a few articles or more is linked only if the article is also near its centroid
(`StoryClustering.centroid_floor`), so one member does not chain it into a story it does
not read like as a whole.

- It joins the best-linked story when that link clears `join_threshold`, else opens a
  story of its own, named after it (`story_store.founded_by`).
- When it also clears `merge_threshold` with other stories, it bridges them: they become
  one (the editorial one if any, else the largest, keeps its id). Two editorial stories are
  never merged: an editor said they differ.
- Articles an editor assigned (`story` in the input) are never moved; others may join them.

Articles are assigned oldest first (undated last), as a news stream arrives, so a rebuild
(`recluster`) meets them in the same order as a stream indexed in date order did. Each
slice of assignments is one transaction, which also drops the stored lists whose slots the
new members change (`drop_owners`), so a stored slot never misses a story member.

The thresholds (`StoryClustering`) and the one pass over a stream live here; the assigner
that runs it over an index, writes it and splits stories on delete is in `assigner.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from recommender.errors import InvalidInputError
from recommender.ranking.results import Neighbours
from recommender.stories.store import StoryStore, founded_by


@dataclass(frozen=True)
class StoryClustering:
    """How articles are grouped into stories.

    The ranking's blended score weighs the dense and the TF-IDF cosine by the article's
    length (see `Ranking.dense_weight_for`), and the two run on different scales (two
    articles of one story: a dense cosine around 0.7, a TF-IDF cosine around 0.15). So the
    join threshold is blended the same way: w * `dense_threshold` + (1 - w) *
    `lexical_threshold` for an article whose dense weight is w; a merge needs
    `merge_margin` more. Calibrated with `newsrec eval stories` (docs/stories.md)."""

    dense_threshold: float = 0.7
    lexical_threshold: float = 0.15
    merge_margin: float = 0.15  # large (e.g. 3): never merge
    # A story is bounded in time even where the ranking is not (its time boost is off by
    # default): a link is scaled by (1 + b * exp(-days apart / t)) / (1 + b), the ranking's
    # own form, with b = `time_boost` and t = `time_decay_days`; undated pairs get no boost.
    time_boost: float = 1.0
    time_decay_days: float = 180.0
    # A story of at least `support_from_size` articles is linked by its `support`-th best
    # member among the candidates, not by its best alone: one bridging article no longer
    # pulls a newcomer (and, by merges, whole stories) into a story it does not read as
    # part of (chaining). A smaller story is linked by its best member: a young story has
    # too few members to ask for several (support from size 1 cost seeds' BCubed F1).
    # Off by default (support 1): docs/stories.md, "Chaining, measured".
    support: int = 1
    support_from_size: int = 1
    # A story of at least `centroid_from_size` articles is joined (or merged) only by an
    # article whose dense cosine with the story's centroid (the mean of its members' unit
    # vectors) is at least `centroid_floor`: a link through one member is not enough when
    # the article does not read like the story as a whole (single link's chaining). -1: off.
    # 0.5 from 4 members (MiniLM): docs/stories.md, "Chaining, measured".
    centroid_floor: float = 0.5
    centroid_from_size: int = 4
    # Candidates read per article (dense and lexical each): its closest stories are among
    # the first few, and each candidate costs an exact score.
    candidates: int = 32

    def __post_init__(self) -> None:
        for name in ("dense_threshold", "lexical_threshold"):
            if not -1.0 <= getattr(self, name) <= 1.0:
                raise InvalidInputError(f"{name} must be in [-1, 1], got {getattr(self, name)}")
        if not self.merge_margin >= 0.0:
            raise InvalidInputError(f"merge_margin must be >= 0, got {self.merge_margin}")
        if self.support < 1 or self.support_from_size < 1:
            raise InvalidInputError(
                "story support and support_from_size must be >= 1, got "
                f"{self.support} and {self.support_from_size}"
            )
        if not -1.0 <= self.centroid_floor <= 1.0 or self.centroid_from_size < 1:
            raise InvalidInputError(
                "story centroid_floor must be in [-1, 1] and centroid_from_size >= 1, got "
                f"{self.centroid_floor} and {self.centroid_from_size}"
            )
        if self.candidates < 1:
            raise InvalidInputError(f"story candidates must be >= 1, got {self.candidates}")
        if not self.time_boost >= 0.0 or not self.time_decay_days > 0.0:
            raise InvalidInputError(
                "story time_boost must be >= 0 and time_decay_days > 0, got "
                f"{self.time_boost} and {self.time_decay_days}"
            )

    def thresholds(self, dense_weight: float) -> tuple[float, float]:
        """(join, merge) for an article whose blend gives the dense side `dense_weight`."""
        join = dense_weight * self.dense_threshold + (1.0 - dense_weight) * self.lexical_threshold
        return join, join + self.merge_margin

    @property
    def guards_centroids(self) -> bool:
        return self.centroid_floor > -1.0


VectorsOf = Callable[[np.ndarray], np.ndarray]  # rows -> their unit vectors (ArticleIndex)


class StoriesSoFar:
    """The assignment as it stands, for one run: read from the store as the run touches it
    (the stories of an article's candidates, the members of the stories it meets), so a
    write costs what it touches, not the size of the index. Kept in step with what the
    run assigns and merges. Without a store (an evaluation), everything starts pending.
    `vectors_of` (the index's): the stories' centroids, read when a story is first
    compared with one and kept in step with its members (a sum of unit vectors)."""

    def __init__(
        self, store: StoryStore | None = None, vectors_of: VectorsOf | None = None
    ) -> None:
        self._store = store
        self._vectors_of = vectors_of
        self._story_of: dict[int, str | None] = {}
        self._members: dict[str, set[int]] = {}
        self._editorial: dict[str, bool] = {}
        self._vector_sums: dict[str, np.ndarray] = {}

    def story_of(self, row_ids: Sequence[int]) -> dict[int, str]:
        """The assigned stories of these rows (pending rows left out)."""
        unknown = [row_id for row_id in row_ids if row_id not in self._story_of]
        if unknown:
            found = self._store.stories_of(unknown) if self._store is not None else {}
            for row_id in unknown:
                self._story_of[row_id] = found.get(row_id)
        return {r: story for r in row_ids if (story := self._story_of[r]) is not None}

    def members(self, story: str) -> set[int]:
        if story not in self._members:
            rows = self._store.member_rows(story) if self._store is not None else []
            self._members[story] = set(rows)
            for row_id in rows:
                self._story_of[row_id] = story
        return self._members[story]

    def editorial(self, story: str) -> bool:
        if story not in self._editorial:
            held = self._store is not None and self._store.is_editorial(story)
            self._editorial[story] = held
        return self._editorial[story]

    def centroid_cosine(self, story: str, vector: np.ndarray) -> float:
        """The cosine of a unit vector with the story's centroid (1 without `vectors_of`)."""
        if self._vectors_of is None:
            return 1.0
        total = self._vector_sums.get(story)
        if total is None:
            rows = np.fromiter(sorted(self.members(story)), dtype=np.int64)
            total = self._vectors_of(rows).sum(axis=0, dtype=np.float64)
            self._vector_sums[story] = total
        norm = float(np.linalg.norm(total))
        return float(np.dot(vector, total)) / norm if norm else 0.0

    def join(self, row_id: int, story: str, vector: np.ndarray | None = None) -> None:
        """`vector`: the row's unit vector, which keeps a read centroid in step (without
        it, the centroid is read again when next needed)."""
        self.members(story).add(row_id)
        self._story_of[row_id] = story
        if story in self._vector_sums:
            if vector is None:
                del self._vector_sums[story]
            else:
                self._vector_sums[story] = self._vector_sums[story] + vector

    def fold(self, story: str, into: str) -> set[int]:
        """Move a story's members into another; returns them."""
        moved = set(self.members(story))
        self._members[story] = set()
        for row_id in moved:
            self._story_of[row_id] = into
        self.members(into).update(moved)
        folded = self._vector_sums.pop(story, None)
        if into in self._vector_sums:
            if folded is None:
                del self._vector_sums[into]
            else:
                self._vector_sums[into] = self._vector_sums[into] + folded
        return moved

    def assigned(self) -> dict[int, str]:
        return {r: story for r, story in self._story_of.items() if story is not None}


@dataclass
class SliceWrites:
    """What one transaction writes."""

    assigned: dict[int, str] = field(default_factory=dict)
    merged: dict[str, str] = field(default_factory=dict)
    drop_owners: set[int] = field(default_factory=set)


def cluster_stream(
    order: Sequence[int],
    names: dict[int, str],
    neighbours: dict[int, Neighbours],
    clustering: StoryClustering,
    vectors_of: VectorsOf | None = None,
) -> dict[int, str]:
    """What `StoryAssigner.recluster(editorial=False)` assigns, from the candidates computed
    once (`Recommender.neighbours`, by row): an evaluation sweeps thresholds with it.
    `order`: rows oldest first; `names`: each row's article id; `vectors_of`: the index's
    (needed by the centroid guard: without it, the guard is off)."""
    if not clustering.guards_centroids:
        vectors_of = None
    state = StoriesSoFar(vectors_of=vectors_of)
    vectors = vectors_of(np.asarray(order, dtype=np.int64)) if vectors_of is not None else None
    written = SliceWrites()
    for position, row_id in enumerate(order):
        found = neighbours.get(row_id, Neighbours(1.0, []))
        join, merge = clustering.thresholds(found.dense_weight)
        vector = vectors[position] if vectors is not None else None
        links = story_links(found.hits, state, clustering, vector)
        story = place_article(names[row_id], links, state, written, join, merge)
        state.join(row_id, story, vector)
    return state.assigned()


def place_article(
    article_id: str,
    links: dict[str, float],
    state: StoriesSoFar,
    written: SliceWrites,
    join: float,
    merge: float,
) -> str:
    """The story an article joins, merging the stories it bridges."""
    joinable = {s: score for s, score in links.items() if score >= join}
    if not joinable:
        return unused_story_name(article_id, state)
    bridged = [s for s, score in joinable.items() if score >= merge]
    best = max(joinable, key=lambda s: (joinable[s], s))
    if best not in bridged:
        return best
    # The editorial story, if any, keeps its id; else the largest one (fewest rows move).
    editorial = [s for s in bridged if state.editorial(s)]
    keeper = (
        max(editorial, key=lambda s: (joinable[s], s))
        if editorial
        else max(bridged, key=lambda s: (len(state.members(s)), joinable[s], s))
    )
    if keeper != best and state.editorial(best):
        return best  # the best link is editorial and another one too: join, never merge
    for story in bridged:
        if story == keeper or state.editorial(story):
            continue
        moved = state.fold(story, keeper)
        written.merged[story] = keeper
        for row_id in moved:
            if row_id in written.assigned:
                written.assigned[row_id] = keeper
        written.drop_owners.update(moved)  # every moved member's slots may change
        written.drop_owners.update(state.members(keeper))
    return keeper


def story_links(
    neighbours: list[tuple[int, float]],
    state: StoriesSoFar,
    clustering: StoryClustering,
    vector: np.ndarray | None = None,
) -> dict[str, float]:
    """Each assigned candidate's story with its link: the score of its best member among
    the candidates, or for a story of at least `support_from_size` members its
    `support`-th best (at most its size); a story with fewer candidates than needed is not
    linked, nor (given the article's unit `vector`) a story of at least
    `centroid_from_size` members whose centroid it is below `centroid_floor` from."""
    support = clustering.support
    story_of = state.story_of([row_id for row_id, _ in neighbours])
    scores: dict[str, list[float]] = {}
    for row_id, score in neighbours:
        story = story_of.get(row_id)
        if story is not None:
            scores.setdefault(story, []).append(score)
    links: dict[str, float] = {}
    for story, found in scores.items():
        found.sort(reverse=True)
        if support == 1:
            needed = 1
        else:
            size = len(state.members(story))
            needed = min(support, size) if size >= clustering.support_from_size else 1
        if len(found) >= needed:
            links[story] = found[needed - 1]
    if vector is not None and clustering.guards_centroids:
        for story in list(links):
            if (
                len(state.members(story)) >= clustering.centroid_from_size
                and state.centroid_cosine(story, vector) < clustering.centroid_floor
            ):
                del links[story]
    return links


def unused_story_name(article_id: str, state: StoriesSoFar) -> str:
    """The story an article opens: named after it, unless that name is still in use (the
    article opened a story once, and its text changed since)."""
    name = founded_by(article_id)
    suffix = 1
    while state.members(name):
        suffix += 1
        name = f"{founded_by(article_id)}~{suffix}"
    return name
