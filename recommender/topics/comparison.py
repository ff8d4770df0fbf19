"""Zero-shot, adapted and trained taggers side by side on one split of a labelled file.

The training part is read twice: without its labels (what adaptation sees) and with them
(what `topics train` sees, at 8, 16, 32 and 64 labelled rows per label, then all of them).
Every tagger is scored on the same test part, so the rows compare like with like.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sparse

from recommender.errors import InvalidInputError
from recommender.topics.adapt import adapt_tagger
from recommender.topics.evaluation import LabelMapping, evaluate_assignments
from recommender.topics.trained import PriorExamples, fit_trained_tagger
from recommender.topics.zero_shot import ZeroShotTagger

CURVE_SIZES = (8, 16, 32, 64)
PRIOR_WEIGHT = 1.0
"""Weight of each taxonomy prompt in `topics train` (a labelled article weighs 1). On WCEP
(8 labelled rows per section) the prompts lift macro-F1 from 0.614 to 0.686; at 64 per
section they change it by 0.002."""


@dataclass(frozen=True)
class ComparisonRow:
    tagger: str
    labelled_rows: int  # labelled rows the tagger learnt from (0: zero-shot, adapted)
    macro_f1: float
    accuracy: float


def taxonomy_prior(
    zero_shot: ZeroShotTagger, mapping: LabelMapping | None, weight: float = PRIOR_WEIGHT
) -> PriorExamples:
    """The zero-shot prompts as labelled rows, named in the file's labels via `mapping`
    (a prompt of a label the mapping leaves out is dropped)."""
    labels: list[str] = []
    for owner in zero_shot.prompt_owners:
        ours = zero_shot.labels[int(owner)]
        if mapping is None:
            labels.append(ours)
        else:
            labels.append((mapping.get(ours) or ("",))[0])
    keep = [i for i, label in enumerate(labels) if label]
    return PriorExamples(
        zero_shot.prompt_vectors[keep], tuple(labels[i] for i in keep), weight=weight
    )


def per_label_sample(
    gold: Sequence[Sequence[str]], rows: np.ndarray, size: int, rng: np.random.Generator
) -> np.ndarray:
    """Up to `size` rows of each first gold label among `rows`, at random."""
    by_label: dict[str, list[int]] = {}
    for row in rows:
        by_label.setdefault(gold[int(row)][0], []).append(int(row))
    chosen = [
        rng.choice(members, size=min(size, len(members)), replace=False)
        for _, members in sorted(by_label.items())
    ]
    return np.sort(np.concatenate(chosen))


def compare_taggers(
    zero_shot: ZeroShotTagger,
    vectors: np.ndarray,
    gold: Sequence[Sequence[str]],
    train_rows: np.ndarray,
    test_rows: np.ndarray,
    *,
    mapping: LabelMapping | None = None,
    sizes: Sequence[int] = CURVE_SIZES,
    prior: bool = True,
    random_state: int = 0,
    terms: sparse.csr_matrix | None = None,
) -> list[ComparisonRow]:
    """Zero-shot, adapted (on the training part, unlabelled), trained on `sizes` labelled
    rows per label and on the whole training part; all scored on `test_rows`.

    With the rows' `terms` (n, HASHED_FEATURES), the adapted tagger is the product's (with
    its lexical head) and its dense head alone is reported beside it."""
    if not len(train_rows) or not len(test_rows):
        raise InvalidInputError("the comparison needs rows on both sides of the split")
    matrix = np.asarray(vectors, dtype=np.float32)
    test_gold = [list(gold[int(i)]) for i in test_rows]
    test_vectors = matrix[test_rows]
    rows = []
    report = evaluate_assignments(zero_shot.tag(test_vectors), test_gold, mapping=mapping)
    rows.append(ComparisonRow("zero-shot", 0, report.macro_f1, report.accuracy))
    term_rows = sparse.csr_matrix(terms) if terms is not None else None
    adapted = adapt_tagger(
        zero_shot,
        matrix[train_rows],
        terms=term_rows[train_rows] if term_rows is not None else None,
        random_state=random_state,
    ).tagger
    if adapted.lexical is not None and term_rows is not None:
        dense_only = adapted.without_lexical_head(
            float(adapted.training.get("dense_threshold", adapted.threshold))
        )
        report = evaluate_assignments(dense_only.tag(test_vectors), test_gold, mapping=mapping)
        rows.append(ComparisonRow("adapted, dense head only", 0, report.macro_f1, report.accuracy))
    test_terms = term_rows[test_rows] if term_rows is not None else None
    report = evaluate_assignments(
        adapted.tag(test_vectors, terms=test_terms), test_gold, mapping=mapping
    )
    rows.append(ComparisonRow("adapted (no labels)", 0, report.macro_f1, report.accuracy))
    examples = taxonomy_prior(zero_shot, mapping) if prior else None
    rng = np.random.default_rng(random_state)
    for size in [*sizes, 0]:
        chosen = per_label_sample(gold, train_rows, size, rng) if size else train_rows
        trained = fit_trained_tagger(
            matrix[chosen],
            [list(gold[int(i)]) for i in chosen],
            embedder_name=zero_shot.embedder_name,
            cv_folds=0,
            threshold=None,
            prior=examples,
            random_state=random_state,
        )
        report = evaluate_assignments(trained.tag(test_vectors), test_gold)
        name = f"trained, {size} per label" if size else "trained, all labelled rows"
        rows.append(ComparisonRow(name, len(chosen), report.macro_f1, report.accuracy))
    return rows
