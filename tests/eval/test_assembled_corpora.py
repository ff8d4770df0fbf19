"""eval/quality/assembled_corpora.py: the Wikinews articles joined with the labels in seeds/."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from eval.quality.assembled_corpora import (
    WIKINEWS_LABELS_FILE,
    main,
    read_jsonl,
    wikinews_labelled,
)
from recommender.topics.taxonomy import default_taxonomy
from tests.conftest import SHARED_DATA

WIKINEWS_FILE = SHARED_DATA / "wikinews" / "wikinews_2019_2020.jsonl.gz"


def _article(identifier: str) -> dict[str, object]:
    return {"id": identifier, "title": f"T {identifier}", "body": "B", "published": "2019-01-01"}


def test_each_article_takes_its_own_label() -> None:
    articles = [_article("a"), _article("b")]
    labels = [
        {"id": "b", "story": None, "topics": ["sport"], "section": "sport"},
        {"id": "a", "story": "s1", "topics": ["politics", "crime"], "section": "politics"},
    ]
    rows = wikinews_labelled(articles, labels)
    assert [(row["id"], row["story"], row["topics"], row["section"]) for row in rows] == [
        ("a", "s1", ["politics", "crime"], "politics"),
        ("b", None, ["sport"], "sport"),
    ]


def test_an_entry_with_no_topics_is_not_an_article_and_is_left_out() -> None:
    labels = [
        {"id": "a", "story": None, "topics": None, "section": None},
        {"id": "b", "story": None, "topics": ["sport"], "section": "sport"},
    ]
    assert [row["id"] for row in wikinews_labelled([_article("a"), _article("b")], labels)] == ["b"]


def _one_off(identifier: str) -> dict[str, object]:
    return {"id": identifier, "story": None, "topics": ["sport"], "section": "sport"}


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([_one_off("a")], "without a label: b"),
        (
            [_one_off("a"), _one_off("a")],
            "given twice: a",
        ),
        (
            [_one_off(label) for label in ("a", "b", "gone")],
            "not in Wikinews",
        ),
    ],
)
def test_a_label_file_out_of_step_with_the_data_is_refused(
    labels: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        wikinews_labelled([_article("a"), _article("b")], labels)


def test_the_label_file_is_well_formed() -> None:
    labels = [json.loads(line) for line in WIKINEWS_LABELS_FILE.read_text().splitlines()]
    taxonomy_labels = {topic.label for topic in default_taxonomy().topics}
    sections = {"politics", "business", "sport", "science-technology"}
    sections |= {"culture-entertainment", "world", "other"}
    story_sizes: dict[str, int] = {}
    for label in labels:
        assert set(label) == {"id", "story", "topics", "section"}
        if label["topics"] is None:  # not a news article: no story, no section either
            assert label["story"] is None and label["section"] is None
            continue
        assert 1 <= len(label["topics"]) <= 3
        assert len(set(label["topics"])) == len(label["topics"])
        assert set(label["topics"]) <= taxonomy_labels
        assert label["section"] in sections
        if label["story"] is not None:
            story_sizes[label["story"]] = story_sizes.get(label["story"], 0) + 1
    # A story is what two or more articles share; a one-off's story is null.
    assert min(story_sizes.values()) >= 2


@pytest.mark.shared
@pytest.mark.skipif(not WIKINEWS_FILE.exists(), reason="../shared/data/wikinews is not here")
def test_every_wikinews_article_has_exactly_one_label() -> None:
    rows = wikinews_labelled(read_jsonl(WIKINEWS_FILE), read_jsonl(WIKINEWS_LABELS_FILE))
    assert len(rows) == 293  # 295 entries, two of them Wikinews test pages
    assert all(row["title"] and row["body"] for row in rows)


def test_the_label_counts_seeds_readme_gives() -> None:
    """seeds/README.md and docs/relevance.md quote these counts of the 293 news articles
    (the two test pages have no story and no section: counting them once gave 196 / 96)."""
    labels = [json.loads(line) for line in WIKINEWS_LABELS_FILE.read_text().splitlines()]
    news = [label for label in labels if label["topics"] is not None]
    story_sizes = Counter(label["story"] for label in news if label["story"] is not None)
    assert (len(news), len(story_sizes), sum(story_sizes.values())) == (293, 24, 99)
    assert sum(label["story"] is None for label in news) == 194
    assert Counter(label["section"] for label in news) == {
        "politics": 103,
        "other": 94,
        "science-technology": 42,
        "world": 23,
        "culture-entertainment": 14,
        "sport": 12,
        "business": 5,
    }


def test_without_the_shared_data_the_script_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / "out"), "--shared", str(tmp_path / "absent")])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "absent" in error and error.count("\n") == 1
