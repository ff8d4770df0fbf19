"""Assigning an index's articles to stories: the pending ones after each write (online),
all of them again (`recluster`), and splitting the stories a delete touched. Each slice of
assignments is one store transaction; see `clustering.py` for how an article is placed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

import numpy as np

from recommender.dates import SECONDS_PER_DAY
from recommender.ranking.recommender import Recommender
from recommender.ranking.results import Neighbours
from recommender.stories.clustering import (
    SliceWrites,
    StoriesSoFar,
    StoryClustering,
    VectorsOf,
    cluster_stream,
    place_article,
    story_links,
    unused_story_name,
)
from recommender.stories.store import founded_by

_SLICE = 512
# A delete checks the stories it touched up to this size: each member costs a candidate
# search (about 10-25 ms on all of WCEP), so a larger story is left whole.
_SPLIT_MEMBERS = 256


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
        for article_id, neighbours in found.items():
            if not neighbours.hits:
                continue
            rows = np.asarray(
                [self.recommender.index.row_id(article_id)]
                + [row_id for row_id, _ in neighbours.hits]
            )
            starts = self.recommender.index.starts_of(rows)
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
        index = self.recommender.index
        if editorial and index.stories.has_pending_editorial():
            index.adopt_editorial_stories()
        pending = index.stories.pending()
        if not pending:
            return 0
        state = StoriesSoFar(index.stories, self._vectors_of())
        # Only an index with stored lists has slots to keep in step.
        keeps_lists = index.related_lists.count() > 0
        for start in range(0, len(pending), _SLICE):
            chunk = pending[start : start + _SLICE]
            written = self._assign(chunk, state, keeps_lists)
            index.write_stories(written.assigned, written.merged, sorted(written.drop_owners))
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
        index = self.recommender.index
        split = 0
        for story in dict.fromkeys(stories):
            if index.stories.is_editorial(story):
                continue
            members = index.stories.members(story)  # oldest first, undated last
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
            assigned = cluster_stream(rows, names, neighbours, self.clustering, self._vectors_of())
            for row_id in rows:
                parts.setdefault(assigned[row_id], []).append(row_id)
            if len(parts) < 2:
                continue
            # The part holding the article the story is named after keeps the id, else the
            # largest (the oldest of equals: parts are in date order).
            named = [p for p in parts.values() if any(founded_by(names[r]) == story for r in p)]
            keeper = named[0] if named else max(parts.values(), key=len)
            state = StoriesSoFar(index.stories)
            assigned = {}
            for part in parts.values():
                if part is not keeper:
                    assigned.update(dict.fromkeys(part, unused_story_name(names[part[0]], state)))
            index.write_stories(assigned, {}, rows)
            split += 1
        return split

    def recluster(
        self, *, editorial: bool = True, progress: Callable[[int], None] | None = None
    ) -> int:
        """Forget the clustered stories and assign every article afresh (`editorial=False`:
        the editors' stories too, as an evaluation that hides the answer does)."""
        self.recommender.index.clear_stories(editorial=not editorial)
        return self.assign_pending(editorial=editorial, progress=progress)

    def _assign(self, rows: Sequence[int], state: StoriesSoFar, keeps_lists: bool) -> SliceWrites:
        written = SliceWrites()
        ids = self.recommender.index.summaries_by_row_id(list(rows))
        neighbours = self.candidates([ids[row_id].id for row_id in rows if row_id in ids])
        present = [row_id for row_id in rows if row_id in ids]
        vectors_of = self._vectors_of()
        vectors: dict[int, np.ndarray] = {}
        if vectors_of is not None and present:
            read = vectors_of(np.asarray(present, dtype=np.int64))
            vectors = dict(zip(present, read, strict=True))
        for row_id in present:
            article_id = ids[row_id].id
            found = neighbours.get(article_id, Neighbours(1.0, []))
            vector = vectors.get(row_id)
            links = story_links(found.hits, state, self.clustering, vector)
            join, merge = self.clustering.thresholds(found.dense_weight)
            story = place_article(article_id, links, state, written, join, merge)
            state.join(row_id, story, vector)
            written.assigned[row_id] = story
            if keeps_lists:
                # Its own slots (ranked while it was pending, if ever) and its neighbours'.
                written.drop_owners.add(row_id)
                written.drop_owners.update(self._slots_it_may_take(row_id, state, story))
        return written

    def _vectors_of(self) -> VectorsOf | None:
        """The index's vectors when the centroid guard reads them."""
        return self.recommender.index.vectors_of if self.clustering.guards_centroids else None

    def _slots_it_may_take(self, row_id: int, state: StoriesSoFar, story: str) -> set[int]:
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
        self, row_id: int, state: StoriesSoFar, story: str, story_first: bool
    ) -> set[int]:
        """A member's slot on the new member's side changes when it is empty or the new
        member scores at least as well (the exact score a story slot was ranked with).
        `story_first` ("story-related"): also when the slot is not of the story. Else
        ("related-then-story"): also when it is a related slot above the floor, whose
        pool score (with the neighbour bonus) cannot be compared. Without a readable
        stored list, nothing to drop; lists of another signature: all dropped."""
        members = [member for member in state.members(story) if member != row_id]
        lists = self.recommender.index.related_lists
        signature = self.recommender.list_signature
        if not members or lists.signature() not in (None, signature):
            return set(members)
        try:
            moment = float(self.recommender.index.start_of(row_id))
        except KeyError:
            return set()
        if np.isnan(moment):
            return set()  # an undated article is no one's slot
        starts = self.recommender.index.starts_of(members)
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

    def _neighbours_in_time(self, row_id: int, state: StoriesSoFar, story: str) -> set[int]:
        """Members whose previous or next slot the new member may take: those at the
        nearest earlier and the nearest later publication time of the story."""
        members = np.fromiter(state.members(story), dtype=np.int64)
        members = members[members != row_id]
        if not len(members):
            return set()
        try:
            moment = self.recommender.index.start_of(row_id)
        except KeyError:
            return set()
        starts = self.recommender.index.starts_of(members)
        if np.isnan(moment):
            return set()
        affected: set[int] = set()
        with np.errstate(invalid="ignore"):
            for side in (starts < moment, starts > moment):
                if side.any():
                    nearest = starts[side][np.argmin(np.abs(starts[side] - moment))]
                    affected.update(int(m) for m in members[starts == nearest])
        return affected
