"""Story clustering learned from a site's story labels (hashing embedder): kept only when
it beats the default on held-out stories, read back by the composition root."""

from __future__ import annotations

import json
import random
import zlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from eval.quality.story_scores import clustering_scores
from recommender import Article, ArticleIndex, InvalidInputError, Settings, open_index
from recommender.stories.assigner import StoryAssigner
from recommender.stories.clustering import StoryClustering, cluster_stream
from recommender.stories.profile import (
    StoryProfile,
    load_story_profile,
    save_story_profile,
    story_profile_path,
)
from recommender.stories.tuning import (
    ONE_OFF,
    StoryTuningResult,
    _date_order,
    _fold_of_stories,
    _read_vectors,
    _unscaled_candidates,
    _with_time_factor,
    bcubed_f1,
    bcubed_per_article,
    read_story_labels,
    story_grid,
    tune_stories,
)
from recommender.system import build_story_assigner

STORIES = 12


def _article(article_id: str, vocabulary: list[str], published: str) -> Article:
    rng = random.Random(zlib.crc32(article_id.encode()))  # hash() of a str varies by process
    return Article(
        id=article_id,
        title=" ".join(rng.sample(vocabulary, 5)),
        body=" ".join(rng.choice(vocabulary) for _ in range(50)),
        published=published,
    )


def year_apart_corpus(*, one_story_per_topic: bool) -> tuple[list[Article], dict[str, str]]:
    """12 topics, each with its own words: two articles in 2021 and two a year later.
    `one_story_per_topic`: the labels say each topic is one long-running story (a longer
    story time factor is right); else each year's pair is a story of its own (an annual
    event: the default's time factor is right)."""
    articles, labels = [], {}
    for topic in range(STORIES):
        name = f"topic{topic}x"
        vocabulary = [f"{name}{n}" for n in range(30)]
        for member in range(4):
            year = 2021 if member < 2 else 2022
            article_id = f"{name}-{member}"
            published = f"{year}-{topic + 1:02d}-{member % 2 * 3 + 1:02d}"
            articles.append(_article(article_id, vocabulary, published))
            labels[article_id] = name if one_story_per_topic else f"{name}-{year}"
    return articles, labels


