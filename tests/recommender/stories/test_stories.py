"""Story clustering, the story table, and slots from the story (hashing embedder)."""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from embeddings import HashingEmbedder
from eval.quality.story_scores import clustering_scores
from recommender import Article, ArticleIndex, Ranking, Recommender
from recommender.index.options import IndexOptions
from recommender.ranking.list_refresh import refresh_lists_after_write, store_lists_of
from recommender.ranking.slots import SLOT_STRATEGY
from recommender.stories.assigner import StoryAssigner
from recommender.stories.clustering import StoryClustering
from recommender.stories.lookup import StoryNotFoundError, story_members, story_of
from recommender.stories.store import founded_by

VOCABULARY = {
    name: [f"{name}{n}" for n in range(40)]
    for name in ("harbour", "quake", "vote", "tariff", "museum", "vaccine", "cup", "river")
}
# One threshold whatever an article's length (the dense and lexical sides alike).
CLUSTERING = StoryClustering(dense_threshold=0.3, lexical_threshold=0.3, merge_margin=0.2)


def _article(article_id: str, words: list[str], seed: int, published: str | None, **fields):
    rng = random.Random(seed)
    body = " ".join(rng.choice(words) for _ in range(60))
    return Article(
        id=article_id,
        title=" ".join(rng.sample(words, 5)),
        body=body,
        published=published,
        **fields,
    )


def _story(name: str, count: int, first_day: int = 1, step: int = 2) -> list[Article]:
    return [
        _article(
            f"{name}-{n}",
            VOCABULARY[name],
            seed=zlib.crc32(f"{name}-{n}".encode()),  # hash() of a str varies by process
            published=f"2024-03-{first_day + step * n:02d}T10:00:00Z",
        )
        for n in range(count)
    ]


Open = Callable[..., tuple[ArticleIndex, Recommender]]


@pytest.fixture
def open_stories(tmp_path: Path, embedder: HashingEmbedder) -> Iterator[Open]:
    """An index whose writes assign stories, and a recommender over it."""
    opened: list[ArticleIndex] = []

    def _open(
        name: str = "index",
        clustering: StoryClustering = CLUSTERING,
        strategy: str = SLOT_STRATEGY,
        **options,
    ):
        index = ArticleIndex.open(
            tmp_path / name, embedder, writable=True, options=IndexOptions(**options)
        )
        opened.append(index)
        recommender = Recommender(
            index, Ranking(time_boost=0.0), slot_floor=0.3, slot_strategy=strategy
        )
        index.story_assigner = StoryAssigner(recommender, clustering)
        return index, recommender

    yield _open
    for index in opened:
        index.close()


def _partition(index: ArticleIndex) -> set[frozenset[str]]:
    rows = index.store.stories.all_rows()
    summaries = index.store.summaries_by_row_id(list(rows))
    groups: dict[str, set[str]] = {}
    for row_id, (story, _) in rows.items():
        groups.setdefault(story, set()).add(summaries[row_id].id)
    return {frozenset(group) for group in groups.values()}


def _story_id(index: ArticleIndex, article_id: str) -> str:
    row_id = index.row_id(article_id)
    return index.store.stories.stories_of([row_id])[row_id]


def test_articles_of_one_story_share_it_and_unrelated_ones_stand_alone(open_stories: Open) -> None:
    index, _ = open_stories()
    corpus = _story("harbour", 4) + _story("quake", 3) + _story("vote", 1) + _story("cup", 1)
    index.upsert(corpus)

    assert _partition(index) == {
        frozenset(a.id for a in corpus if a.id.startswith(name))
        for name in ("harbour", "quake", "vote", "cup")
    }
    # Named after the article that opened them: the oldest.
    assert _story_id(index, "quake-2") == founded_by("quake-0")
    assert index.store.stories.pending() == []


def test_an_editorial_story_wins_and_is_never_moved(open_stories: Open) -> None:
    index, _ = open_stories()
    harbour = _story("harbour", 4)
    harbour[1] = replace(harbour[1], story="desk-harbour")
    harbour[3] = replace(harbour[3], story="desk-other")  # the editor says: another story
    index.upsert(harbour)

    assert _story_id(index, "harbour-1") == "desk-harbour"
    assert _story_id(index, "harbour-3") == "desk-other"
    # The unlabelled ones join a story like any other (the editorial one counts).
    assert _story_id(index, "harbour-0") in {"desk-harbour", "desk-other", founded_by("harbour-0")}
    index.upsert([replace(harbour[3], story=None)])  # the editor withdraws it: clustered again
    assert _story_id(index, "harbour-3") != "desk-other"


