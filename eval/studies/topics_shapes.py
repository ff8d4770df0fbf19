"""Topics on WCEP subsets shaped like the independent check's corpora (which we do not have).

The independent check scores `newsrec tag` on a few well-separated classes (5 for 2,225
full-length articles: business, entertainment, politics, sport, tech; 4 for 7,600 short wire
items: world, sports, business, sci/tech), against a probe that learns from their labels. All
ten WCEP sections together are a harder task (a probe reaches 0.705 macro-F1 there), so the
gains of adaptation show little on them. These shapes take the WCEP items of the matching
sections, with the check's rule for our primary topic: it counts only when it maps onto the
item's class (a politics item tagged `crime` is wrong; no unmapped label is skipped). All ten
sections under the same rule come first, for reference (`society`, which no section has, is
always wrong there, where `--map wcep` skips it).

Each shape reports what the check runs, adaptation on the very items then tagged
(`newsrec topics adapt TEST --out M`, then `newsrec tag TEST --model M`):

- zero-shot;
- adapted (recommender.topics.adapt_tagger on all the shape's items and their terms), its
  dense head alone and the product's tagger (dense head with its lexical head:
  recommender/topics/lexical_head.py, a TF-IDF logistic regression fitted on the dense
  head's most confident 60% per topic plus the taxonomy's prompts, averaged with it);
- a probe: scikit-learn's LogisticRegression on the same vectors, 5-fold cross-validated
  predictions with the labels (what the check's probe is).

    python -m eval.studies.topics_study --shapes [--index-dir WCEP_INDEX]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from recommender import Article
from recommender.topics import (
    WCEP_MAPPING,
    Taxonomy,
    ZeroShotTagger,
    adapt_tagger,
    article_terms,
    gold_labels,
)

OTHER = "(other)"
"""What a label outside the shape's classes maps to: a class no item has, so always wrong."""
FOLDS = 5


@dataclass(frozen=True)
class Shape:
    name: str
    sections: Mapping[str, str]  # WCEP section -> the shape's class
    ours: Mapping[str, str]  # our label -> the shape's class; other labels -> OTHER


SHAPES = (
    Shape(
        "all 10 sections",
        {section: section for targets in WCEP_MAPPING.values() for section in targets},
        {label: targets[0] for label, targets in WCEP_MAPPING.items()},
    ),
    Shape(
        "5 sections, like the 2,225 articles",
        {
            "Politics and elections": "politics",
            "Business and economy": "business",
            "Sports": "sport",
            "Science and technology": "tech",
            "Arts and culture": "entertainment",
        },
        {
            "politics": "politics",
            "economy": "business",
            "sport": "sport",
            "science-technology": "tech",
            "culture": "entertainment",
        },
    ),
    Shape(
        "4 classes, like the 7,600 wire items",
        {
            "Armed conflicts and attacks": "world",
            "International relations": "world",
            "Sports": "sports",
            "Business and economy": "business",
            "Science and technology": "sci/tech",
        },
        {
            "security": "world",
            "diplomacy": "world",
            "sport": "sports",
            "economy": "business",
            "science-technology": "sci/tech",
        },
    ),
)


@dataclass(frozen=True)
class ShapeResult:
    shape: str
    items: int
    zero_shot: float
    adapted_dense: float  # the adapted tagger's dense head alone
    adapted: float  # the product's adapted tagger: dense and lexical heads
    probe: float


def macro_f1_of_scores(
    scores: np.ndarray, labels: Sequence[str], gold: Sequence[str], ours: Mapping[str, str]
) -> float:
    """Macro-F1 of the best-scoring label, mapped as the check maps it."""
    from sklearn.metrics import f1_score

    predicted = [ours.get(labels[best], OTHER) for best in scores.argmax(axis=1)]
    return float(f1_score(gold, predicted, labels=sorted(set(gold)), average="macro"))


def run_shape(
    shape: Shape,
    items: Sequence[Article],
    vectors: np.ndarray,
    zero_shot: ZeroShotTagger,
    taxonomy: Taxonomy,
) -> ShapeResult:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.model_selection import cross_val_predict

    sections = [gold_labels(item, "topic") for item in items]
    rows = np.array([i for i, found in enumerate(sections) if found and found[0] in shape.sections])
    gold = [shape.sections[sections[i][0]] for i in rows]
    matrix = vectors[rows]
    terms = article_terms([items[i] for i in rows])
    adapted = adapt_tagger(zero_shot, matrix, terms=terms).tagger
    probe = cross_val_predict(LogisticRegression(max_iter=3000), matrix, gold, cv=FOLDS)
    return ShapeResult(
        shape.name,
        len(rows),
        macro_f1_of_scores(zero_shot.scores(matrix), zero_shot.labels, gold, shape.ours),
        macro_f1_of_scores(adapted.dense_scores(matrix), zero_shot.labels, gold, shape.ours),
        macro_f1_of_scores(adapted.scores(matrix, terms), zero_shot.labels, gold, shape.ours),
        float(f1_score(gold, probe, average="macro")),
    )


def print_shapes(
    items: Sequence[Article], vectors: np.ndarray, zero_shot: ZeroShotTagger, taxonomy: Taxonomy
) -> list[ShapeResult]:
    results = [run_shape(shape, items, vectors, zero_shot, taxonomy) for shape in SHAPES]
    header = ("shape", "items", "zero-shot", "dense head", "adapted", "probe")
    print(f"{header[0]:<40}" + "".join(f"{name:>11}" for name in header[1:]))
    for result in results:
        print(
            f"{result.shape:<40}{result.items:>11,}{result.zero_shot:>11.4f}"
            f"{result.adapted_dense:>11.4f}{result.adapted:>11.4f}{result.probe:>11.4f}"
        )
    return results
