"""eval/studies/tagged_output.py scores primary topics as the independent check does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.studies.tagged_output import main, score_primaries, score_tagged_file


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


@pytest.mark.parametrize(
    ("tagged_rows", "field", "message"),
    [
        ([{"id": "z", "primary_topic": "sport"}], "section", "no row is labelled in"),
        ([{"id": "a", "title": "T"}], "section", "line 1: not a row of `newsrec tag` output"),
        ([{"id": "a", "primary_topic": "sport"}], "desk", "no row has labels in field 'desk'"),
    ],
)
def test_a_wrong_file_or_field_is_one_line_and_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    tagged_rows: list[dict[str, object]],
    field: str,
    message: str,
) -> None:
    corpus = _jsonl(tmp_path / "corpus.jsonl", [{"id": "a", "title": "T", "section": "sport"}])
    tagged = _jsonl(tmp_path / "tagged.jsonl", tagged_rows)
    with pytest.raises(SystemExit) as exit_info:
        main([str(tagged), "--gold", str(corpus), "--label-field", field])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error and error.count("\n") == 1
