"""Adapting the zero-shot tagger to a site's own archive, with no labels.

The zero-shot tagger is right on most articles of a site but wrong in systematic ways: its
topic shares are not the site's (a wire archive is a quarter conflict news; the taxonomy
treats every topic alike), and the site's way of writing about a topic is not the
taxonomy's. Adaptation fixes both from the site's unlabelled vectors:

1. Priors: the zero-shot posteriors (a softmax of its calibrated logits) are re-weighted by
   topic shares re-estimated with EM on the archive (Saerens, Latinne & Decaestecker, 2002):
   each share is the mean posterior under the previous shares, until they settle.
2. Self-training: the most confident share of each topic's articles (by the prior-corrected
   posterior) become pseudo-labelled examples of that topic; one logistic regression per
   label is fitted on them, and again on the first model's own predictions (two rounds).
3. The taxonomy as a prior: the embedded prompts join the training rows, labelled with
   their topic and weighted, so a small archive stays close to zero-shot and every label
   keeps examples. Without them, 52 seed articles drove macro-F1 from 0.74 to 0.23.

4. The lexical view, when the archive's terms are given: a TF-IDF logistic regression on the
   last round's pseudo-labels and the prompts' words (recommender/topics/lexical_head.py),
   averaged with the dense head. It gained on every corpus measured (WCEP 2019+ 0.678 ->
   0.686 macro-F1, seeds/ 0.765 -> 0.774, both shapes of the independent check).

The result is a `TrainedTagger` (the same files as `newsrec topics train`), so tagging with
it costs one matrix product, as zero-shot does, plus one sparse product over the article's
terms when it has a lexical head. Measured in eval/studies/topics_study.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sparse

from recommender.errors import InvalidInputError
from recommender.index.lexical import term_vectors
from recommender.topics.assignment import logistic
from recommender.topics.batch_shares import em_shares
from recommender.topics.evaluation import LabelMapping, evaluate_assignments
from recommender.topics.lexical_head import fit_lexical_head
from recommender.topics.trained import TrainedTagger, fit_heads, matching_threshold
from recommender.topics.zero_shot import ZeroShotTagger

ROUNDS = 2
CONFIDENT_SHARE = 0.6
"""Share of each topic's articles (most confident first) kept as pseudo-labels."""
PROMPT_WEIGHT = 3.0
"""Weight of each taxonomy prompt among the training rows (an article weighs 1)."""
ADAPT_C = 4.0
MAX_TRAINING_ROWS = 30_000
"""Pseudo-labelled rows kept at most (a uniform sample beyond): bounds the fitting time."""
MAX_ARCHIVE_ROWS = 200_000
"""Archive vectors read at most (a uniform sample beyond): bounds memory on a large index."""
MIN_ROWS = 20
EM_ITERATIONS = 100
HOLDOUT_SHARE = 0.2


@dataclass(frozen=True)
class Adaptation:
    tagger: TrainedTagger
    rows: int  # archive vectors read
    pseudo_labelled: int  # of them, used as training rows in the last round
    shares: dict[str, float]  # topic shares on the archive, re-estimated by EM


def _confident_count(zero_shot: ZeroShotTagger, vectors: np.ndarray) -> float:
    """Mean number of labels at or above zero-shot's threshold, per archive article."""
    return float((zero_shot.scores(vectors) >= zero_shot.threshold).sum(axis=1).mean())


def check_archive_size(rows: int) -> None:
    """Refuse, before anything is encoded, an archive too small to learn from."""
    if rows < MIN_ROWS:
        raise InvalidInputError(
            f"{rows} articles are too few to adapt to (at least {MIN_ROWS}); "
            "use the zero-shot tagger"
        )


def reestimate_priors(
    posteriors: np.ndarray, *, iterations: int = EM_ITERATIONS
) -> tuple[np.ndarray, np.ndarray]:
    """posteriors: (n, L) under uniform priors -> (adjusted posteriors (n, L), shares (L,))."""
    return em_shares(posteriors, prior_rows=0.0, tolerance=1e-6, iterations=iterations)


