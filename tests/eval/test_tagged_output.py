"""eval/studies/tagged_output.py scores primary topics as the independent check does."""

from __future__ import annotations

import pytest

from eval.studies.tagged_output import score_primaries


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
