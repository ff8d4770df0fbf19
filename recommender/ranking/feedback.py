"""Pseudo-relevance feedback: move a query towards its own best candidates.

Same-story articles resemble each other more than any one of them resembles the query, so
scoring candidates against the query plus the mean of its top few candidates (Rocchio's
expansion, without judgements) lifts story mates that share little with the query itself.
Both sides of the blend are linear in the query vector, so expanding the vectors is the same
as blending the candidates' similarities to the query and to each feedback article.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sparse


def expanded_query(
    vector: np.ndarray,
    terms: sparse.csr_matrix,
    neighbour_vectors: np.ndarray,
    neighbour_terms: Sequence[sparse.csr_matrix],
    weight: float,
) -> tuple[np.ndarray, sparse.csr_matrix]:
    """(query + weight * mean of the neighbours) / (1 + weight), on both sides.

    `neighbour_terms` are (1, features) rows. Dividing by 1 + weight keeps every cosine-like
    score within [-1, 1].
    """
    if not len(neighbour_vectors):
        return vector, terms
    scale = 1.0 / (1.0 + weight)
    dense = (vector + weight * neighbour_vectors.mean(axis=0)) * scale
    share = weight * scale / len(neighbour_terms)
    # Summed by hand: scipy's sparse addition walks every one of the ~a million hashed
    # columns, which made this the slowest step of a related request (measured).
    indices = np.concatenate([terms.indices, *(row.indices for row in neighbour_terms)])
    weights = np.concatenate([terms.data * scale, *(row.data * share for row in neighbour_terms)])
    columns, positions = np.unique(indices, return_inverse=True)
    summed = np.bincount(positions, weights=weights).astype(np.float32)
    pointers = np.asarray([0, len(columns)])
    lexical = sparse.csr_matrix((summed, columns, pointers), shape=terms.shape)
    return dense.astype(vector.dtype), lexical