def write_labels(path: Path, labels: dict[str, str]) -> Path:
    lines = [json.dumps({"id": article_id, "story": story}) for article_id, story in labels.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(index_dir=tmp_path / "index", embedder="hashing", tag_on_index=False)


@pytest.fixture
def long_running(settings: Settings) -> Iterator[tuple[ArticleIndex, dict[str, str]]]:
    articles, labels = year_apart_corpus(one_story_per_topic=True)
    with open_index(settings, writable=True) as index:
        index.upsert(articles)
        yield index, labels


def _same_story(index: ArticleIndex, first: str, second: str) -> bool:
    rows = [index.row_id(first), index.row_id(second)]
    stories = index.stories.stories_of(rows)
    return stories[rows[0]] == stories[rows[1]]


def test_a_long_running_story_is_learned_and_the_profile_joins_it(
    settings: Settings, long_running: tuple[ArticleIndex, dict[str, str]]
) -> None:
    index, labels = long_running
    # The default's time factor splits each topic by year.
    assert not _same_story(index, "topic3x-0", "topic3x-3")
    result = tune_stories(index, build_story_assigner(settings, index), labels)
    assert result.accepted
    assert result.held_out_tuned > result.held_out_default
    assert result.p_value < 0.05 and result.story_p_value < 0.05  # every story gains
    assert result.labelled == 4 * STORIES and result.stories == STORIES
    assert len(result.fold_choices) == result.folds == 5
    # A year apart still reads as one story under the chosen point.
    tuned = result.tuned
    factor = (1 + tuned.time_boost * np.exp(-365 / tuned.time_decay_days)) / (1 + tuned.time_boost)
    assert factor > (1 + np.exp(-365 / 180)) / 2
    save_story_profile(settings.index_dir, result.profile())
    assigner = build_story_assigner(settings, index)
    assert assigner.clustering == result.tuned
    assigner.recluster()
    assert _same_story(index, "topic3x-0", "topic3x-3")
    assert not _same_story(index, "topic3x-0", "topic4x-0")


def test_a_setting_given_explicitly_wins_over_the_profile(
    settings: Settings, long_running: tuple[ArticleIndex, dict[str, str]]
) -> None:
    index, _ = long_running
    profile = StoryProfile(
        {"story_time_boost": 0.0, "story_merge_margin": 0.05, "story_dense_threshold": 0.6}
    )
    save_story_profile(settings.index_dir, profile)
    assert build_story_assigner(settings, index).clustering.time_boost == 0.0
    explicit = settings.model_copy(update={"story_time_boost": 1.0})
    clustering = build_story_assigner(explicit, index).clustering
    assert clustering.time_boost == 1.0  # the setting named explicitly
    assert clustering.merge_margin == 0.05 and clustering.dense_threshold == 0.6  # the profile's
    # What tuning compares with: the settings alone.
    unprofiled = build_story_assigner(settings, index, use_profile=False).clustering
    assert unprofiled.time_boost == Settings().story_time_boost


def test_where_the_default_is_right_nothing_is_accepted(settings: Settings) -> None:
    articles, labels = year_apart_corpus(one_story_per_topic=False)
    with open_index(settings, writable=True) as index:
        index.upsert(articles)
        result = tune_stories(index, build_story_assigner(settings, index), labels)
    assert not result.accepted
    assert result.held_out_tuned <= result.held_out_default


def test_the_grid_clusters_as_recluster_does(
    settings: Settings, long_running: tuple[ArticleIndex, dict[str, str]]
) -> None:
    """The sweep's shortcut (candidates once, the time factor applied after) must give the
    stories the assigner itself writes at that point, time factor on and off."""
    index, _ = long_running
    default = build_story_assigner(settings, index)
    rows = _date_order(index)
    names = {row: s.id for row, s in index.summaries_by_row_id(rows).items()}
    unscaled, days = _unscaled_candidates(index, default, rows, names, lambda *_: None)
    partitions = []
    for point in (
        replace(default.clustering, time_boost=1.0, time_decay_days=90.0, merge_margin=0.0),
        replace(default.clustering, time_boost=0.0, dense_threshold=0.6),
    ):
        scaled = _with_time_factor(unscaled, days, point.time_boost, point.time_decay_days)
        swept = cluster_stream(rows, names, scaled, point, _read_vectors(index, rows))
        StoryAssigner(default.recommender, point).recluster(editorial=False)
        stored = index.stories.stories_of(rows)
        assert _partition(swept, names) == _partition(stored, names)
        partitions.append(_partition(swept, names))
    assert partitions[0] != partitions[1]  # the time factor told: the years apart or joined


def _partition(assigned: dict[int, str], names: dict[int, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for row, story in assigned.items():
        groups.setdefault(story, set()).add(names[row])
    return {frozenset(group) for group in groups.values()}


def test_per_article_bcubed_agrees_with_the_evaluation() -> None:
    rng = random.Random(3)
    gold = [f"g{rng.randint(0, 6)}" for _ in range(60)]
    predicted = [f"p{rng.randint(0, 9)}" for _ in range(60)]
    expected = clustering_scores(gold, predicted)["bcubed_f1"]
    assert bcubed_f1(bcubed_per_article(gold, predicted)) == pytest.approx(expected)
    assert bcubed_f1(bcubed_per_article(gold, gold)) == 1.0


def test_folds_keep_stories_whole_and_spread_singletons() -> None:
    gold = [f"s{n // 3}" for n in range(30)] + [f"alone{n}" for n in range(10)]
    fold_of = _fold_of_stories(gold, 5)
    for story in set(gold):
        assert len({fold_of[i] for i, g in enumerate(gold) if g == story}) == 1
    singles = [fold_of[i] for i, g in enumerate(gold) if g.startswith("alone")]
    assert sorted(set(singles)) == [0, 1, 2, 3, 4]


def test_the_grid_holds_the_default_first_and_each_point_once(settings: Settings) -> None:
    with open_index(settings, writable=True) as index:
        default = build_story_assigner(settings, index).clustering
    grid = story_grid(default)
    assert grid[0] == default
    assert len(grid) == len(set(grid)) == 1 + 9 * 4 * 3 * 4 - 1  # the default once
    # Without a boost the decay is moot: tried once, at the default's.
    assert {p.time_decay_days for p in grid if p.time_boost == 0} == {default.time_decay_days}


def test_too_few_labels_is_an_error(
    settings: Settings, long_running: tuple[ArticleIndex, dict[str, str]]
) -> None:
    index, labels = long_running
    few = dict(list(labels.items())[:6])
    with pytest.raises(InvalidInputError, match="at least"):
        tune_stories(index, build_story_assigner(settings, index), few)
    # All one-offs: no shared story to learn a merge from.
    alone = {article_id: ONE_OFF + article_id for article_id in labels}
    with pytest.raises(InvalidInputError, match=r"in 48 stories; .* one of them shared"):
        tune_stories(index, build_story_assigner(settings, index), alone)
    # Labels of another index: the message says none of them is indexed.
    elsewhere = {f"other-{article_id}": story for article_id, story in labels.items()}
    with pytest.raises(InvalidInputError, match=r"^0 labelled .*\(48 labels name ids not"):
        tune_stories(index, build_story_assigner(settings, index), elsewhere)


def test_label_files_are_read_and_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text(
        '{"id": "a", "story": "x", "title": "A"}\n\n{"id": "b"}\n{"id": "c", "story": "x"}\n'
        '{"id": "d", "story": null}\n{"id": "e", "story": null}\n'
    )
    # No `story` key: nothing known ("b"); null: a one-off, a story of its own each.
    assert read_story_labels(path) == {"a": "x", "c": "x", "d": ONE_OFF + "d", "e": ONE_OFF + "e"}
    path.write_text('{"id": "a", "story": 3}\n')
    with pytest.raises(InvalidInputError, match="must be a string"):
        read_story_labels(path)
    with pytest.raises(InvalidInputError, match="cannot read labels"):
        read_story_labels(tmp_path / "missing.jsonl")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not a story profile"),
        ('{"version": 1, "settings": {"warp": 2}}', "unknown settings"),
        ('{"version": 9, "settings": {}}', "version 9"),
        ('{"version": 1, "settings": {"story_time_boost": "x"}}', "must be a number"),
        ('{"version": 1}', "is not a story profile"),
    ],
)
def test_a_damaged_profile_is_an_error_not_the_default(
    tmp_path: Path, content: str, message: str
) -> None:
    save_story_profile(tmp_path, StoryProfile({"story_time_boost": 0.5}))
    assert load_story_profile(tmp_path) == StoryProfile({"story_time_boost": 0.5})
    story_profile_path(tmp_path).write_text(content)
    with pytest.raises(InvalidInputError, match=message) as raised:
        load_story_profile(tmp_path)
    assert "\n" not in str(raised.value)


def test_acceptance_asks_the_stories_not_the_articles(settings: Settings) -> None:
    """One story's articles rise and fall together: a gain that is significant over
    articles but not over stories (one long story merged) is not accepted."""
    default = StoryClustering()
    result = StoryTuningResult(
        default=default,
        tuned=replace(default, merge_margin=0.0),
        held_out_default=0.75,
        held_out_tuned=0.86,
        p_value=3e-7,
        story_p_value=0.61,
        article_f1_default=0.7,
        article_f1_tuned=0.8,
        labelled=99,
        stories=24,
        skipped_labels=0,
        folds=5,
        points=432,
    )
    assert not result.accepted
    assert replace(result, story_p_value=0.01).accepted
    assert result.profile().held_out["p_value"] == 0.61


def test_the_grid_clusters_undated_articles_as_recluster_does(settings: Settings) -> None:
    """An undated article has no time closeness (factor 1 / (1 + boost)) and is met last:
    the sweep must do the same as the assigner, on an index with a third undated."""
    articles, _ = year_apart_corpus(one_story_per_topic=True)
    undated = [
        Article(id=a.id, title=a.title, body=a.body, published=None if n % 3 == 0 else a.published)
        for n, a in enumerate(articles)
    ]
    with open_index(settings, writable=True) as index:
        index.upsert(undated)
        default = build_story_assigner(settings, index)
        rows = _date_order(index)
        names = {row: s.id for row, s in index.summaries_by_row_id(rows).items()}
        assert names[rows[-1]] in {a.id for a in undated if a.published is None}
        unscaled, days = _unscaled_candidates(index, default, rows, names, lambda *_: None)
        point = replace(default.clustering, time_boost=1.0, time_decay_days=90.0)
        scaled = _with_time_factor(unscaled, days, point.time_boost, point.time_decay_days)
        swept = cluster_stream(rows, names, scaled, point, _read_vectors(index, rows))
        StoryAssigner(default.recommender, point).recluster(editorial=False)
        assert _partition(swept, names) == _partition(index.stories.stories_of(rows), names)
        assert len(set(swept.values())) < len(rows)  # some joined: a partition that could differ
