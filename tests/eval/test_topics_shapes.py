"""eval/studies/topics_shapes.py scores a primary topic as the independent check does: a label
outside the item's class is wrong, never skipped. (The lexical head it measures is tested
in tests/recommender/topics/test_topics_lexical.py.)"""

from __future__ import annotations

import numpy as np

from eval.studies.topics_shapes import macro_f1_of_scores


def test_a_label_outside_the_classes_counts_as_wrong() -> None:
    labels = ("politics", "crime", "sport")
    ours = {"politics": "politics", "sport": "sport"}
    scores = np.array([[0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.2, 0.7]])
    gold = ["politics", "politics", "sport"]
    # Row 0's best label is crime: not mapped onto politics, so politics recall is 1/2.
    assert macro_f1_of_scores(scores, labels, gold, ours) == (2 / 3 + 1.0) / 2
