"""eval/studies/tagged_output.py scores primary topics as the independent check does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.studies.tagged_output import score_primaries, score_tagged_file


def test_an_unmapped_primary_is_wrong_and_macro_f1_is_over_the_gold_classes() -> None:
    mapping = {"politics": ("politics",), "economy": ("business",)}
    gold = [("politics",), ("politics", "other"), ("business",), ("business",)]
    # Row 1's `crime` maps nowhere: wrong, and not a class of its own.
    scores = score_primaries(["politics", "crime", "economy", "politics"], gold, mapping)
    politics_f1 = 2 * (1 / 2) * (1 / 2) / (1 / 2 + 1 / 2)  # precision 1/2, recall 1/2
    business_f1 = 2 * 1 * (1 / 2) / (1 + 1 / 2)  # precision 1, recall 1/2
    assert scores.macro_f1 == pytest.approx((politics_f1 + business_f1) / 2)
    assert (scores.accuracy, scores.primary_in_gold) == (0.5, 0.5)


def test_without_a_mapping_labels_compare_as_they_are() -> None:
    scores = score_primaries(["sport", "health"], [("sport",), ("society", "health")], None)
    assert (scores.accuracy, scores.primary_in_gold) == (0.5, 1.0)


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_a_tagged_file_is_joined_with_its_corpus_by_id_and_a_missing_row_is_counted(
    tmp_path: Path,
) -> None:
    corpus = _jsonl(
        tmp_path / "corpus.jsonl",
        [
            {"id": "a", "title": "Cup final", "section": "sport"},
            {"id": "b", "title": "Budget vote", "section": "politics"},
            {"id": "c", "title": "Rate rise", "section": "business"},
            {"id": "d", "title": "No desk"},  # unlabelled: neither scored nor missing
        ],
    )
    # Another order, a row outside the corpus, `b` written twice (a resumed run), `c` absent.
    tagged = _jsonl(
        tmp_path / "tagged.jsonl",
        [
            {"id": "b", "primary_topic": "politics"},
            {"id": "x", "primary_topic": "politics"},
            {"id": "a", "primary_topic": "culture"},
            {"id": "b", "primary_topic": "politics"},
        ],
    )
    mapping = {"politics": ("politics",), "sport": ("sport",)}
    scores = score_tagged_file(tagged, corpus, "section", mapping)
    assert (scores.rows, scores.not_tagged) == (2, 1)
    assert (scores.accuracy, scores.primary_in_gold) == (0.5, 0.5)


def test_a_tagged_file_of_another_corpus_is_refused(tmp_path: Path) -> None:
    corpus = _jsonl(tmp_path / "corpus.jsonl", [{"id": "a", "title": "T", "section": "sport"}])
    tagged = _jsonl(tmp_path / "tagged.jsonl", [{"id": "z", "primary_topic": "sport"}])
    with pytest.raises(SystemExit, match="no row is labelled"):
        score_tagged_file(tagged, corpus, "section", None)