def adapt_tagger(
    zero_shot: ZeroShotTagger,
    vectors: np.ndarray,
    *,
    terms: sparse.csr_matrix | None = None,
    rounds: int = ROUNDS,
    confident_share: float = CONFIDENT_SHARE,
    prompt_weight: float = PROMPT_WEIGHT,
    c: float = ADAPT_C,
    max_training_rows: int = MAX_TRAINING_ROWS,
    threshold: float | None = None,
    random_state: int = 0,
) -> Adaptation:
    """Fit a tagger to the archive's (n, d) L2-normalised vectors, starting from zero-shot.

    The threshold, unless given, is the one at which the adapted tagger lists as many
    confident topics per article of the archive as zero-shot does (`matching_threshold`):
    the fitted probabilities are sharper or flatter than zero-shot's scores, so the trained
    models' fixed 0.5 would list too few or too many.

    terms: the archive's (n, HASHED_FEATURES) term frequencies, row for row with `vectors`
    (`recommender.index.lexical.term_vectors`); given, the tagger gains a lexical head and then
    needs every article's terms to tag it."""
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[1] != zero_shot.dimension:
        raise InvalidInputError(
            f"expected vectors of shape (n, {zero_shot.dimension}), got {tuple(matrix.shape)}"
        )
    check_archive_size(matrix.shape[0])
    if not 0.0 < confident_share <= 1.0:
        raise InvalidInputError(f"confident share must be in (0, 1], got {confident_share}")
    if terms is not None and terms.shape[0] != matrix.shape[0]:
        raise InvalidInputError(f"{terms.shape[0]} rows of terms for {matrix.shape[0]} vectors")
    labels = zero_shot.labels
    rng = np.random.default_rng(random_state)
    posteriors, shares = reestimate_priors(zero_shot.posteriors(matrix))
    weights = bias = np.zeros(0)
    kept = np.zeros(0, dtype=np.int64)
    for _ in range(max(1, rounds)):
        kept, targets = _pseudo_labels(posteriors, confident_share, max_training_rows, rng)
        rows = np.vstack([matrix[kept], zero_shot.prompt_vectors])
        columns = np.concatenate([targets, zero_shot.prompt_owners])
        sample_weight = np.concatenate(
            [np.ones(len(kept)), np.full(len(zero_shot.prompt_owners), prompt_weight)]
        )
        indicators = np.zeros((len(columns), len(labels)), dtype=np.int8)
        indicators[np.arange(len(columns)), columns] = 1
        weights, bias = fit_heads(rows, indicators, c, random_state, sample_weight)
        probabilities = logistic(matrix @ weights.T + bias)
        posteriors = probabilities / np.maximum(probabilities.sum(axis=1, keepdims=True), 1e-12)
    lexical = None
    if terms is not None:
        # The lexical head learns from the final dense head's most confident rows.
        chosen, chosen_targets = _pseudo_labels(posteriors, confident_share, max_training_rows, rng)
        prompts = zero_shot.prompt_texts
        lexical = fit_lexical_head(
            terms,
            chosen,
            chosen_targets,
            len(labels),
            prompt_terms=term_vectors(prompts) if prompts else None,
            prompt_owners=zero_shot.prompt_owners if prompts else None,
            prompt_weight=prompt_weight,
        )
    confident_count = _confident_count(zero_shot, matrix)
    dense_threshold = matching_threshold(logistic(matrix @ weights.T + bias), confident_count)
    if threshold is None:
        threshold = dense_threshold
        if lexical is not None and terms is not None:
            combined = lexical.combine(logistic(matrix @ weights.T + bias), terms)
            threshold = matching_threshold(combined, confident_count)
    tagger = TrainedTagger(
        labels,
        weights,
        bias,
        embedder_name=zero_shot.embedder_name,
        threshold=threshold,
        iptc=zero_shot.iptc,
        training={
            "method": "adapted from zero-shot without labels",
            "archive_rows": int(matrix.shape[0]),
            "pseudo_labelled_rows": len(kept),
            "topic_shares": {
                label: round(float(s), 4) for label, s in zip(labels, shares, strict=True)
            },
            "lexical_head": lexical is not None,
            "dense_threshold": dense_threshold,
        },
        lexical=lexical,
    )
    return Adaptation(
        tagger,
        int(matrix.shape[0]),
        len(kept),
        {label: float(share) for label, share in zip(labels, shares, strict=True)},
    )


@dataclass(frozen=True)
class CheckedAdaptation:
    """An adaptation scored against zero-shot on held-out labelled rows of the archive."""

    adaptation: Adaptation
    held_out: int
    zero_shot_macro_f1: float
    adapted_macro_f1: float

    @property
    def adapted_wins(self) -> bool:
        return self.adapted_macro_f1 >= self.zero_shot_macro_f1


