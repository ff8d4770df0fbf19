"""A trained topic classifier: one logistic regression per label on frozen embeddings.

Fitting uses scikit-learn; prediction is numpy only (`sigmoid(X @ W.T + b)`), so loading a
model and tagging with it need neither scikit-learn nor a pickle. An adapted model may also
hold a lexical head (recommender/topics/lexical_head.py): its scores are then the geometric
mean of both heads' distributions, and it needs each article's terms. The model knows the labels
of its training file, exactly as written there, and predicts only those.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sparse

from recommender.errors import InvalidInputError
from recommender.topics.assignment import ThresholdTagger, check_vectors, logistic
from recommender.topics.errors import InvalidTopicModelError
from recommender.topics.evaluation import evaluate_assignments
from recommender.topics.lexical_head import LEXICAL_SHARE, LexicalHead
from recommender.topics.model_files import check_embedder, load_model, save_model

KIND = "logistic-one-vs-rest"
DEFAULT_THRESHOLD = 0.5
DEFAULT_C = 4.0
"""Inverse regularisation. Unit-length 384-d vectors give small logits; C=1 underfits."""


@dataclass(frozen=True)
class PriorExamples:
    """Labelled vectors that join every fit, weighted: the zero-shot taxonomy's embedded
    prompts, so a handful of labelled articles per topic starts from what zero-shot knows.

    vectors: (m, d); labels: the training file's label of each row (rows whose label the
    file does not use are left out)."""

    vectors: np.ndarray
    labels: tuple[str, ...]
    weight: float = 1.0


@dataclass(frozen=True)
class CrossValidation:
    folds: int
    accuracy: float
    macro_f1: float
    accuracy_std: float
    macro_f1_std: float


class TrainedTagger(ThresholdTagger):
    """Scores = per-label logistic probabilities; meets the `TopicTagger` protocol."""

    def __init__(
        self,
        labels: Sequence[str],
        weights: np.ndarray,
        bias: np.ndarray,
        *,
        embedder_name: str,
        threshold: float = DEFAULT_THRESHOLD,
        iptc: Mapping[str, str | None] | None = None,
        cross_validation: CrossValidation | None = None,
        training: Mapping[str, Any] | None = None,
        lexical: LexicalHead | None = None,
    ) -> None:
        """weights: (len(labels), dimension); bias: (len(labels),); training: how the model
        was made (kept in the manifest, informative only); lexical: a head over the
        article's terms, averaged with the dense one."""
        super().__init__(labels, embedder_name=embedder_name, threshold=threshold, iptc=iptc)
        self._weights = np.asarray(weights, dtype=np.float32)
        self._bias = np.asarray(bias, dtype=np.float32)
        if self._weights.shape[0] != len(self._labels) or self._bias.shape != (len(labels),):
            raise InvalidTopicModelError(
                f"{len(self._labels)} labels but weights {self._weights.shape} and bias "
                f"{self._bias.shape}"
            )
        if lexical is not None and lexical.labels != len(self._labels):
            raise InvalidTopicModelError(
                f"{len(self._labels)} labels but a lexical head for {lexical.labels}"
            )
        self.cross_validation = cross_validation
        self.training = dict(training or {})
        self.lexical = lexical

    @property
    def dimension(self) -> int:
        return int(self._weights.shape[1])

    @property
    def reads_terms(self) -> bool:
        return self.lexical is not None

    def without_lexical_head(self, threshold: float) -> TrainedTagger:
        """The dense head alone (what a model without terms scores), at `threshold`."""
        return TrainedTagger(
            self._labels,
            self._weights,
            self._bias,
            embedder_name=self._embedder_name,
            threshold=threshold,
            iptc=self._iptc,
            training=self.training,
        )

    def dense_scores(self, vectors: np.ndarray) -> np.ndarray:
        """vectors: (n, dimension) -> (n, len(labels)) the dense head's probabilities."""
        logits = check_vectors(vectors, self.dimension) @ self._weights.T + self._bias
        return logistic(logits)

    def scores(self, vectors: np.ndarray, terms: sparse.csr_matrix | None = None) -> np.ndarray:
        """vectors: (n, dimension) -> (n, len(labels)) probabilities; with a lexical head,
        terms (n, HASHED_FEATURES) are required and the scores are a distribution."""
        dense = self.dense_scores(vectors)
        if self.lexical is None:
            return dense
        if terms is None or terms.shape[0] != dense.shape[0]:
            raise InvalidInputError(
                "this topic model reads each article's terms as well as its vector: "
                f"got {'no terms' if terms is None else f'{terms.shape[0]} rows of terms'} "
                f"for {dense.shape[0]} vectors"
            )
        return self.lexical.combine(dense, terms)

    def save(self, directory: Path) -> None:
        meta: dict[str, Any] = {
            "threshold": self._threshold,
            "iptc": self._iptc,
            "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if self.cross_validation is not None:
            meta["cross_validation"] = vars(self.cross_validation)
        if self.training:
            meta["training"] = self.training
        arrays = {"weights": self._weights, "bias": self._bias}
        if self.lexical is not None:
            meta["lexical_share"] = self.lexical.share
            arrays.update(self.lexical.arrays())
        save_model(
            directory,
            kind=KIND,
            labels=self._labels,
            embedder_name=self._embedder_name,
            dimension=self.dimension,
            arrays=arrays,
            meta=meta,
        )

    @classmethod
    def load(
        cls, directory: Path, *, embedder_name: str | None = None, dimension: int | None = None
    ) -> TrainedTagger:
        """Read a saved model; refuses one trained with another embedder than the one given."""
        stored = load_model(directory)
        if stored.kind != KIND:
            raise InvalidTopicModelError(f"{directory}: a {stored.kind!r} model, not a {KIND!r}")
        check_embedder(directory, stored, embedder_name, dimension)
        if "weights" not in stored.arrays or "bias" not in stored.arrays:
            raise InvalidTopicModelError(f"{directory}: model arrays missing")
        if stored.arrays["weights"].shape[1:] != (stored.dimension,):
            raise InvalidTopicModelError(f"{directory}: weights do not match the dimension")
        cv = stored.meta.get("cross_validation")
        try:
            cross_validation = CrossValidation(**cv) if isinstance(cv, dict) else None
        except TypeError:  # written by another version: the report is informative only
            cross_validation = None
        return cls(
            stored.labels,
            stored.arrays["weights"],
            stored.arrays["bias"],
            embedder_name=stored.embedder_name,
            threshold=float(stored.meta.get("threshold", DEFAULT_THRESHOLD)),
            iptc=stored.meta.get("iptc") or {},
            cross_validation=cross_validation,
            training=stored.meta["training"]
            if isinstance(stored.meta.get("training"), dict)
            else None,
            lexical=LexicalHead.from_arrays(
                stored.arrays, float(stored.meta.get("lexical_share", LEXICAL_SHARE))
            ),
        )


def fit_trained_tagger(
    vectors: np.ndarray,
    label_sets: Sequence[Sequence[str]],
    *,
    embedder_name: str,
    c: float = DEFAULT_C,
    threshold: float | None = DEFAULT_THRESHOLD,
    cv_folds: int = 5,
    iptc: Mapping[str, str | None] | None = None,
    prior: PriorExamples | None = None,
    random_state: int = 0,
) -> TrainedTagger:
    """Fit on (n, d) vectors and each row's gold labels; cross-validate first when cv_folds>1.

    Labels are the distinct strings of `label_sets`, sorted. A label needs positive and
    negative rows to be learnt. `prior` rows join every fit (and every fold's training).
    `threshold` None: the one at which the model lists as many labels per training row as
    the gold data has (few rows, a strong prior: the probabilities stay below 0.5).
    """
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] != len(label_sets):
        raise InvalidInputError(
            f"{len(label_sets)} label lists for vectors of shape {tuple(matrix.shape)}"
        )
    if any(not labels_of_row for labels_of_row in label_sets):
        raise InvalidInputError("every training row needs at least one label")
    labels = sorted({label for labels in label_sets for label in labels})
    if len(labels) < 2:
        raise InvalidInputError(f"need at least two distinct labels to train, got {labels}")
    targets = _indicators(label_sets, labels)
    always = [label for label, column in zip(labels, targets.T, strict=True) if column.all()]
    if always:
        raise InvalidInputError(f"label {always[0]!r} is on every row: nothing to learn")
    cross_validation = None
    if cv_folds > 1:
        cross_validation = _cross_validate(
            matrix,
            label_sets,
            labels,
            targets,
            embedder_name,
            c,
            threshold,
            cv_folds,
            random_state,
            prior,
        )
    weights, bias = _fit_with_prior(matrix, targets, labels, prior, c, random_state)
    if threshold is None:
        threshold = matching_threshold(
            logistic(matrix @ weights.T + bias), float(targets.sum(axis=1).mean())
        )
    return TrainedTagger(
        labels,
        weights,
        bias,
        embedder_name=embedder_name,
        threshold=threshold,
        iptc=iptc,
        cross_validation=cross_validation,
        training=_prior_note(prior, labels),
    )


