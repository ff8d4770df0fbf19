"""Scoring a tagger against gold labels with scikit-learn's metrics.

Two cases, chosen by the gold data:

- single-label (every row has exactly one gold label, as WCEP): the prediction is the
  primary topic; accuracy, macro-F1 over the gold labels, per-class precision/recall/F1 and
  a confusion matrix (rows gold, columns predicted).
- multi-label (some row has several): the prediction is the set of topics at or above the
  threshold; macro-F1 and per-class scores over label indicators, accuracy is "the primary
  topic is one of the gold labels", and the confusion matrix sets the primary topic against
  itself when it is one of the gold labels, else against the first gold label.

A label mapping translates our labels to the file's (e.g. `health` -> `Health and
environment`). Under a mapping the primary topic is the best label that maps to something:
a file without a `society` section cannot reward or punish it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recommender.topics.assignment import TopicAssignment
from recommender.topics.errors import InvalidLabelMappingError, InvalidTaxonomyError
from recommender.topics.taxonomy import parse_structured_text

LabelMapping = Mapping[str, tuple[str, ...]]

WCEP_MAPPING: LabelMapping = {
    "security": ("Armed conflicts and attacks",),
    "diplomacy": ("International relations",),
    "politics": ("Politics and elections",),
    "crime": ("Law and crime",),
    "disaster": ("Disasters and accidents",),
    "economy": ("Business and economy",),
    "health": ("Health and environment",),
    "environment": ("Health and environment",),
    "sport": ("Sports",),
    "culture": ("Arts and culture",),
    "science-technology": ("Science and technology",),
}
"""The default taxonomy -> WCEP's Portal:Current events sections (`society` has none)."""

BUILTIN_MAPPINGS: dict[str, LabelMapping] = {"wcep": WCEP_MAPPING}


@dataclass(frozen=True)
class ClassScores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class EvaluationReport:
    multi_label: bool
    rows: int
    accuracy: float
    macro_f1: float
    per_class: dict[str, ClassScores]
    confusion_labels: tuple[str, ...]
    confusion: np.ndarray = field(repr=False)
    """(len(confusion_labels), len(confusion_labels)) counts: rows gold, columns predicted."""

    def metrics(self) -> dict[str, float]:
        """Flat numbers, primary metric first (as sentence-transformers evaluators do)."""
        return {"macro_f1": self.macro_f1, "accuracy": self.accuracy, "rows": float(self.rows)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "multi_label": self.multi_label,
            "rows": self.rows,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "per_class": {label: vars(scores) for label, scores in self.per_class.items()},
            "confusion_labels": list(self.confusion_labels),
            "confusion": self.confusion.tolist(),
        }


def load_label_mapping(source: str | Path) -> LabelMapping:
    """A built-in mapping by name (`wcep`) or a JSON/YAML file of label -> label or [labels]."""
    if str(source) in BUILTIN_MAPPINGS:
        return BUILTIN_MAPPINGS[str(source)]
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        known = ", ".join(BUILTIN_MAPPINGS)
        raise InvalidLabelMappingError(
            f"{path}: cannot read ({error.strerror}); built-in mappings: {known}"
        ) from None
    try:
        value = parse_structured_text(text, path)
    except InvalidTaxonomyError as error:
        raise InvalidLabelMappingError(str(error)) from None
    return label_mapping_from_value(value, source=str(path))


def label_mapping_from_value(value: Any, *, source: str) -> LabelMapping:
    if not isinstance(value, dict) or not value:
        raise InvalidLabelMappingError(f"{source}: expected a mapping of our label -> file label")
    mapping: dict[str, tuple[str, ...]] = {}
    for ours, theirs in value.items():
        targets = [theirs] if isinstance(theirs, str) else theirs
        if not isinstance(targets, list) or not all(isinstance(t, str) and t for t in targets):
            raise InvalidLabelMappingError(
                f"{source}: {ours!r} must map to a label or a list of labels, got {theirs!r}"
            )
        mapping[str(ours)] = tuple(targets)
    return mapping


def evaluate_assignments(
    assignments: Sequence[TopicAssignment],
    gold: Sequence[Sequence[str]],
    *,
    mapping: LabelMapping | None = None,
) -> EvaluationReport:
    """Compare predicted topics with gold label lists (one per row, same order)."""
    from sklearn.metrics import (  # scikit-learn only when evaluating
        accuracy_score,
        confusion_matrix,
        f1_score,
        precision_recall_fscore_support,
    )
    from sklearn.preprocessing import MultiLabelBinarizer

    if len(assignments) != len(gold):
        raise ValueError(f"{len(assignments)} assignments for {len(gold)} gold rows")
    if not gold:
        raise ValueError("nothing to evaluate: no labelled rows")
    primaries = [_primary(assignment, mapping) for assignment in assignments]
    gold_labels = sorted({label for labels in gold for label in labels})
    multi_label = any(len(labels) != 1 for labels in gold)
    if not multi_label:
        truth = [labels[0] for labels in gold]
        classes = gold_labels
        precision, recall, f1, support = precision_recall_fscore_support(
            truth, primaries, labels=classes, zero_division=0
        )
        accuracy = float(accuracy_score(truth, primaries))
        macro_f1 = float(f1_score(truth, primaries, labels=classes, average="macro"))
    else:
        predicted_sets = [_mapped_set(assignment, mapping) for assignment in assignments]
        binarizer = MultiLabelBinarizer(classes=gold_labels)
        truth_matrix = binarizer.fit_transform([set(labels) for labels in gold])
        # Predicted labels outside the gold vocabulary count as errors nowhere: they have no
        # column. They cannot be right either, so they only ever cost the label's precision.
        predicted_matrix = binarizer.transform(
            [labels & set(gold_labels) for labels in predicted_sets]
        )
        precision, recall, f1, support = precision_recall_fscore_support(
            truth_matrix, predicted_matrix, zero_division=0
        )
        macro_f1 = float(f1_score(truth_matrix, predicted_matrix, average="macro", zero_division=0))
        accuracy = float(
            np.mean([primary in labels for primary, labels in zip(primaries, gold, strict=True)])
        )
        # A primary that is one of the gold labels is right: it sits on the diagonal.
        truth = [
            primary if primary in labels else labels[0]
            for primary, labels in zip(primaries, gold, strict=True)
        ]
    confusion_labels = sorted(set(gold_labels) | set(primaries))
    confusion = confusion_matrix(truth, primaries, labels=confusion_labels)
    per_class = {
        label: ClassScores(float(p), float(r), float(f), int(s))
        for label, p, r, f, s in zip(gold_labels, precision, recall, f1, support, strict=True)
    }
    return EvaluationReport(
        multi_label=multi_label,
        rows=len(gold),
        accuracy=accuracy,
        macro_f1=macro_f1,
        per_class=per_class,
        confusion_labels=tuple(confusion_labels),
        confusion=np.asarray(confusion),
    )


def _primary(assignment: TopicAssignment, mapping: LabelMapping | None) -> str:
    if mapping is None:
        return assignment.primary
    ranked = sorted(assignment.scores.items(), key=lambda item: -item[1])
    for label, _score in ranked:
        if mapping.get(label):
            return mapping[label][0]
    return "(unmapped)"


def _mapped_set(assignment: TopicAssignment, mapping: LabelMapping | None) -> set[str]:
    if mapping is None:
        return set(assignment.labels)
    return {target for label in assignment.labels for target in mapping.get(label, ())}
