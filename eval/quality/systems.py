"""The systems an evaluation compares: baselines, and the project's own recommender.

Every system ranks the whole corpus for a query article, never the query itself. Baselines
score every candidate and keep the best `depth`; they do not drop near-duplicates (the
project's recommender does: the evaluation measures what that costs and buys). Ties are
broken by one fixed, seeded shuffle of the corpus rather than by file order, which may
group a story's items together and would flatter a system that scores many ties.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import bm25s
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from eval.quality.datasets import LabelledCorpus
from recommender import Recommender

Ranked = list[tuple[str, float]]
"""(article id, score), best first."""

_QUERY_BLOCK = 256  # queries scored at once: bounds the (block, n) score matrix
_UNDATED_DAYS = 1e9  # an undated candidate is "infinitely" far away for recency


@runtime_checkable
class RelatedSystem(Protocol):
    @property
    def name(self) -> str: ...

    def rank(self, query_ids: Sequence[str], depth: int) -> dict[str, Ranked]:
        """The top `depth` other articles of each query, best first."""
        ...


class ScoringSystem:
    """A baseline that scores every candidate: subclasses give `scores(positions)`."""

    name = "scoring"

    def __init__(self, corpus: LabelledCorpus, *, seed: int = 0) -> None:
        self.corpus = corpus
        self._tie_order = np.random.default_rng(seed).permutation(len(corpus))

    def scores(self, positions: np.ndarray) -> np.ndarray:
        """Scores of every candidate for the queries at `positions`: (q,) -> (q, n)."""
        raise NotImplementedError

    def rank(self, query_ids: Sequence[str], depth: int) -> dict[str, Ranked]:
        ids = [article.id for article in self.corpus.articles]
        depth = min(depth, len(ids) - 1)
        ranked: dict[str, Ranked] = {}
        for start in range(0, len(query_ids), _QUERY_BLOCK):
            block = list(query_ids[start : start + _QUERY_BLOCK])
            positions = np.asarray([self.corpus.positions[q] for q in block], dtype=np.int64)
            scores = np.asarray(self.scores(positions), dtype=np.float64)
            for row, (query_id, position) in enumerate(zip(block, positions, strict=True)):
                row_scores = scores[row]
                row_scores[position] = -np.inf
                top = top_positions(row_scores, depth, self._tie_order)
                ranked[query_id] = [(ids[i], float(row_scores[i])) for i in top]
        return ranked


def top_positions(scores: np.ndarray, depth: int, tie_order: np.ndarray) -> np.ndarray:
    """Positions of the `depth` best scores, best first; equal scores by `tie_order`.

    scores: (n,), -inf marks an excluded candidate; tie_order: (n,) a permutation.
    """
    depth = min(depth, int(np.isfinite(scores).sum()))
    if depth <= 0:
        return np.zeros(0, dtype=np.int64)
    cut = np.partition(scores, len(scores) - depth)[len(scores) - depth]
    above = np.flatnonzero(scores > cut)
    at = np.flatnonzero(scores == cut)
    at = at[np.argsort(tie_order[at], kind="stable")][: depth - len(above)]
    chosen = np.concatenate([above, at])
    return chosen[np.lexsort((tie_order[chosen], -scores[chosen]))]


class RandomSystem(ScoringSystem):
    """A seeded random order, the same for a query whatever the batch it comes in."""

    name = "random"

    def __init__(self, corpus: LabelledCorpus, *, seed: int = 0) -> None:
        super().__init__(corpus, seed=seed)
        self._seed = seed

    def scores(self, positions: np.ndarray) -> np.ndarray:
        size = len(self.corpus)
        rows = [np.random.default_rng([self._seed, int(p)]).random(size) for p in positions]
        return np.stack(rows)


class RecencySystem(ScoringSystem):
    """Nearest in time first (what a chronological previous/next does); undated last."""

    name = "recency"

    def __init__(self, corpus: LabelledCorpus, *, seed: int = 0) -> None:
        super().__init__(corpus, seed=seed)
        times = [article.published_time for article in corpus.articles]
        self._days = np.asarray(
            [np.nan if t is None else (t.start + t.end) / 2 / 86_400.0 for t in times]
        )

    def scores(self, positions: np.ndarray) -> np.ndarray:
        apart = np.abs(self._days[positions][:, None] - self._days[None, :])
        return -np.nan_to_num(apart, nan=_UNDATED_DAYS)


class TfidfSystem(ScoringSystem):
    """TF-IDF cosine over the whole text: sublinear tf, English stop words (like MLT)."""

    name = "tfidf"

    def __init__(self, corpus: LabelledCorpus, *, seed: int = 0) -> None:
        super().__init__(corpus, seed=seed)
        vectorizer = TfidfVectorizer(sublinear_tf=True, stop_words="english")
        self.matrix = vectorizer.fit_transform([a.text for a in corpus.articles]).tocsr()

    def scores(self, positions: np.ndarray) -> np.ndarray:
        return (self.matrix[positions] @ self.matrix.T).toarray()


class BM25System(ScoringSystem):
    """BM25 (bm25s, Lucene variant, English stop words); the query is the whole article."""

    name = "bm25"

    def __init__(self, corpus: LabelledCorpus, *, seed: int = 0) -> None:
        super().__init__(corpus, seed=seed)
        texts = [article.text for article in corpus.articles]
        tokenized = bm25s.tokenize(texts, stopwords="en", show_progress=False)
        self._retriever = bm25s.BM25()
        self._retriever.index(tokenized, show_progress=False)
        words = {index: word for word, index in tokenized.vocab.items()}
        self._queries = [[words[i] for i in ids] for ids in tokenized.ids]

    def scores(self, positions: np.ndarray) -> np.ndarray:
        rows = np.zeros((len(positions), len(self.corpus)))
        for row, position in enumerate(positions):
            if self._queries[position]:  # a text of stop words only matches nothing
                rows[row] = self._retriever.get_scores(self._queries[position])
        return rows


class DenseSystem(ScoringSystem):
    """Brute-force cosine of the index's stored vectors (no candidate pool, no filters)."""

    name = "dense"

    def __init__(self, corpus: LabelledCorpus, vectors: np.ndarray, *, seed: int = 0) -> None:
        """vectors: (n, dimension), unit rows, in corpus order."""
        super().__init__(corpus, seed=seed)
        self.vectors = vectors

    def scores(self, positions: np.ndarray) -> np.ndarray:
        return self.vectors[positions] @ self.vectors.T


class HybridSystem(ScoringSystem):
    """A plain linear fusion of the dense and TF-IDF cosines, no time and no de-duplication."""

    name = "hybrid"

    def __init__(
        self, dense: DenseSystem, tfidf: TfidfSystem, *, dense_weight: float = 0.5, seed: int = 0
    ) -> None:
        super().__init__(dense.corpus, seed=seed)
        self._dense, self._tfidf, self._weight = dense, tfidf, dense_weight

    def scores(self, positions: np.ndarray) -> np.ndarray:
        dense = self._dense.scores(positions)
        return self._weight * dense + (1.0 - self._weight) * self._tfidf.scores(positions)


class RecommenderSystem:
    """The project's pipeline, exactly as the CLI and the service run it."""

    def __init__(self, recommender: Recommender, name: str = "default") -> None:
        self.recommender = recommender
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def rank(self, query_ids: Sequence[str], depth: int) -> dict[str, Ranked]:
        depth = min(depth, len(self.recommender.index) - 1)
        if depth < 1:
            return {query_id: [] for query_id in query_ids}
        lists = self.recommender.related_many(list(query_ids), k=depth)
        return {q: [(hit.id, hit.score) for hit in lists[q]] for q in query_ids}
