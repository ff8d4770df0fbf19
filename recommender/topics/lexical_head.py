"""The lexical view of an adapted tagger: what the article's words say about its topic.

The dense head reads the encoder's vector (the first 256 tokens, one summary of them); the
words of the whole article carry more (a company's name, a ministry, a league). The
lexical head is a multinomial logistic regression over TF-IDF of the article's hashed
terms (`recommender.index.lexical.term_vectors`, the vectors every index already stores), fitted
on the same pseudo-labels as the dense head plus the taxonomy's prompts. Tagging takes the
weighted geometric mean of both heads' distributions over labels.

Only terms found in at least MIN_DOCUMENT_FREQUENCY archive rows (or prompts) are kept:
the head stores their hashed ids, idf and weights, so no vocabulary is kept and the same
text gives the same terms on every path (text, stored blobs).

Measured (eval/studies/topics_study.py --shapes, MiniLM): +0.8 to +1.3 macro-F1 over the dense head
alone on WCEP 2019+, seeds/ and both shapes of the independent check.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sparse

from recommender.index.lexical import HASHED_FEATURES
from recommender.topics.errors import InvalidTopicModelError

LEXICAL_SHARE = 0.3
"""The lexical head's weight in the geometric mean. 0.3 gained on every corpus measured
(WCEP's ten sections, seeds/, both shapes); 0.5 lost on seeds/."""
LEXICAL_C = 10.0
MIN_DOCUMENT_FREQUENCY = 2
_EPSILON = 1e-9


@dataclass(frozen=True)
class LexicalHead:
    """features: (k,) sorted hashed term ids; idf: (k,); weights: (L, k); bias: (L,)."""

    features: np.ndarray
    idf: np.ndarray
    weights: np.ndarray
    bias: np.ndarray
    share: float = LEXICAL_SHARE

    def __post_init__(self) -> None:
        k = len(self.features)
        if (
            self.idf.shape != (k,)
            or self.weights.ndim != 2
            or self.weights.shape[1] != k
            or self.bias.shape != (self.weights.shape[0],)
            or not 0.0 < self.share < 1.0
        ):
            raise InvalidTopicModelError(
                f"inconsistent lexical head: {k} features, idf {self.idf.shape}, weights "
                f"{self.weights.shape}, bias {self.bias.shape}, share {self.share}"
            )

    @property
    def labels(self) -> int:
        return int(self.weights.shape[0])

    def probabilities(self, terms: sparse.csr_matrix) -> np.ndarray:
        """terms: (n, HASHED_FEATURES) sublinear term frequencies -> (n, L) distributions."""
        logits = np.asarray(tfidf_rows(terms, self.features, self.idf) @ self.weights.T)
        logits = logits + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)

    def combine(self, dense: np.ndarray, terms: sparse.csr_matrix) -> np.ndarray:
        """dense: (n, L) scores in [0, 1] -> (n, L) the normalised weighted geometric mean of
        their distribution and this head's."""
        dense_share = dense / np.maximum(dense.sum(axis=1, keepdims=True), 1e-12)
        logs = (1.0 - self.share) * np.log(dense_share + _EPSILON) + self.share * np.log(
            self.probabilities(terms) + _EPSILON
        )
        product = np.exp(logs - logs.max(axis=1, keepdims=True))
        return (product / product.sum(axis=1, keepdims=True)).astype(np.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays a model directory stores (names prefixed `lexical_`)."""
        return {
            "lexical_features": self.features,
            "lexical_idf": self.idf,
            "lexical_weights": self.weights,
            "lexical_bias": self.bias,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], share: float) -> LexicalHead | None:
        """The head stored among a model's arrays, or None for a model without one."""
        names = ("lexical_features", "lexical_idf", "lexical_weights", "lexical_bias")
        if not any(name in arrays for name in names):
            return None
        if not all(name in arrays for name in names):
            raise InvalidTopicModelError("the model's lexical head is incomplete")
        features, idf, weights, bias = (arrays[name] for name in names)
        return cls(
            np.asarray(features, dtype=np.int32),
            np.asarray(idf, dtype=np.float32),
            np.asarray(weights, dtype=np.float32),
            np.asarray(bias, dtype=np.float32),
            share,
        )


def tfidf_rows(
    terms: sparse.csr_matrix, features: np.ndarray, idf: np.ndarray
) -> sparse.csr_matrix:
    """(n, HASHED_FEATURES) term frequencies -> (n, k) unit TF-IDF rows over `features`
    (sorted ids); terms outside them are dropped before normalising."""
    if terms.shape[1] != HASHED_FEATURES:
        raise InvalidTopicModelError(
            f"term vectors have {terms.shape[1]} columns, not {HASHED_FEATURES}"
        )
    terms = sparse.csr_matrix(terms)
    positions = np.searchsorted(features, terms.indices)
    positions = np.minimum(positions, max(len(features) - 1, 0))
    known = features[positions] == terms.indices if len(features) else np.zeros(0, dtype=bool)
    rows = np.repeat(np.arange(terms.shape[0]), np.diff(terms.indptr))[known]
    values = terms.data[known] * idf[positions[known]]
    matrix = sparse.csr_matrix(
        (values.astype(np.float32), (rows, positions[known])),
        shape=(terms.shape[0], len(features)),
    )
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sparse.csr_matrix(sparse.diags(scale.astype(np.float32)) @ matrix)


def fit_lexical_head(
    terms: sparse.csr_matrix,
    rows: np.ndarray,
    targets: np.ndarray,
    labels: int,
    *,
    prompt_terms: sparse.csr_matrix | None = None,
    prompt_owners: np.ndarray | None = None,
    prompt_weight: float = 3.0,
    c: float = LEXICAL_C,
    share: float = LEXICAL_SHARE,
) -> LexicalHead | None:
    """Fit on the archive's (n, HASHED_FEATURES) term frequencies: `rows` of it labelled
    `targets` (label indices, the dense head's pseudo-labels), plus the taxonomy's prompts
    weighted `prompt_weight`. Idf is counted over the whole archive and the prompts.
    None when the pseudo-labels hold fewer than two labels (nothing to tell apart)."""
    from sklearn.linear_model import LogisticRegression

    parts = [sparse.csr_matrix(terms)]
    owners = np.zeros(0, dtype=np.int64)
    if prompt_terms is not None and prompt_owners is not None and prompt_terms.shape[0]:
        parts.append(sparse.csr_matrix(prompt_terms))
        owners = np.asarray(prompt_owners, dtype=np.int64)
    everything = sparse.vstack(parts, format="csr")
    document_frequency = np.bincount(everything.indices, minlength=HASHED_FEATURES)
    features = np.flatnonzero(document_frequency >= MIN_DOCUMENT_FREQUENCY).astype(np.int32)
    documents = everything.shape[0]
    idf = (np.log((1.0 + documents) / (1.0 + document_frequency[features])) + 1.0).astype(
        np.float32
    )
    matrix = tfidf_rows(everything, features, idf)
    training = sparse.vstack([matrix[rows], matrix[terms.shape[0] :]], format="csr")
    columns = np.concatenate([np.asarray(targets, dtype=np.int64), owners])
    if len(np.unique(columns)) < 2:
        return None
    sample_weight = np.concatenate([np.ones(len(rows)), np.full(len(owners), prompt_weight)])
    model = LogisticRegression(C=c, max_iter=1000)
    model.fit(training, columns, sample_weight=sample_weight)
    weights = np.zeros((labels, len(features)), dtype=np.float32)
    # A label with no training row is never the lexical head's answer.
    bias = np.full(labels, -30.0, dtype=np.float32)
    classes = model.classes_.astype(np.int64)
    if len(classes) == 2:  # scikit-learn keeps one row: p(second) = sigmoid(w.x + b)
        weights[classes[1]] = model.coef_[0]
        bias[classes] = (0.0, model.intercept_[0])
    else:
        weights[classes] = model.coef_
        bias[classes] = model.intercept_
    return LexicalHead(features, idf, weights, bias, share)