def matching_threshold(scores: np.ndarray, labels_per_row: float) -> float:
    """The threshold at which (n, L) `scores` put `labels_per_row` labels per row at or
    above it on average (0 labels: a threshold above every score)."""
    flat = np.sort(scores, axis=None)[::-1]
    wanted = round(labels_per_row * scores.shape[0])
    if wanted <= 0:
        return float(min(1.0, flat[0] + 1e-6))
    return float(flat[min(wanted, len(flat)) - 1])


def _prior_rows(
    prior: PriorExamples | None, labels: list[str], dimension: int
) -> tuple[np.ndarray, np.ndarray]:
    """The prior's rows for the file's labels: (m, d) vectors and (m, L) indicators."""
    if prior is None:
        return np.zeros((0, dimension), dtype=np.float32), np.zeros((0, len(labels)), np.int8)
    position = {label: column for column, label in enumerate(labels)}
    rows = [i for i, label in enumerate(prior.labels) if label in position]
    targets = np.zeros((len(rows), len(labels)), dtype=np.int8)
    for row, i in enumerate(rows):
        targets[row, position[prior.labels[i]]] = 1
    return np.asarray(prior.vectors, dtype=np.float32)[rows], targets


def _fit_with_prior(
    vectors: np.ndarray,
    targets: np.ndarray,
    labels: list[str],
    prior: PriorExamples | None,
    c: float,
    random_state: int,
) -> tuple[np.ndarray, np.ndarray]:
    prior_vectors, prior_targets = _prior_rows(prior, labels, vectors.shape[1])
    if not len(prior_vectors) or prior is None:
        return fit_heads(vectors, targets, c, random_state)
    weight = np.concatenate([np.ones(len(vectors)), np.full(len(prior_vectors), prior.weight)])
    return fit_heads(
        np.vstack([vectors, prior_vectors]),
        np.vstack([targets, prior_targets]),
        c,
        random_state,
        weight,
    )


