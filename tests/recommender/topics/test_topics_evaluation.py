"""Evaluation metrics on hand-computed cases, and label mappings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recommender.errors import InvalidInputError
from recommender.topics import (
    WCEP_MAPPING,
    InvalidLabelMappingError,
    TopicAssignment,
    evaluate_assignments,
    load_label_mapping,
)
from recommender.topics.assignment import assignments_from_scores

LABELS = ("sport", "politics", "health", "environment", "society")


def _assign(rows: list[list[float]], threshold: float = 0.5) -> list[TopicAssignment]:
    return assignments_from_scores(np.asarray(rows), LABELS, {}, threshold)


def test_single_label_metrics_match_a_hand_count() -> None:
    assignments = _assign(
        [
            [0.9, 0.1, 0.0, 0.0, 0.0],  # sport
            [0.8, 0.3, 0.0, 0.0, 0.0],  # sport (gold politics)
            [0.1, 0.7, 0.0, 0.0, 0.0],  # politics
            [0.2, 0.6, 0.0, 0.0, 0.0],  # politics
        ]
    )
    gold = [["sport"], ["politics"], ["politics"], ["politics"]]

    report = evaluate_assignments(assignments, gold)

    assert not report.multi_label and report.rows == 4
    assert report.accuracy == 0.75
    # sport: P 1/2, R 1/1, F1 2/3; politics: P 2/2, R 2/3, F1 0.8.
    assert report.per_class["sport"].precision == 0.5
    assert report.per_class["politics"].recall == pytest.approx(2 / 3)
    assert report.macro_f1 == pytest.approx((2 / 3 + 0.8) / 2)
    assert report.confusion_labels == ("politics", "sport")
    assert report.confusion.tolist() == [[2, 1], [0, 1]]  # rows gold, columns predicted


def test_a_mapping_translates_labels_and_skips_unmapped_ones_for_the_primary() -> None:
    assignments = _assign(
        [
            [0.1, 0.2, 0.9, 0.0, 0.0],  # health
            [0.1, 0.2, 0.3, 0.8, 0.0],  # environment
            [0.1, 0.6, 0.0, 0.0, 0.95],  # society has no WCEP section: politics counts
        ]
    )
    gold = [["Health and environment"], ["Health and environment"], ["Politics and elections"]]

    report = evaluate_assignments(assignments, gold, mapping=WCEP_MAPPING)

    assert report.accuracy == 1.0 and report.macro_f1 == 1.0


def test_multi_label_metrics_use_the_topics_above_threshold() -> None:
    assignments = _assign(
        [
            [0.9, 0.7, 0.0, 0.0, 0.0],  # sport, politics
            [0.2, 0.9, 0.0, 0.0, 0.0],  # politics
        ]
    )
    gold = [["sport", "politics"], ["politics", "society"]]

    report = evaluate_assignments(assignments, gold)

    assert report.multi_label
    assert report.accuracy == 1.0  # each primary is one of the gold labels
    # politics F1 1, sport F1 1, society F1 0 (missed).
    assert report.macro_f1 == pytest.approx(2 / 3)
    assert report.per_class["society"].recall == 0.0
    assert int(np.trace(report.confusion)) == 2  # a primary among the gold labels is right


def test_mapping_files_and_the_builtin_name(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text("sport: Sports\nhealth: [Health, Medicine]\n", encoding="utf-8")

    assert load_label_mapping(path) == {"sport": ("Sports",), "health": ("Health", "Medicine")}
    assert load_label_mapping("wcep")["environment"] == ("Health and environment",)
    assert load_label_mapping("wcep")["health"] == ("Health and environment",)


@pytest.mark.parametrize(
    ("content", "message"), [("[1, 2]", "expected a mapping"), ('{"sport": 3}', "must map to")]
)
def test_a_malformed_mapping_is_one_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "map.json"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(InvalidLabelMappingError, match=message):
        load_label_mapping(path)


def test_an_unknown_mapping_names_the_builtin_ones(tmp_path: Path) -> None:
    with pytest.raises(InvalidLabelMappingError, match="built-in mappings: wcep"):
        load_label_mapping(tmp_path / "absent.json")


def test_gold_labels_read_a_field_the_article_model_knows(tmp_path: Path) -> None:
    """`section` is an Article attribute, not an extra field: `--label-field section` must
    read it (it once found no labels in a file where every row had one)."""
    from recommender.topics.labelled import load_labelled

    path = tmp_path / "desks.jsonl"
    rows = [
        {"id": "a", "title": "Cup final", "body": "Goals.", "section": "sport"},
        {"id": "b", "title": "Budget vote", "body": "MPs.", "section": "politics", "desk": "x"},
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert load_labelled(path, field="section").labels == [("sport",), ("politics",)]
    assert load_labelled(path, field="desk").labels == [("x",)]


@pytest.mark.parametrize("field", ["title", "id", "body"])
def test_an_articles_own_text_or_id_is_no_label_field(tmp_path: Path, field: str) -> None:
    """Read as labels, every article would be a class of its own (293 classes on 293 rows)."""
    from recommender.topics.labelled import load_labelled

    path = tmp_path / "desks.jsonl"
    path.write_text(json.dumps({"id": "a", "title": "Cup final", "body": "Goals."}) + "\n")
    with pytest.raises(InvalidInputError, match=f"field '{field}' is the article's own"):
        load_labelled(path, field=field)
