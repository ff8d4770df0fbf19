"""The calibrated relevance floor: its estimate, and what it does to related lists."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from recommender import Article, ArticleIndex
from recommender.ranking.list_refresh import owners_to_rank, store_lists_of
from recommender.ranking.query import RelatedFilters
from recommender.ranking.recommender import Recommender
from recommender.ranking.relevance_floor import (
    FLOOR_FILE,
    NEIGHBOUR_GUARD,
    RelevanceFloor,
    calibrate,
    floors_from_null,
    length_bounds,
    length_class,
    load_floor,
    sampled_pairs,
    save_floor,
)
from tests.conftest import make_article

STORY_SIZE = 12
FAMILIES = 10
FAMILY_SIZE = 30
ONE_IN = 100


# -- the estimate on known distributions -----------------------------------------------------


def test_floors_are_the_null_quantile_of_each_class() -> None:
    rng = np.random.default_rng(0)
    uniform = rng.uniform(0.0, 1.0, 200_000)
    normal = rng.normal(0.2, 0.1, 200_000)
    scores = np.concatenate([uniform, normal])
    classes = np.repeat([0, 1], 200_000)
    floors, pairs = floors_from_null(scores, classes, 2, one_in=1000)
    assert pairs == (200_000, 200_000)
    assert floors[0] == pytest.approx(0.999, abs=0.001)
    assert floors[1] == pytest.approx(0.2 + 0.1 * norm.ppf(0.999), abs=0.01)
    # Fewer than 1 in 1,000 of each class clears its floor.
    assert (uniform > floors[0]).mean() <= 0.001
    assert (normal > floors[1]).mean() <= 0.001


def test_a_class_too_small_for_its_quantile_takes_the_pooled_floor() -> None:
    rng = np.random.default_rng(1)
    scores = np.concatenate([rng.normal(0.0, 0.1, 50_000), rng.normal(0.5, 0.1, 500)])
    classes = np.concatenate([np.zeros(50_000, int), np.ones(500, int)])
    floors, pairs = floors_from_null(scores, classes, 3, one_in=1000)
    pooled = float(np.quantile(scores, 0.999, method="higher"))
    assert pairs == (50_000, 0, 0)
    assert floors[1] == floors[2] == pooled != floors[0]
    # Enough pairs but from too few queries (a query's pairs are alike): pooled too.
    queries = np.concatenate([np.arange(50_000) % 5, np.arange(500)])
    floors, pairs = floors_from_null(scores, classes, 3, one_in=1000, queries=queries)
    assert pairs == (0, 0, 0) and floors == (pooled, pooled, pooled)


def test_length_classes_follow_the_blend() -> None:
    bounds = length_bounds(32, 128)
    assert bounds == (32, 64, 127)
    assert length_class(np.asarray([1, 32, 33, 64, 65, 127, 128, 5000]), bounds).tolist() == [
        0,
        0,
        1,
        1,
        2,
        2,
        3,
        3,
    ]


@pytest.mark.slow
def test_calibrate_samples_a_bounded_number_of_pairs_without_self_pairs() -> None:
    terms = np.full(5000, 20)
    pairs = sampled_pairs(terms, (32, 64, 127), queries_per_class=50, candidates_per_query=40)
    assert len(pairs) == 50 and all(len(candidates) == 40 for _, candidates in pairs)
    assert all(query not in candidates for query, candidates in pairs)
    # A uniform scorer: the floor is its (1 - 1/one_in) quantile.
    rng = np.random.default_rng(2)
    table = rng.uniform(0.0, 1.0, (5000, 5000)).astype(np.float32)
    row_ids = np.arange(5000) + 7  # row ids need not be positions

    def scorer(row_id: int, candidates: np.ndarray) -> np.ndarray:
        return table[row_id - 7, candidates - 7]

    floor = calibrate(row_ids, terms, scorer, one_in=100, bounds=(32, 64, 127), ranking="r")
    assert floor.pairs[0] == 120 * 256 and floor.pairs[1:] == (0, 0, 0)
    assert floor.floor_for(20) == pytest.approx(0.99, abs=0.003)
    assert floor.articles == 5000


def test_the_guard_keeps_a_query_s_story_out_of_its_null() -> None:
    """20 stories of 20 articles: 1 pair in 21 is of one story (scores near 0.8), far more
    than 1 in 100, so the unguarded floor lands on the stories' own scores."""
    rng = np.random.default_rng(5)
    story = np.repeat(np.arange(20), 20)
    table = rng.normal(0.0, 0.1, (400, 400))
    same = story[:, None] == story[None, :]
    table[same] = rng.normal(0.8, 0.05, int(same.sum()))
    row_ids, terms = np.arange(400), np.full(400, 20)

    def scorer(row_id: int, candidates: np.ndarray) -> np.ndarray:
        return table[row_id, candidates]

    def guard(queried: np.ndarray) -> np.ndarray:
        others = np.where(np.eye(400, dtype=bool)[queried], -np.inf, table[queried])
        return np.sort(others, axis=1)[:, -NEIGHBOUR_GUARD]

    bounds = (32, 64, 127)
    unguarded = calibrate(row_ids, terms, scorer, one_in=100, bounds=bounds, ranking="r")
    guarded = calibrate(row_ids, terms, scorer, guard=guard, one_in=100, bounds=bounds, ranking="r")
    assert unguarded.floor_for(20) > 0.6
    unrelated = table[~same]
    assert guarded.floor_for(20) == pytest.approx(np.quantile(unrelated, 0.99), abs=0.05)


