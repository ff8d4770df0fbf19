"""The summary study's measures, on vectors small enough to score by hand."""

from __future__ import annotations

import numpy as np
import pytest

from eval.studies.summary_study import bootstrap_interval, evaluated_articles, scores_of
from tests.conftest import make_article


def test_sim_margin_and_ndcg_by_hand() -> None:
    # Articles 0, 1, 2 form a story; 3 is outside it. One summary per article (rows).
    articles = np.asarray([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8], [0.0, 1.0]])
    summaries = np.asarray([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    found = scores_of(summaries, articles, {0: [1, 2]})
    # Summary 0 against articles 1, 2: cosines 0.8 and 0.6; against article 3: 0.
    assert found["sim"][0] == pytest.approx(0.7)
    assert found["margin"][0] == pytest.approx(0.7)
    # Ranked 1 (0.8), 2 (0.6), 3 (0.0): both relevant on top, a perfect list.
    assert found["ndcg@10"][0] == pytest.approx(1.0)

    worse = scores_of(summaries, articles, {1: [0, 2]})
    # Summary 1 = (0, 1) against 0, 2: cosines 0 and 0.8; against 3: 1.0.
    assert worse["sim"][0] == pytest.approx(0.4)
    assert worse["margin"][0] == pytest.approx(0.4 - 1.0)
    # Ranked 3, 2, 0: relevant at ranks 2 and 3.
    ideal = 1 + 1 / np.log2(3)
    assert worse["ndcg@10"][0] == pytest.approx((1 / np.log2(3) + 1 / np.log2(4)) / ideal)


def test_near_duplicates_are_not_references_and_lone_articles_are_skipped() -> None:
    text = "Rebels took the port city after a week of fighting along the coast road. " * 3
    articles = [
        make_article("a", "Port falls", text, story="s"),
        make_article("a-copy", "Port falls", text + "Updated.", story="s"),
        make_article("b", "Port city aftermath", "Residents returned to the port.", story="s"),
        make_article("alone", "Other", "Nothing else.", story="t"),
        make_article("none", "No story", "Unlabelled."),
    ]
    references = evaluated_articles(articles)
    assert references == {"a": [2], "a-copy": [2], "b": [0, 1]}


def test_bootstrap_interval_brackets_the_mean() -> None:
    differences = np.asarray([0.1, 0.2, 0.3, 0.2, 0.1, 0.25, 0.15, 0.2])
    low, high = bootstrap_interval(differences)
    assert low < differences.mean() < high
    assert bootstrap_interval(np.zeros(5)) == (0.0, 0.0)