def test_a_delete_leaves_the_rest_of_its_story_under_the_same_id(open_stories: Open) -> None:
    index, _ = open_stories()
    index.upsert(_story("harbour", 3) + _story("quake", 2))
    story = _story_id(index, "harbour-1")

    index.delete(["harbour-0"])

    assert _story_id(index, "harbour-1") == _story_id(index, "harbour-2") == story
    assert len(index.store.stories.all_rows()) == 4
    assert [m.id for m in index.store.stories.members(story)] == ["harbour-1", "harbour-2"]


def test_a_text_change_assigns_the_article_afresh(open_stories: Open) -> None:
    index, _ = open_stories()
    quake = _story("quake", 3)
    index.upsert(_story("harbour", 3) + quake)

    moved = _article("harbour-2", VOCABULARY["quake"], seed=99, published="2024-03-20T10:00:00Z")
    index.upsert([moved])

    assert _story_id(index, "harbour-2") == _story_id(index, "quake-0")
    assert _story_id(index, "harbour-0") == founded_by("harbour-0")


def test_an_article_bridging_two_stories_merges_them(open_stories: Open) -> None:
    index, _ = open_stories(clustering=replace(CLUSTERING, merge_margin=0.0))
    index.upsert(_story("harbour", 2) + _story("quake", 2, first_day=2))
    assert _story_id(index, "harbour-0") != _story_id(index, "quake-0")
    words = VOCABULARY["harbour"] + VOCABULARY["quake"]
    index.upsert([_article("bridge", words, seed=7, published="2024-03-10T10:00:00Z")])

    merged = {_story_id(index, i) for i in ("harbour-0", "harbour-1", "quake-0", "quake-1")}
    assert merged == {_story_id(index, "bridge")}


def test_without_merging_a_bridge_joins_one_story(open_stories: Open) -> None:
    index, _ = open_stories(clustering=replace(CLUSTERING, merge_margin=3.0))
    index.upsert(_story("harbour", 2) + _story("quake", 2, first_day=2))
    words = VOCABULARY["harbour"] + VOCABULARY["quake"]
    index.upsert([_article("bridge", words, seed=7, published="2024-03-10T10:00:00Z")])

    assert _story_id(index, "harbour-0") != _story_id(index, "quake-0")
    assert _story_id(index, "bridge") in {
        _story_id(index, "harbour-0"),
        _story_id(index, "quake-0"),
    }


def test_recluster_gives_what_a_stream_in_date_order_gave(open_stories: Open) -> None:
    index, recommender = open_stories()
    corpus = sorted(
        _story("harbour", 5) + _story("quake", 4, first_day=2) + _story("vote", 2, first_day=3),
        key=lambda a: a.published or "",
    )
    for article in corpus:  # one write each, as a newsroom publishes
        index.upsert([article])
    streamed = {a.id: _story_id(index, a.id) for a in corpus}

    StoryAssigner(recommender, CLUSTERING).recluster()

    assert {a.id: _story_id(index, a.id) for a in corpus} == streamed


def test_articles_left_pending_by_a_crash_are_assigned_by_the_next_write(
    open_stories: Open,
) -> None:
    index, _ = open_stories()
    assigner, index.story_assigner = index.story_assigner, None  # dies before assigning
    index.upsert(_story("harbour", 3))
    assert len(index.store.stories.pending()) == 3
    summaries = index.store.summaries_by_row_id([index.row_id("harbour-1")])
    assert next(iter(summaries.values())).story == founded_by("harbour-1")  # its own, meanwhile

    index.story_assigner = assigner
    index.upsert(_story("quake", 1))

    assert index.store.stories.pending() == []
    assert len({_story_id(index, f"harbour-{n}") for n in range(3)}) == 1


def test_slots_are_the_nearest_story_articles_in_time(open_stories: Open) -> None:
    index, recommender = open_stories(strategy="story-nearest")
    harbour = _story("harbour", 5)  # days 1, 3, 5, 7, 9
    index.upsert(harbour + _story("quake", 3, first_day=4))

    slots = recommender.slots("harbour-2")

    assert slots.previous is not None and slots.next is not None
    assert (slots.previous.id, slots.next.id) == ("harbour-1", "harbour-3")
    assert (slots.previous.kind, slots.next.kind) == ("story", "story")
    assert slots.previous.story == _story_id(index, "harbour-2")
    for article in harbour:  # never on the wrong side
        found = recommender.slots(article.id)
        if found.previous is not None:
            assert found.previous.published < article.published
        if found.next is not None:
            assert found.next.published > article.published