def test_a_kept_floor_round_trips_and_expires_with_the_index(tmp_path: Path) -> None:
    floor = RelevanceFloor(100, (32, 64, 127), (0.4, 0.3, 0.2, 0.1), (9, 9, 0, 0), 1000, "r")
    save_floor(tmp_path, floor)
    assert load_floor(tmp_path) == floor
    assert floor.fits(100, 1100, "r") and floor.fits(100, 900, "r")
    assert not floor.fits(100, 1101, "r")  # grew by more than a tenth
    assert not floor.fits(1000, 1000, "r") and not floor.fits(100, 1000, "other ranking")
    (tmp_path / FLOOR_FILE).write_text("{not json", encoding="utf-8")
    assert load_floor(tmp_path) is None


# -- related lists under the floor ------------------------------------------------------------


def _words(rng: np.random.Generator, count: int) -> list[str]:
    syllables = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "pe", "su", "do", "ga"]
    return ["".join(rng.choice(syllables, 4)) for _ in range(count)]


def floor_corpus() -> list[Article]:
    """As in a news archive: one story of STORY_SIZE articles sharing most of their words;
    FAMILIES topics of FAMILY_SIZE articles sharing a few (the articles of a beat, loosely
    alike); and the one-off 'lonely', of words of its own."""
    rng = np.random.default_rng(3)
    story_words = _words(rng, 15)
    articles = [
        make_article(
            f"story-{n}",
            f"Harbour dispute {story_words[n]}",
            " ".join(rng.permutation(story_words + _words(rng, 8))),
        )
        for n in range(STORY_SIZE)
    ]
    for family in range(FAMILIES):
        beat = _words(rng, 10)
        articles += [
            make_article(
                f"other-{family}-{n}",
                " ".join(_words(rng, 3)),
                " ".join(
                    rng.permutation(list(rng.choice(beat, 6, replace=False)) + _words(rng, 14))
                ),
            )
            for n in range(FAMILY_SIZE)
        ]
    articles.append(make_article("lonely", " ".join(_words(rng, 3)), " ".join(_words(rng, 20))))
    return articles


@pytest.fixture
def floor_index(open_test_index: Callable[..., ArticleIndex]) -> ArticleIndex:
    index = open_test_index()
    index.upsert(floor_corpus())
    index.save()
    return index


def test_a_one_off_gets_fewer_items_and_says_how_many_were_withheld(
    floor_index: ArticleIndex,
) -> None:
    off = Recommender(floor_index, list_depth=0).related_results(["lonely"], 10)["lonely"]
    assert len(off.items) == 10 and off.withheld == 0
    on = Recommender(floor_index, list_depth=0, calibrated_floor=True, floor_one_in=ONE_IN)
    found = on.related_results(["lonely"], 10)["lonely"]
    assert len(found.items) < 10 and found.withheld == 10 - len(found.items) > 0
    terms = floor_index.lexical.query_of(floor_index.row_id("lonely")).nnz
    floor = on.relevance_floor().floor_for(terms)
    assert all(item.score >= floor for item in found.items)
    # What is shown is the unfloored list without what fell under the floor, in its order
    # (the floor reads the blended score, the list's order adds the neighbour bonus).
    shown = [item.id for item in found.items]
    assert shown == [item.id for item in off.items if item.id in set(shown)]
    blended = on.pair_scores(
        floor_index.row_id("lonely"),
        np.asarray([floor_index.row_id(item.id) for item in off.items]),
    )
    assert shown == [
        item.id for item, score in zip(off.items, blended, strict=True) if score >= floor
    ]


def test_exactly_k_items_when_k_clear_the_floor(floor_index: ArticleIndex) -> None:
    on = Recommender(floor_index, list_depth=0, calibrated_floor=True, floor_one_in=ONE_IN)
    found = on.related_results(["story-0"], 10)["story-0"]
    assert len(found.items) == 10 and found.withheld == 0
    assert all(item.id.startswith("story-") for item in found.items)
    # Past the story, the floor holds back the rest of a deeper list.
    deeper = on.related_results(["story-0"], 30)["story-0"]
    assert len(deeper.items) == STORY_SIZE - 1 + sum(
        not item.id.startswith("story-") for item in deeper.items
    )
    assert deeper.withheld == 30 - len(deeper.items) > 0


