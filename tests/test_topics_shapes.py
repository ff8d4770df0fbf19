"""The lexical view studied in eval/topics_shapes.py: a TF-IDF head fitted on confident
pseudo-labels corrects the unconfident rows it was not fitted on, and mixes with the dense
tagger's probabilities as a weighted geometric mean."""

from __future__ import annotations

import numpy as np

from eval.topics_shapes import combined, lexical_view, macro_f1_of_scores
from tests.topics_corpus import TAXONOMY, keyword_rows


def test_lexical_view_corrects_the_rows_it_was_not_sure_of() -> None:
    rows = keyword_rows(90)
    texts = [f"{row['title']} {row['body']}" for row in rows]
    truth = np.array([TAXONOMY.labels.index(row["topics"][0]) for row in rows])
    # Confident and right on most rows; a fifth of the rows are wrong but unconfident.
    posteriors = np.full((len(rows), 3), 0.05)
    posteriors[np.arange(len(rows)), truth] = 0.9
    wrong = np.arange(0, len(rows), 5)
    posteriors[wrong] = 0.3
    posteriors[wrong, (truth[wrong] + 1) % 3] = 0.4
    lexical = lexical_view(texts, posteriors, TAXONOMY, share=0.6)
    assert lexical.shape == posteriors.shape
    np.testing.assert_allclose(lexical.sum(axis=1), 1.0, rtol=1e-6)
    assert (posteriors[wrong].argmax(axis=1) != truth[wrong]).all()
    assert (lexical[wrong].argmax(axis=1) == truth[wrong]).mean() > 0.9


def test_combined_is_a_weighted_geometric_mean() -> None:
    dense = np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]])
    lexical = np.array([[0.1, 0.8, 0.1], [0.1, 0.8, 0.1]])
    np.testing.assert_allclose(combined(dense, lexical, 0.0), dense, rtol=1e-6)
    np.testing.assert_allclose(combined(dense, lexical, 1.0), lexical, rtol=1e-6)
    halfway = combined(dense, lexical, 0.5)
    np.testing.assert_allclose(halfway.sum(axis=1), 1.0, rtol=1e-6)
    # sqrt(0.2 * 0.8) > sqrt(0.7 * 0.1): the lexical view's label wins the first row.
    assert halfway.argmax(axis=1).tolist() == [1, 1]


def test_a_label_outside_the_classes_counts_as_wrong() -> None:
    labels = ("politics", "crime", "sport")
    ours = {"politics": "politics", "sport": "sport"}
    scores = np.array([[0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.2, 0.7]])
    gold = ["politics", "politics", "sport"]
    # Row 0's best label is crime: not mapped onto politics, so politics recall is 1/2.
    assert macro_f1_of_scores(scores, labels, gold, ours) == (2 / 3 + 1.0) / 2
