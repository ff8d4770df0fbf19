"""Stories after a delete, the clustering's support, and the slot strategies (hashing
embedder; the corpus and fixture of test_stories)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path
from typing import get_args

import numpy as np
import pytest
from pydantic import ValidationError

from recommender import Recommender, Settings
from recommender.ranking.list_refresh import store_lists_of
from recommender.ranking.slots import SLOT_STRATEGIES, SLOT_STRATEGY
from recommender.stories.assigner import StoryAssigner
from recommender.stories.clustering import StoriesSoFar, StoryClustering, cluster_stream
from recommender.stories.store import founded_by
from recommender.system import build_recommender, open_index
from tests.recommender.stories import test_stories
from tests.recommender.stories.test_stories import (
    CLUSTERING,
    VOCABULARY,
    Open,
    _article,
    _story,
    _story_id,
)

open_stories = test_stories.open_stories  # the fixture, shared


def _bridged(open_stories: Open, clustering: StoryClustering = CLUSTERING):
    index, recommender = open_stories(clustering=replace(clustering, merge_margin=0.0))
    index.upsert(_story("harbour", 2) + _story("quake", 2, first_day=2))
    words = VOCABULARY["harbour"] + VOCABULARY["quake"]
    index.upsert([_article("bridge", words, seed=7, published="2024-03-10T10:00:00Z")])
    return index, recommender


def test_deleting_the_article_that_bridged_two_stories_splits_them(open_stories: Open) -> None:
    index, _ = _bridged(open_stories)
    merged = _story_id(index, "bridge")
    assert {_story_id(index, i) for i in ("harbour-0", "quake-1")} == {merged}

    index.delete(["bridge"])

    harbour = {_story_id(index, i) for i in ("harbour-0", "harbour-1")}
    quake = {_story_id(index, i) for i in ("quake-0", "quake-1")}
    assert len(harbour) == len(quake) == 1 and harbour != quake
    # One part keeps the merged story's id; the other is named after its oldest article.
    assert merged in harbour | quake
    assert (harbour | quake) - {merged} <= {founded_by("harbour-0"), founded_by("quake-0")}
    assert index.store.stories.pending() == []


def test_deleting_an_ordinary_member_leaves_the_story_whole(open_stories: Open) -> None:
    index, _ = open_stories()
    index.upsert(_story("harbour", 4) + _story("quake", 2, first_day=2))
    story = _story_id(index, "harbour-0")

    index.delete(["harbour-2"])

    assert {_story_id(index, f"harbour-{n}") for n in (0, 1, 3)} == {story}


def test_an_editorial_story_is_never_split(open_stories: Open) -> None:
    index, _ = open_stories()
    corpus = _story("harbour", 2) + _story("quake", 2, first_day=2)
    index.upsert([replace(a, story="desk") for a in corpus])
    words = VOCABULARY["harbour"] + VOCABULARY["quake"]
    index.upsert([_article("bridge", words, seed=7, published="2024-03-10T10:00:00Z")])

    index.delete(["bridge"])

    assert {_story_id(index, a.id) for a in corpus} == {"desk"}


def test_with_support_one_bridging_member_no_longer_pulls_an_article_in(
    open_stories: Open,
) -> None:
    # quake-0 joins the harbour story through the bridge alone (its only link there).
    words = VOCABULARY["harbour"] + VOCABULARY["quake"]
    bridge = _article("bridge", words, seed=7, published="2024-03-05T10:00:00Z")
    late_quake = _story("quake", 1, first_day=20)

    # The centroid guard off: the support alone is measured here.
    unguarded = replace(CLUSTERING, merge_margin=3.0, centroid_floor=-1.0)
    single, _ = open_stories("single", clustering=unguarded)
    single.upsert(_story("harbour", 3))
    single.upsert([bridge])
    single.upsert(late_quake)
    supported, _ = open_stories("supported", clustering=replace(unguarded, support=2))
    supported.upsert(_story("harbour", 3))
    supported.upsert([bridge])
    supported.upsert(late_quake)

    assert _story_id(single, "bridge") == _story_id(single, "harbour-0")
    assert _story_id(single, "quake-0") == _story_id(single, "harbour-0")
    assert _story_id(supported, "quake-0") == founded_by("quake-0")
    with pytest.raises(ValueError, match="support"):
        StoryClustering(support=0)
    with pytest.raises(ValueError, match="support"):
        StoryClustering(support=2, support_from_size=0)


@pytest.mark.parametrize(("from_size", "pulled_in"), [(4, False), (5, True)])
def test_support_applies_only_to_stories_of_its_size(
    open_stories: Open, from_size: int, pulled_in: bool
) -> None:
    # When quake-0 arrives the harbour story holds 4 articles (3 and the bridge): from size
    # 4 it needs a 2nd linked member and opens its own story; from size 5 the best one does.
    words = VOCABULARY["harbour"] + VOCABULARY["quake"]
    clustering = replace(
        CLUSTERING, merge_margin=3.0, support=2, support_from_size=from_size, centroid_floor=-1.0
    )
    index, _ = open_stories(clustering=clustering)
    index.upsert(_story("harbour", 3))
    index.upsert([_article("bridge", words, seed=7, published="2024-03-05T10:00:00Z")])
    index.upsert(_story("quake", 1, first_day=20))

    assert _story_id(index, "bridge") == _story_id(index, "harbour-0")
    joined = _story_id(index, "quake-0") == _story_id(index, "harbour-0")
    assert joined is pulled_in


@pytest.mark.parametrize(
    ("floor", "from_size", "pulled_in"),
    [(-1.0, 4, True), (0.5, 4, False), (0.5, 6, False), (0.5, 7, True)],
)
def test_a_large_story_is_joined_only_near_its_centroid(
    open_stories: Open, floor: float, from_size: int, pulled_in: bool
) -> None:
    # quake-0 links to the harbour story (6 articles: 5 and the bridge) through the bridge
    # alone; it is far from the story's centroid, so the guard (up to size 6) keeps it out.
    words = VOCABULARY["harbour"] + VOCABULARY["quake"]
    clustering = replace(
        CLUSTERING, merge_margin=3.0, centroid_floor=floor, centroid_from_size=from_size
    )
    index, _ = open_stories(clustering=clustering)
    index.upsert(_story("harbour", 3))
    index.upsert([_article("bridge", words, seed=7, published="2024-03-05T10:00:00Z")])
    index.upsert(_story("harbour", 5)[3:])  # harbour-3, -4: near the centroid, they join
    index.upsert(_story("quake", 1, first_day=20))

    harbour = _story_id(index, "harbour-0")
    assert {_story_id(index, i) for i in ("bridge", "harbour-3", "harbour-4")} == {harbour}
    assert (_story_id(index, "quake-0") == harbour) is pulled_in
    with pytest.raises(ValueError, match="centroid"):
        StoryClustering(centroid_floor=1.5)


@pytest.mark.parametrize("floor", [-1.0, 0.5])
def test_recluster_gives_what_a_stream_in_date_order_gave_with_the_guard(
    open_stories: Open, floor: float
) -> None:
    # Guarded, the stream keeps the quake story out of the harbour story the bridge is in
    # (unguarded, it pulls it in); a recluster reads the centroids afresh and must agree.
    clustering = replace(CLUSTERING, merge_margin=3.0, centroid_floor=floor)
    index, recommender = open_stories(clustering=clustering)
    words = VOCABULARY["harbour"] + VOCABULARY["quake"]
    bridge = _article("bridge", words, seed=7, published="2024-03-04T10:00:00Z")
    corpus = sorted(
        [*_story("harbour", 5), bridge, *_story("quake", 3, first_day=20)],
        key=lambda article: article.published or "",
    )
    for article in corpus:  # one write each, as a newsroom publishes
        index.upsert([article])
    streamed = {article.id: _story_id(index, article.id) for article in corpus}
    assert (streamed["quake-0"] == streamed["harbour-0"]) is (floor == -1.0)

    StoryAssigner(recommender, clustering).recluster()

    assert {article.id: _story_id(index, article.id) for article in corpus} == streamed


def test_the_evaluation_clusters_as_the_index_does_with_the_guard(open_stories: Open) -> None:
    # `newsrec eval stories` clusters the candidates computed once (cluster_stream); with
    # the index's vectors it keeps quake-0 out of the harbour story, as the writes did.
    from eval.quality.story_index import candidate_neighbours, date_order

    words = VOCABULARY["harbour"] + VOCABULARY["quake"]
    index, _ = open_stories(clustering=replace(CLUSTERING, merge_margin=3.0))
    index.upsert(_story("harbour", 3))
    index.upsert([_article("bridge", words, seed=7, published="2024-03-05T10:00:00Z")])
    index.upsert(_story("harbour", 5)[3:] + _story("quake", 1, first_day=20))
    assigner = index.story_assigner
    assert assigner is not None
    rows = date_order(index)
    names = {row: s.id for row, s in index.summaries_by_row_id(rows).items()}
    found = candidate_neighbours(assigner, rows, names, lambda *_: None)

    guarded = cluster_stream(rows, names, found, assigner.clustering, index.vectors_of)
    unguarded = cluster_stream(rows, names, found, assigner.clustering)  # no vectors: off

    by_id = {names[row]: row for row in rows}
    written = {names[row]: _story_id(index, names[row]) for row in rows}
    assert _story_id(index, "quake-0") != _story_id(index, "harbour-0")
    for first, second in itertools.combinations(sorted(by_id), 2):
        together = guarded[by_id[first]] == guarded[by_id[second]]
        assert together is (written[first] == written[second])
    assert unguarded[by_id["quake-0"]] == unguarded[by_id["harbour-0"]]


def test_the_centroid_kept_in_step_equals_the_one_read_afresh() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(6, 8))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    reads: list[list[int]] = []

    def vectors_of(rows: np.ndarray) -> np.ndarray:
        reads.append([int(r) for r in rows])
        return vectors[rows]

    state = StoriesSoFar(vectors_of=vectors_of)
    for row in (0, 1):
        state.join(row, "a", vectors[row])
    state.join(2, "b", vectors[2])
    query = vectors[5]
    state.centroid_cosine("a", query)  # read once: rows 0 and 1
    state.join(3, "a", vectors[3])  # kept in step, not read again
    state.centroid_cosine("b", query)
    state.fold("b", "a")  # a's sum and b's added
    state.join(4, "a")  # without its vector: dropped, read afresh when next needed
    kept = state.centroid_cosine("a", query)

    centroid = vectors[:5].sum(axis=0)
    assert kept == pytest.approx(float(query @ centroid / np.linalg.norm(centroid)))
    assert reads == [[0, 1], [2], [0, 1, 2, 3, 4]]


def test_the_story_settings_reach_the_clustering(tmp_path: Path) -> None:
    from recommender.system import build_story_assigner

    settings = Settings(
        embedder="hashing",
        index_dir=tmp_path / "index",
        story_support=3,
        story_support_from_size=6,
        story_time_boost=0.5,
        story_time_decay_days=365.0,
    )
    with open_index(settings, writable=True) as index:
        clustering = build_story_assigner(settings, index).clustering
    assert (clustering.support, clustering.support_from_size) == (3, 6)
    assert (clustering.time_boost, clustering.time_decay_days) == (0.5, 365.0)
    assert (clustering.centroid_floor, clustering.centroid_from_size) == (0.5, 4)
    assert (Settings(embedder="hashing").story_support, StoryClustering().support) == (1, 1)
    with pytest.raises(ValidationError):
        Settings(story_support=0)
    with pytest.raises(ValidationError):
        Settings(story_time_decay_days=0)


@pytest.mark.parametrize("name", ["story_time_boost", "time_boost"])
def test_an_infinite_time_boost_is_refused(name: str) -> None:
    # (1 + inf x closeness) / (1 + inf) is NaN: every dated story link or score would be lost.
    with pytest.raises(ValidationError, match="finite number"):
        Settings(**{name: float("inf")})


@pytest.mark.parametrize("strategy", SLOT_STRATEGIES)
def test_every_slot_strategy_stays_on_its_side_of_the_date(
    open_stories: Open, strategy: str
) -> None:
    index, recommender = open_stories()
    harbour = _story("harbour", 5)  # days 1, 3, 5, 7, 9
    index.upsert(harbour + _story("quake", 3, first_day=4))
    live = Recommender(
        index, recommender.ranking, list_depth=0, slot_floor=0.3, slot_strategy=strategy
    )

    for article in harbour:
        found = live.slots(article.id)
        if found.previous is not None:
            assert found.previous.published < article.published
        if found.next is not None:
            assert found.next.published > article.published
    middle = live.slots("harbour-2")
    assert middle.previous is not None and middle.previous.id.startswith("harbour")
    assert middle.next is not None and middle.next.id.startswith("harbour")


def test_story_strategies_pick_by_time_or_by_relevance(open_stories: Open) -> None:
    index, recommender = open_stories()
    index.upsert(_story("harbour", 6))  # days 1, 3, ..., 11
    picks = {}
    for strategy in SLOT_STRATEGIES:
        live = Recommender(index, recommender.ranking, list_depth=0, slot_strategy=strategy)
        found = live.slots("harbour-0")
        picks[strategy] = found.next.id if found.next is not None else None
    assert picks["story-nearest"] == "harbour-1"
    # By relevance: the best scored later member, whatever its date.
    scores = {item.id: item.score for item in recommender.related("harbour-0", k=5)}
    assert picks["story-related"] == max(scores, key=scores.__getitem__)
    assert picks["related"] == max(scores, key=scores.__getitem__)
    # Among the most related (all five here), the nearest in time.
    assert picks["related-in-story"] == "harbour-1"
    with pytest.raises(ValueError, match="slot strategy"):
        Recommender(index, slot_strategy="newest")


@pytest.mark.slow
@pytest.mark.parametrize("strategy", SLOT_STRATEGIES)
def test_a_new_member_drops_every_stored_slot_it_changes(open_stories: Open, strategy: str) -> None:
    index, recommender = open_stories(strategy=strategy)
    index.upsert(_story("harbour", 4, step=4) + _story("quake", 2, first_day=2))
    live = Recommender(
        index, recommender.ranking, list_depth=0, slot_floor=0.3, slot_strategy=strategy
    )
    # New members in between, before and after, one write each (as a newsroom publishes).
    for day, seed in ((3, 11), (15, 12), (7, 13), (28, 14)):
        store_lists_of(recommender, index.catalog.row_ids.tolist())
        published = f"2024-03-{day:02d}T12:00:00Z"
        index.upsert([_article(f"harbour-x{day}", VOCABULARY["harbour"], seed, published)])
        # Before any refresh: a stored list is either dropped or still right.
        for article_id in _ids(index):
            stored = recommender.stored_slots(article_id)
            if stored is not None:
                assert _pair(stored) == _pair(live.slots(article_id)), (day, article_id)


def _ids(index) -> list[str]:
    rows = index.catalog.row_ids.tolist()
    return [summary.id for summary in index.store.summaries_by_row_id(rows).values()]


def _pair(slots) -> tuple[str | None, str | None]:
    return tuple(item.id if item is not None else None for item in (slots.previous, slots.next))


def test_the_slot_strategy_setting_reaches_the_recommender(tmp_path: Path) -> None:
    field = Settings.model_fields["slot_strategy"]
    assert set(get_args(field.annotation)) == set(SLOT_STRATEGIES)
    assert field.default == SLOT_STRATEGY
    settings = Settings(index_dir=tmp_path, embedder="hashing", slot_strategy="story-nearest")
    with open_index(settings, writable=True) as index:
        assert build_recommender(settings, index).slot_strategy == "story-nearest"
    with pytest.raises(ValidationError):
        Settings(slot_strategy="nearest")