def _prior_note(prior: PriorExamples | None, labels: list[str]) -> dict[str, Any] | None:
    if prior is None:
        return None
    used = sum(label in set(labels) for label in prior.labels)
    return {"prior": "zero-shot taxonomy prompts", "prior_rows": used, "prior_weight": prior.weight}


def _indicators(label_sets: Sequence[Sequence[str]], labels: list[str]) -> np.ndarray:
    position = {label: column for column, label in enumerate(labels)}
    targets = np.zeros((len(label_sets), len(labels)), dtype=np.int8)
    for row, labels_of_row in enumerate(label_sets):
        for label in labels_of_row:
            targets[row, position[label]] = 1
    return targets


def fit_heads(
    vectors: np.ndarray,
    targets: np.ndarray,
    c: float,
    random_state: int,
    sample_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One binary logistic regression per label column: (L, d) weights and (L,) bias.

    vectors: (n, d); targets: (n, L) 0/1; sample_weight: (n,) or None."""
    from sklearn.linear_model import LogisticRegression

    weights = np.zeros((targets.shape[1], vectors.shape[1]), dtype=np.float32)
    bias = np.zeros(targets.shape[1], dtype=np.float32)
    for column in range(targets.shape[1]):
        target = targets[:, column]
        if target.min() == target.max():
            # A fold without this label: a constant, very unlikely score.
            bias[column] = 30.0 if target[0] else -30.0
            continue
        model = LogisticRegression(C=c, max_iter=1000, random_state=random_state)
        model.fit(vectors, target, sample_weight=sample_weight)
        weights[column] = model.coef_[0]
        bias[column] = model.intercept_[0]
    return weights, bias


def _cross_validate(
    vectors: np.ndarray,
    label_sets: Sequence[Sequence[str]],
    labels: list[str],
    targets: np.ndarray,
    embedder_name: str,
    c: float,
    threshold: float | None,
    folds: int,
    random_state: int,
    prior: PriorExamples | None = None,
) -> CrossValidation:
    from sklearn.model_selection import KFold, StratifiedKFold

    # Stratify on each row's first label when every label has a row in each fold.
    first_labels = [labels_of_row[0] for labels_of_row in label_sets]
    smallest = min(Counter(first_labels).values())
    splitter: KFold | StratifiedKFold
    if smallest >= folds:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    else:
        splitter = KFold(
            n_splits=min(folds, len(label_sets)), shuffle=True, random_state=random_state
        )
    accuracies, macro_f1s = [], []
    for train, test in splitter.split(vectors, first_labels):
        weights, bias = _fit_with_prior(
            vectors[train], targets[train], labels, prior, c, random_state
        )
        fold_threshold = threshold
        if fold_threshold is None:
            fold_threshold = matching_threshold(
                logistic(vectors[train] @ weights.T + bias),
                float(targets[train].sum(axis=1).mean()),
            )
        fold_tagger = TrainedTagger(
            labels, weights, bias, embedder_name=embedder_name, threshold=fold_threshold
        )
        report = evaluate_assignments(
            fold_tagger.tag(vectors[test]), [list(label_sets[i]) for i in test]
        )
        accuracies.append(report.accuracy)
        macro_f1s.append(report.macro_f1)
    return CrossValidation(
        folds=len(accuracies),
        accuracy=float(np.mean(accuracies)),
        macro_f1=float(np.mean(macro_f1s)),
        accuracy_std=float(np.std(accuracies)),
        macro_f1_std=float(np.std(macro_f1s)),
    )
