"""Story clustering, online: every article joins the story it reads as part of, or opens one.

An article waiting for a story (new, or its text or date changed: see `story_store.py`)
is compared with its candidates, the articles the ranking would consider for its related
list, by the ranking's own blended score (`Recommender.neighbours`). A story's link to the
article is its best-scoring member among them (single link: a story drifts, from a bridge
collapse to a trial to a reopening, and its newest coverage reads most like the next).

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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from recommender.dates import SECONDS_PER_DAY
from recommender.errors import InvalidInputError, NewsrecError
from recommender.ranking.recommender import Recommender
from recommender.ranking.results import Neighbours
from recommender.stories.store import StoryMember, StoryStore, founded_by

_SLICE = 512
# A delete checks the stories it touched up to this size: each member costs a candidate
# search (about 10-25 ms on all of WCEP), so a larger story is left whole.
_SPLIT_MEMBERS = 256


class StoryNotFoundError(NewsrecError, KeyError):
    """No story with that id in the index."""

    def __init__(self, story: str) -> None:
        self.story = story
        super().__init__(story)

    def __str__(self) -> str:
        return f"no story with id {self.story!r} in the index"


@dataclass(frozen=True)
class StoryClustering:
    """How articles are grouped into stories.

    The ranking's blended score weighs the dense and the TF-IDF cosine by the article's
    length (see `Ranking.dense_weight_for`), and the two run on different scales (two
    articles of one story: a dense cosine around 0.7, a TF-IDF cosine around 0.15). So the
    join threshold is blended the same way: w * `dense_threshold` + (1 - w) *
    `lexical_threshold` for an article whose dense weight is w; a merge needs
    `merge_margin` more. Calibrated with `newsrec eval stories` (README, "Stories")."""

    dense_threshold: float = 0.7
    lexical_threshold: float = 0.15
    merge_margin: float = 0.15  # large (e.g. 3): never merge
    # A story is bounded in time even where the ranking is not (its time boost is off by
    # default): a link is scaled by (1 + b * exp(-days apart / t)) / (1 + b), the ranking's
    # own form, with b = `time_boost` and t = `time_decay_days`; undated pairs get no boost.
    time_boost: float = 1.0
    time_decay_days: float = 180.0
    # A story of several articles is linked by its `support`-th best member among the
    # candidates, not by its best alone: one bridging article no longer pulls a newcomer
    # (and, by merges, whole stories) into a story it does not read as part of (chaining).
    support: int = 1
    # Candidates read per article (dense and lexical each): its closest stories are among
    # the first few, and each candidate costs an exact score.
    candidates: int = 32

    def __post_init__(self) -> None:
        for name in ("dense_threshold", "lexical_threshold"):
            if not -1.0 <= getattr(self, name) <= 1.0:
                raise InvalidInputError(f"{name} must be in [-1, 1], got {getattr(self, name)}")
        if not self.merge_margin >= 0.0:
            raise InvalidInputError(f"merge_margin must be >= 0, got {self.merge_margin}")
        if self.support < 1:
            raise InvalidInputError(f"story support must be >= 1, got {self.support}")
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


class _Stories:
    """The assignment as it stands, for one run: read from the store as the run touches it
    (the stories of an article's candidates, the members of the stories it meets), so a
    write costs what it touches, not the size of the index. Kept in step with what the
    run assigns and merges. Without a store (an evaluation), everything starts pending."""

    def __init__(self, store: StoryStore | None = None) -> None:
        self._store = store
        self._story_of: dict[int, str | None] = {}
        self._members: dict[str, set[int]] = {}
        self._editorial: dict[str, bool] = {}

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

    def join(self, row_id: int, story: str) -> None:
        self.members(story).add(row_id)
        self._story_of[row_id] = story

    def fold(self, story: str, into: str) -> set[int]:
        """Move a story's members into another; returns them."""
        moved = set(self.members(story))
        self._members[story] = set()
        for row_id in moved:
            self._story_of[row_id] = into
        self.members(into).update(moved)
        return moved

    def assigned(self) -> dict[int, str]:
        return {r: story for r, story in self._story_of.items() if story is not None}


@dataclass
class _Slice:
    """What one transaction writes."""

    assigned: dict[int, str] = field(default_factory=dict)
    merged: dict[str, str] = field(default_factory=dict)
    drop_owners: set[int] = field(default_factory=set)


class StoryAssigner:
    """Assigns the index's pending articles to stories (see the module docstring)."""

    def __init__(self, recommender: Recommender, clustering: StoryClustering | None = None) -> None:
        self.recommender = recommender
        self.clustering = clustering or StoryClustering()
        # Scores without the ranking's time boost: the story's own applies (`candidates`).
        self._scorer = Recommender(
            recommender.index, replace(recommender.ranking, time_boost=0.0), list_depth=0
        )

    def candidates(self, article_ids: Sequence[str]) -> dict[str, Neighbours]:
        """Each stored article's candidates, scored as the clustering compares them: the
        ranking's blend without its time boost, then the story's time factor."""
        found = self._scorer.neighbours(article_ids, self.clustering.candidates)
        boost = self.clustering.time_boost
        if boost == 0.0:
            return found
        catalog = self.recommender.index.catalog
        for article_id, neighbours in found.items():
            if not neighbours.hits:
                continue
            rows = np.asarray(
                [self.recommender.index.row_id(article_id)]
                + [row_id for row_id, _ in neighbours.hits]
            )
            starts = catalog.starts[np.searchsorted(catalog.row_ids, rows)]
            days = np.abs(starts[1:] - starts[0]) / SECONDS_PER_DAY
            closeness = np.nan_to_num(np.exp(-days / self.clustering.time_decay_days), nan=0.0)
            factor = (1.0 + boost * closeness) / (1.0 + boost)
            scored = [
                (row_id, score * float(f))
                for (row_id, score), f in zip(neighbours.hits, factor, strict=True)
            ]
            scored.sort(key=lambda hit: -hit[1])
            found[article_id] = Neighbours(neighbours.dense_weight, scored)
        return found

    def assign_pending(
        self, *, editorial: bool = True, progress: Callable[[int], None] | None = None
    ) -> int:
        """Assign every article without a story; returns how many were assigned.

        `editorial`: a pending article whose stored input carries a `story` takes it (the
        write gives it at once; a store from before stories has it only in the article)."""
        store = self.recommender.index.store
        if editorial and store.stories.has_pending_editorial():
            store.adopt_editorial_stories()
        pending = store.stories.pending()
        if not pending:
            return 0
        state = _Stories(store.stories)
        # Only an index with stored lists has slots to keep in step.
        keeps_lists = store.related_lists.count() > 0
        for start in range(0, len(pending), _SLICE):
            chunk = pending[start : start + _SLICE]
            written = self._assign(chunk, state, keeps_lists)
            store.write_stories(written.assigned, written.merged, sorted(written.drop_owners))
            if progress is not None:
                progress(len(chunk))
        return len(pending)

    def split(self, stories: Iterable[str]) -> int:
        """After a delete: each clustered story is clustered again among the members it has
        left, as a stream in date order would cluster them without the deleted ones (each
        compared with its candidates that are members). A story a deleted article bridged
        falls apart: the part holding the article it is named after (else the largest)
        keeps the id; each other part opens a story named after its oldest article.
        Editorial stories are an editor's, and stories of more than `_SPLIT_MEMBERS`
        too costly to check: left whole. Returns how many were split."""
        store = self.recommender.index.store
        split = 0
        for story in dict.fromkeys(stories):
            if store.stories.is_editorial(story):
                continue
            members = store.stories.members(story)  # oldest first, undated last
            if not 2 <= len(members) <= _SPLIT_MEMBERS:
                continue
            rows = [m.row_id for m in members]
            inside = set(rows)
            found = self.candidates([m.id for m in members])
            neighbours = {
                m.row_id: Neighbours(
                    found[m.id].dense_weight, [h for h in found[m.id].hits if h[0] in inside]
                )
                for m in members
                if m.id in found
            }
            names = {m.row_id: m.id for m in members}
            parts: dict[str, list[int]] = {}
            assigned = cluster_stream(rows, names, neighbours, self.clustering)
            for row_id in rows:
                parts.setdefault(assigned[row_id], []).append(row_id)
            if len(parts) < 2:
                continue
            # The part holding the article the story is named after keeps the id, else the
            # largest (the oldest of equals: parts are in date order).
            named = [p for p in parts.values() if any(founded_by(names[r]) == story for r in p)]
            keeper = named[0] if named else max(parts.values(), key=len)
            state = _Stories(store.stories)
            assigned = {}
            for part in parts.values():
                if part is not keeper:
                    assigned.update(dict.fromkeys(part, _unused_name(names[part[0]], state)))
            store.write_stories(assigned, {}, rows)
            split += 1
        return split

    def recluster(
        self, *, editorial: bool = True, progress: Callable[[int], None] | None = None
    ) -> int:
        """Forget the clustered stories and assign every article afresh (`editorial=False`:
        the editors' stories too, as an evaluation that hides the answer does)."""
        self.recommender.index.store.clear_stories(editorial=not editorial)
        return self.assign_pending(editorial=editorial, progress=progress)

    def _assign(self, rows: Sequence[int], state: _Stories, keeps_lists: bool) -> _Slice:
        written = _Slice()
        ids = self.recommender.index.store.summaries_by_row_id(list(rows))
        neighbours = self.candidates([ids[row_id].id for row_id in rows if row_id in ids])
        for row_id in rows:
            if row_id not in ids:
                continue
            article_id = ids[row_id].id
            found = neighbours.get(article_id, Neighbours(1.0, []))
            links = _links(found.hits, state, self.clustering.support)
            join, merge = self.clustering.thresholds(found.dense_weight)
            story = _place(article_id, links, state, written, join, merge)
            state.join(row_id, story)
            written.assigned[row_id] = story
            if keeps_lists:
                # Its own slots (ranked while it was pending, if ever) and its neighbours'.
                written.drop_owners.add(row_id)
                written.drop_owners.update(self._slots_it_may_take(row_id, state, story))
        return written

    def _slots_it_may_take(self, row_id: int, state: _Stories, story: str) -> set[int]:
        """Members whose stored previous or next slot the new member may now fill, under
        the recommender's slot strategy (`Recommender._pick_slots`)."""
        strategy = self.recommender.slot_strategy
        if strategy == "story-nearest":
            return self._neighbours_in_time(row_id, state, story)
        if strategy in ("story-related", "related-then-story"):
            return self._outscored_slots(row_id, state, story, strategy == "story-related")
        # The others read the member among the most related: any member's slot may change.
        return {member for member in state.members(story) if member != row_id}

    def _outscored_slots(
        self, row_id: int, state: _Stories, story: str, story_first: bool
    ) -> set[int]:
        """A member's slot on the new member's side changes when it is empty or the new
        member scores at least as well (the exact score a story slot was ranked with).
        `story_first` ("story-related"): also when the slot is not of the story. Else
        ("related-then-story"): also when it is a related slot above the floor, whose
        pool score (with the neighbour bonus) cannot be compared. Without a readable
        stored list, nothing to drop; lists of another signature: all dropped."""
        members = [member for member in state.members(story) if member != row_id]
        lists = self.recommender.index.store.related_lists
        signature = self.recommender.list_signature
        if not members or lists.signature() not in (None, signature):
            return set(members)
        catalog = self.recommender.index.catalog
        try:
            moment = float(catalog.starts[catalog.position(row_id)])
        except KeyError:
            return set()
        if np.isnan(moment):
            return set()  # an undated article is no one's slot
        starts = catalog.starts[np.searchsorted(catalog.row_ids, members)]
        inside = state.members(story)
        affected: set[int] = set()
        for member, start in zip(members, starts, strict=True):
            if np.isnan(start) or start == moment:
                continue
            stored = lists.get(member, signature)
            if stored is None:
                continue
            slot = stored.next if start < moment else stored.previous
            related = slot is not None and (
                slot[0] not in inside if story_first else slot[1] >= self.recommender.slot_floor
            )
            if (
                slot is None
                or related
                or float(self.recommender.pair_scores(member, np.asarray([row_id]))[0]) >= slot[1]
            ):
                affected.add(member)
        return affected

    def _neighbours_in_time(self, row_id: int, state: _Stories, story: str) -> set[int]:
        """Members whose previous or next slot the new member may take: those at the
        nearest earlier and the nearest later publication time of the story."""
        catalog = self.recommender.index.catalog
        members = np.fromiter(state.members(story), dtype=np.int64)
        members = members[members != row_id]
        if not len(members):
            return set()
        try:
            moment = catalog.starts[catalog.position(row_id)]
        except KeyError:
            return set()
        starts = catalog.starts[np.searchsorted(catalog.row_ids, members)]
        if np.isnan(moment):
            return set()
        affected: set[int] = set()
        with np.errstate(invalid="ignore"):
            for side in (starts < moment, starts > moment):
                if side.any():
                    nearest = starts[side][np.argmin(np.abs(starts[side] - moment))]
                    affected.update(int(m) for m in members[starts == nearest])
        return affected


def cluster_stream(
    order: Sequence[int],
    names: dict[int, str],
    neighbours: dict[int, Neighbours],
    clustering: StoryClustering,
) -> dict[int, str]:
    """What `StoryAssigner.recluster(editorial=False)` assigns, from the candidates computed
    once (`Recommender.neighbours`, by row): an evaluation sweeps thresholds with it.
    `order`: rows oldest first; `names`: each row's article id."""
    state = _Stories()
    written = _Slice()
    for row_id in order:
        found = neighbours.get(row_id, Neighbours(1.0, []))
        join, merge = clustering.thresholds(found.dense_weight)
        links = _links(found.hits, state, clustering.support)
        story = _place(names[row_id], links, state, written, join, merge)
        state.join(row_id, story)
    return state.assigned()


def _place(
    article_id: str,
    links: dict[str, float],
    state: _Stories,
    written: _Slice,
    join: float,
    merge: float,
) -> str:
    """The story an article joins, merging the stories it bridges."""
    joinable = {s: score for s, score in links.items() if score >= join}
    if not joinable:
        return _unused_name(article_id, state)
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


def _links(
    neighbours: list[tuple[int, float]], state: _Stories, support: int = 1
) -> dict[str, float]:
    """Each assigned candidate's story with its link: the score of its `support`-th best
    member among the candidates (its best, for a story with fewer members); a story with
    fewer candidates than that is not linked."""
    story_of = state.story_of([row_id for row_id, _ in neighbours])
    scores: dict[str, list[float]] = {}
    for row_id, score in neighbours:
        story = story_of.get(row_id)
        if story is not None:
            scores.setdefault(story, []).append(score)
    links: dict[str, float] = {}
    for story, found in scores.items():
        found.sort(reverse=True)
        needed = 1 if support == 1 else min(support, len(state.members(story)))
        if len(found) >= needed:
            links[story] = found[needed - 1]
    return links


def _unused_name(article_id: str, state: _Stories) -> str:
    """The story an article opens: named after it, unless that name is still in use (the
    article opened a story once, and its text changed since)."""
    name = founded_by(article_id)
    suffix = 1
    while state.members(name):
        suffix += 1
        name = f"{founded_by(article_id)}~{suffix}"
    return name


def story_of(recommender: Recommender, article_id: str) -> tuple[str, list[StoryMember]]:
    """An indexed article's story id and its articles in time order (undated last)."""
    store = recommender.index.store
    row_id = recommender.index.row_id(article_id)
    story = store.stories.stories_of([row_id]).get(row_id, founded_by(article_id))
    return story, store.stories.members(story)


def story_members(recommender: Recommender, story: str) -> list[StoryMember]:
    """A story's articles in time order (undated last); StoryNotFoundError if none."""
    members = recommender.index.store.stories.members(story)
    if not members:
        raise StoryNotFoundError(story)
    return members


__all__ = [
    "StoryAssigner",
    "StoryClustering",
    "StoryMember",
    "StoryNotFoundError",
    "cluster_stream",
    "story_members",
    "story_of",
]