def adapt_with_holdout(
    zero_shot: ZeroShotTagger,
    vectors: np.ndarray,
    gold: Sequence[Sequence[str]],
    *,
    terms: sparse.csr_matrix | None = None,
    mapping: LabelMapping | None = None,
    holdout_share: float = HOLDOUT_SHARE,
    random_state: int = 0,
) -> CheckedAdaptation:
    """Adapt on all rows but a random held-out share, then score both taggers there.

    Rows with no gold label (an empty list) are adapted on and never held out. With
    `terms` the adapted tagger has a lexical head, and it is the combined tagger that is
    scored."""
    matrix = np.asarray(vectors, dtype=np.float32)
    if len(gold) != matrix.shape[0]:
        raise InvalidInputError(f"{len(gold)} gold rows for {matrix.shape[0]} vectors")
    if not 0.0 < holdout_share < 1.0:
        raise InvalidInputError(f"held-out share must be in (0, 1), got {holdout_share}")
    labelled = np.flatnonzero([bool(labels) for labels in gold])
    if len(labelled) < 2:
        raise InvalidInputError("need at least two labelled rows to hold some out")
    rng = np.random.default_rng(random_state)
    held = np.sort(rng.permutation(labelled)[: max(1, int(holdout_share * len(labelled)))])
    train = np.setdiff1d(np.arange(matrix.shape[0]), held)
    rows = sparse.csr_matrix(terms) if terms is not None else None
    adaptation = adapt_tagger(
        zero_shot,
        matrix[train],
        terms=rows[train] if rows is not None else None,
        random_state=random_state,
    )
    held_gold = [list(gold[i]) for i in held]
    before = evaluate_assignments(zero_shot.tag(matrix[held]), held_gold, mapping=mapping)
    held_terms = rows[held] if rows is not None else None
    after = evaluate_assignments(
        adaptation.tagger.tag(matrix[held], terms=held_terms), held_gold, mapping=mapping
    )
    return CheckedAdaptation(adaptation, len(held), before.macro_f1, after.macro_f1)


def sampled_rows(
    chunks: Iterable[tuple[np.ndarray, np.ndarray]],
    total: int,
    *,
    cap: int = MAX_ARCHIVE_ROWS,
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A uniform sample of about `cap` rows of `total` streamed in (row ids (m,), vectors
    (m, d)) chunks (all of them when total <= cap): their row ids and vectors, so adapting
    to a large index never holds all its vectors, and its terms can be read for the same
    rows."""
    rng = np.random.default_rng(random_state)
    keep_share = 1.0 if total <= cap else cap / total
    ids: list[np.ndarray] = []
    kept: list[np.ndarray] = []
    for row_ids, chunk in chunks:
        chosen = np.ones(len(chunk), dtype=bool)
        if keep_share < 1.0:
            chosen = rng.random(len(chunk)) < keep_share
        ids.append(np.asarray(row_ids)[chosen])
        kept.append(chunk[chosen])
    if not kept:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    return (
        np.concatenate(ids).astype(np.int64),
        np.ascontiguousarray(np.vstack(kept), dtype=np.float32),
    )


def _pseudo_labels(
    posteriors: np.ndarray, share: float, cap: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Rows kept as pseudo-labelled (the most confident `share` of each predicted topic)
    and their topic index; a uniform sample of `cap` rows when more are kept."""
    predicted = posteriors.argmax(axis=1)
    confidence = posteriors.max(axis=1)
    kept: list[np.ndarray] = []
    for label in range(posteriors.shape[1]):
        rows = np.flatnonzero(predicted == label)
        if len(rows):
            count = max(1, int(share * len(rows)))
            kept.append(rows[np.argsort(-confidence[rows], kind="stable")[:count]])
    chosen = np.sort(np.concatenate(kept))
    if len(chosen) > cap:
        chosen = np.sort(rng.choice(chosen, size=cap, replace=False))
    return chosen, predicted[chosen]


def share_summary(shares: Mapping[str, float], top: int = 5) -> str:
    """'security 26%, disaster 19%, ...': the largest re-estimated topic shares."""
    ranked = sorted(shares.items(), key=lambda item: -item[1])[:top]
    return ", ".join(f"{label} {share:.0%}" for label, share in ranked)