def test_a_side_without_story_articles_takes_related_only_above_the_floor(
    open_stories: Open,
) -> None:
    index, recommender = open_stories()
    index.upsert(_story("harbour", 2, first_day=10) + _story("quake", 2, first_day=1))

    first = recommender.slots("harbour-0")

    assert first.next is not None and first.next.id == "harbour-1"
    assert first.previous is None  # earlier there is only the unrelated quake story

    recommender.slot_floor = -1.0
    vars(recommender).pop("list_signature", None)
    assert recommender.slots("harbour-0").previous.kind == "related"


def test_stored_slots_follow_a_new_story_member(open_stories: Open) -> None:
    index, recommender = open_stories(strategy="story-nearest")
    index.upsert(_story("harbour", 3, step=4))  # days 1, 5, 9
    store_lists_of(recommender, index.catalog.row_ids.tolist())
    assert recommender.stored_slots("harbour-0").next.id == "harbour-1"

    between = _article("harbour-x", VOCABULARY["harbour"], seed=5, published="2024-03-03T10:00:00Z")
    index.upsert([between])
    refresh_lists_after_write(recommender, ["harbour-x"])

    assert recommender.slots("harbour-0").next.id == "harbour-x"
    stored = recommender.stored_slots("harbour-0")
    assert stored is None or stored.next.id == "harbour-x"
    assert recommender.slots("harbour-1").previous.id == "harbour-x"


def test_story_of_and_members_in_time_order(open_stories: Open) -> None:
    index, recommender = open_stories()
    corpus = [
        *_story("harbour", 3),
        _article("harbour-undated", VOCABULARY["harbour"], seed=3, published=None),
    ]
    index.upsert(corpus[::-1])

    story, members = story_of(recommender, "harbour-1")

    assert [m.id for m in members] == ["harbour-0", "harbour-1", "harbour-2", "harbour-undated"]
    assert [m.id for m in story_members(recommender, story)] == [m.id for m in members]
    with pytest.raises(StoryNotFoundError):
        story_members(recommender, "no-such-story")


def test_the_join_threshold_follows_the_blend_of_each_article() -> None:
    clustering = StoryClustering(dense_threshold=0.6, lexical_threshold=0.2, merge_margin=0.1)
    assert clustering.thresholds(1.0) == pytest.approx((0.6, 0.7))
    assert clustering.thresholds(0.0) == pytest.approx((0.2, 0.3))
    assert clustering.thresholds(0.25) == pytest.approx((0.3, 0.4))
    with pytest.raises(ValueError, match="merge_margin"):
        StoryClustering(merge_margin=-0.1)


def test_clustering_scores_by_hand() -> None:
    gold = ["a", "a", "a", "b", "b", "c"]
    predicted = [1, 1, 2, 2, 2, 3]
    found = clustering_scores(gold, predicted)
    # Pairs together in both: (0,1), (3,4) = 2; predicted pairs 1 + 3 = 4; gold pairs 3 + 1 = 4.
    assert found["pair_precision"] == pytest.approx(0.5)
    assert found["pair_recall"] == pytest.approx(0.5)
    # BCubed precision: items 0,1: 1; item 2: 1/3; items 3,4: 2/3; item 5: 1 -> 14/3 / 6.
    assert found["bcubed_precision"] == pytest.approx(14 / 18)
    # BCubed recall: items 0,1: 2/3; item 2: 1/3; items 3,4: 1; item 5: 1 -> 14/3 / 6.
    assert found["bcubed_recall"] == pytest.approx(14 / 18)
    assert clustering_scores(gold, gold)["ari"] == pytest.approx(1.0)


def test_lists_ranked_while_pending_are_ranked_again_once_assigned(open_stories: Open) -> None:
    index, recommender = open_stories()
    assigner, index.story_assigner = index.story_assigner, None  # e.g. a store from before
    index.upsert(_story("harbour", 3, step=4))
    store_lists_of(recommender, index.catalog.row_ids.tolist())
    assert recommender.stored_slots("harbour-1").previous.kind == "related"

    index.story_assigner = assigner
    index.upsert(_story("quake", 1))  # any write assigns what is pending

    lists, signature = index.store.related_lists, recommender.list_signature
    for article_id in ("harbour-0", "harbour-1", "harbour-2"):  # every slot may change
        assert lists.get(index.row_id(article_id), signature) is None
    refresh_lists_after_write(recommender, ["quake-0"])

    slots = recommender.slots("harbour-1")
    assert (slots.previous.kind, slots.next.kind) == ("story", "story")
    stored = recommender.stored_slots("harbour-1")
    assert stored is None or stored.previous.kind == "story"