def test_the_request_overrides_the_default_and_min_score_counts_as_withheld(
    floor_index: ArticleIndex,
) -> None:
    off = Recommender(floor_index, list_depth=0)
    asked = off.related_results(["lonely"], 10, RelatedFilters(calibrated_floor=True))["lonely"]
    assert asked.withheld > 0
    on = Recommender(floor_index, list_depth=0, calibrated_floor=True)
    declined = on.related_results(["lonely"], 10, RelatedFilters(calibrated_floor=False))
    assert declined["lonely"].withheld == 0 and len(declined["lonely"].items) == 10
    scores = [item.score for item in declined["lonely"].items]
    by_score = off.related_results(["lonely"], 10, RelatedFilters(min_score=scores[4]))["lonely"]
    reaching = sum(score >= scores[4] for score in scores)  # 5, or more on a tie
    assert len(by_score.items) == reaching and by_score.withheld == 10 - reaching > 0


@pytest.mark.slow
def test_stored_lists_and_live_ranking_agree_under_the_floor(floor_index: ArticleIndex) -> None:
    stored = Recommender(floor_index, calibrated_floor=True, floor_one_in=ONE_IN)
    store_lists_of(stored, owners_to_rank(stored))
    live = Recommender(floor_index, list_depth=0, calibrated_floor=True, floor_one_in=ONE_IN)
    # The fast path (the service's event loop) never estimates: it leaves that to a ranking.
    assert stored.stored_related("lonely", 10) is None
    assert stored.related_results(["lonely"], 10)["lonely"].withheld > 0  # estimated here
    for article_id in ("lonely", "story-0", "other-3-3"):
        read = stored.stored_related(article_id, 10)
        assert read is not None  # answered from the stored list
        ranked = live.related_results([article_id], 10)[article_id]
        assert [item.id for item in read.items] == [item.id for item in ranked.items]
        assert read.withheld == ranked.withheld
    # A floor change needs no re-ranking: the same stored lists, read under another floor.
    strict = Recommender(floor_index, calibrated_floor=True, floor_one_in=10 * ONE_IN)
    assert strict.list_signature == stored.list_signature
    strict.relevance_floor()
    read = strict.stored_related("lonely", 10)
    assert (
        read is not None and read.withheld >= stored.related_results(["lonely"])["lonely"].withheld
    )


def test_the_floor_is_kept_with_the_index_and_estimated_again_when_it_grows(
    floor_index: ArticleIndex,
) -> None:
    recommender = Recommender(floor_index, calibrated_floor=True, floor_one_in=ONE_IN)
    first = recommender.relevance_floor()
    assert load_floor(floor_index.directory) == first
    assert first.articles == STORY_SIZE + FAMILIES * FAMILY_SIZE + 1
    rng = np.random.default_rng(4)
    floor_index.upsert([make_article(f"new-{n}", " ".join(_words(rng, 20))) for n in range(40)])
    again = Recommender(floor_index, calibrated_floor=True, floor_one_in=ONE_IN).relevance_floor()
    assert again.articles == first.articles + 40  # more than a tenth: estimated again
    assert load_floor(floor_index.directory) == again


def test_new_text_is_held_to_the_floor_too(floor_index: ArticleIndex) -> None:
    lonely = floor_index.article("lonely")
    off = Recommender(floor_index, list_depth=0)
    on = Recommender(floor_index, list_depth=0, calibrated_floor=True, floor_one_in=ONE_IN)
    assert len(off.related_to_text(lonely.title, lonely.body, k=10)) == 10
    floored = on.related_to_text(lonely.title, lonely.body, k=10)
    # Its own copy is a near-duplicate (left out); the rest is as for the stored article.
    stored = on.related_results(["lonely"], 10)["lonely"]
    assert [item.id for item in floored] == [item.id for item in stored.items]
    story = floor_index.article("story-0")
    assert len(on.related_to_text(story.title, story.body, k=10)) == 10


def test_an_index_too_small_for_the_guard_still_has_a_floor(
    open_test_index: Callable[..., ArticleIndex],
) -> None:
    index = open_test_index()
    index.upsert(floor_corpus()[:6])  # fewer articles than the guard's 20 neighbours
    found = Recommender(index, list_depth=0, calibrated_floor=True).related_results(
        ["story-0"], 10
    )["story-0"]
    assert len(found.items) + found.withheld == 5
    # Every pair is in the null (no guard): at 1 in 1,000 of 30 pairs the floor is their best.
    recommender = Recommender(index, calibrated_floor=True)
    rows = index.catalog.row_ids
    best = max(float(recommender.pair_scores(int(row), rows[rows != row]).max()) for row in rows)
    assert recommender.relevance_floor().floors == (best,) * 4
