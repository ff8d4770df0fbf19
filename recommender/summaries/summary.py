"""Extractive summaries: the most central sentences of an article's body, in their order.

Every sentence of the body gets a score; a summary of n sentences is the n best-scored
candidates, shown in the order the article tells them. Candidates are sentences of at
least `MIN_WORDS` words (a two-word quote fragment is not a summary), unless the body has
too few of them.

Scorers (`METHODS`), all measured against the lead baseline in `eval/studies/summary_study.py`:

- `lead`: the first sentences (the baseline news writing makes strong).
- `tfidf-centroid`: cosine of each sentence's TF-IDF vector with the whole article's
  (title included); idf over the article's own sentences. No model, a few milliseconds.
- `tfidf-textrank`: PageRank over the sentences' TF-IDF cosine graph (TextRank/LexRank).
- `dense-centroid` / `dense-textrank`: the same with the index's embedder encoding each
  distinct sentence once (the title too, as one more voice in the centroid).
- `*-lead` variants multiply the centrality by a gentle position prior,
  `1 + LEAD_PRIOR / (1 + position)`, because news front-loads what matters.

The scores are what is cached (see `summary_cache.py`): any number of sentences is then
selected from them without running anything again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sparse

from embeddings import Embedder
from recommender.articles import Article
from recommender.errors import InvalidInputError
from recommender.index.article_index import ArticleIndex
from recommender.summaries.back_reference import leans_on_earlier
from recommender.summaries.cache import SummaryCache
from recommender.summaries.sentences import Sentence, split_sentences
from recommender.summaries.terms import term_counts

METHODS = (
    "lead",
    "tfidf-centroid",
    "tfidf-centroid-lead",
    "tfidf-textrank",
    "tfidf-textrank-lead",
    "dense-centroid",
    "dense-centroid-lead",
    "dense-textrank",
    "dense-textrank-lead",
)
# Chosen by eval/studies/summary_study.py on seeds/ (see docs/summaries.md).
DEFAULT_METHOD = "tfidf-centroid"
DEFAULT_SENTENCES = 3
MAX_SENTENCES = 20
MIN_WORDS = 6
LEAD_PRIOR = 1.0
DAMPING = 0.85
# Bumped whenever splitting or scoring changes, so cached scores of the old way are unused.
ALGORITHM_VERSION = 1


@dataclass(frozen=True, slots=True)
class Summary:
    """The chosen sentences (verbatim, in body order) and their positions among all the
    body's sentences."""

    sentences: tuple[str, ...]
    positions: tuple[int, ...]
    method: str


class Summarizer:
    """Summaries with one scoring method; dense methods encode with `embedder`.

    With a `cache`, the scores of a stored article (keyed by its content hash) are
    computed once: a changed article has another hash, so it is scored afresh.
    """

    def __init__(
        self,
        embedder: Embedder | None = None,
        method: str = DEFAULT_METHOD,
        cache: SummaryCache | None = None,
    ) -> None:
        if method not in METHODS:
            raise InvalidInputError(
                f"unknown summary method {method!r}; choose one of {', '.join(METHODS)}"
            )
        if method.startswith("dense") and embedder is None:
            raise InvalidInputError(f"summary method {method!r} needs an embedder")
        self.embedder = embedder
        self.method = method
        self.cache = cache

    @property
    def cache_method(self) -> str:
        """What the cached scores depend on besides the text."""
        model = (
            f"/{self.embedder.name}" if self.method.startswith("dense") and self.embedder else ""
        )
        return f"{self.method}{model}/v{ALGORITHM_VERSION}"

    def summarize(
        self,
        title: str,
        body: str,
        sentences: int = DEFAULT_SENTENCES,
        *,
        content_key: str | None = None,
    ) -> Summary:
        """The `sentences` most central sentences of `body`, in body order.

        `content_key` (an article's content hash) makes the scores cacheable.
        """
        check_sentences(sentences)
        split = split_sentences(body)
        scores = None
        if content_key is not None and self.cache is not None:
            scores = self.cache.get(content_key, self.cache_method)
            if scores is not None and len(scores) != len(split):
                scores = None  # written by another splitter: score again
        if scores is None:
            scores = self.scores(title, split)
            if content_key is not None and self.cache is not None:
                self.cache.put(content_key, self.cache_method, scores)
        positions = select(split, scores, sentences)
        return Summary(tuple(split[i].text for i in positions), tuple(positions), self.method)

    def summarize_article(self, article: Article, sentences: int = DEFAULT_SENTENCES) -> Summary:
        """A stored article's summary; its scores are cached under its content hash."""
        return self.summarize(
            article.title, article.body, sentences, content_key=article.content_hash
        )

    def scores(self, title: str, split: Sequence[Sentence]) -> list[float]:
        """One score per sentence (higher = more central)."""
        if not split:
            return []
        base = self.method.removesuffix("-lead")
        if base == "lead":
            return [1.0 / (1.0 + i) for i in range(len(split))]
        texts = [sentence.text for sentence in split]
        if base.startswith("tfidf"):
            vectors = tfidf_vectors([title, *texts])
        else:
            vectors = self._dense_vectors([title, *texts])
        title_vector, sentence_vectors = _dense_row(vectors[0]), vectors[1:]
        if base.endswith("centroid"):
            values = centroid_scores(sentence_vectors, title_vector)
        else:
            values = textrank_scores(sentence_vectors)
        if self.method.endswith("-lead"):
            values = values * lead_prior(len(split))
        return [float(value) for value in values]

    def _dense_vectors(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dimension); each distinct text is encoded once."""
        assert self.embedder is not None
        distinct = list(dict.fromkeys(texts))
        encoded = self.embedder.encode(distinct)
        row = {text: position for position, text in enumerate(distinct)}
        return np.asarray(encoded[[row[text] for text in texts]], dtype=np.float64)


def summarizer_for(index: ArticleIndex, method: str = DEFAULT_METHOD) -> Summarizer:
    """A summarizer with the index's embedder and the score cache in its directory."""
    return Summarizer(index.embedder, method, SummaryCache.in_directory(index.directory))


def check_sentences(sentences: int) -> None:
    if not 1 <= sentences <= MAX_SENTENCES:
        raise InvalidInputError(f"sentences must be between 1 and {MAX_SENTENCES}, got {sentences}")


def select(split: Sequence[Sentence], scores: Sequence[float], count: int) -> list[int]:
    """Positions of the `count` best candidates, in body order; earlier wins a tie.

    The summary opens with a sentence that stands on its own: while the first chosen one
    leans on an earlier sentence (`back_reference`), the best candidate left comes in. One
    that comes before it and stands alone opens the summary, and the weakest choice makes
    room; any other takes the leaning sentence's place. If no candidate left would open the
    summary standing alone, the first choice stays as it was.
    """
    candidates = [i for i, sentence in enumerate(split) if sentence.words >= MIN_WORDS]
    if len(candidates) < count:
        candidates = list(range(len(split)))
    ranked = sorted(candidates, key=lambda i: (-scores[i], i))
    chosen = sorted(ranked[:count])
    texts = [sentence.text for sentence in split]

    def leans(position: int) -> bool:
        return position > 0 and leans_on_earlier(texts[position], texts[:position])

    replaced, spare = list(chosen), ranked[count:]
    while replaced and leans(replaced[0]) and spare:
        coming = spare.pop(0)
        if coming < replaced[0] and not leans(coming):
            weakest = min(replaced, key=lambda i: (scores[i], -i))
            replaced = sorted([*(i for i in replaced if i != weakest), coming])
        else:
            replaced = sorted([*replaced[1:], coming])
    return chosen if replaced and leans(replaced[0]) else replaced


def lead_prior(count: int) -> np.ndarray:
    """(count,) weights: 1 + LEAD_PRIOR / (1 + position)."""
    return 1.0 + LEAD_PRIOR / (1.0 + np.arange(count, dtype=np.float64))


def tfidf_vectors(texts: Sequence[str]) -> sparse.csr_matrix:
    """Unit TF-IDF rows of `texts` over their own vocabulary: (len(texts), vocabulary) CSR.

    Sublinear tf; smooth idf with the texts themselves as the documents. Sparse: a body of
    many short sentences of distinct words made a dense matrix of gigabytes (an anonymous
    `POST /summary` of 4,000 such sentences took 810 MB).
    """
    counts = [term_counts(text) for text in texts]
    vocabulary = {word: i for i, word in enumerate(sorted({w for c in counts for w in c}))}
    rows = [row for row, found in enumerate(counts) for _ in found]
    columns = [vocabulary[word] for found in counts for word in found]
    values = [1.0 + math.log(count) for found in counts for count in found.values()]
    shape = (len(texts), max(len(vocabulary), 1))
    matrix = sparse.csr_matrix((values, (rows, columns)), shape=shape, dtype=np.float64)
    document_frequency = np.bincount(matrix.indices, minlength=shape[1])
    idf = np.log((1.0 + len(texts)) / (1.0 + document_frequency)) + 1.0
    weighted = sparse.csr_matrix(matrix.multiply(idf[None, :]))
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sparse.csr_matrix(sparse.diags(scale) @ weighted)


def centroid_scores(
    vectors: np.ndarray | sparse.csr_matrix, title_vector: np.ndarray
) -> np.ndarray:
    """Cosine of each row with the normalised sum of all rows and the title: (n,).

    vectors: (n, d) unit rows; title_vector: (d,) unit (or zero).
    """
    centroid = np.asarray(vectors.sum(axis=0)).ravel() + _dense_row(title_vector)
    norm = np.linalg.norm(centroid)
    if norm == 0:
        return np.zeros(vectors.shape[0])
    return np.asarray(vectors @ (centroid / norm)).ravel()


def textrank_scores(vectors: np.ndarray | sparse.csr_matrix, iterations: int = 100) -> np.ndarray:
    """PageRank over the cosine graph of the rows (no self loops, negative edges dropped).

    vectors: (n, d) unit rows -> (n,) stationary scores summing to 1.
    """
    count = vectors.shape[0]
    similarities = vectors @ vectors.T
    if sparse.issparse(similarities):
        similarities = similarities.toarray()
    weights = np.clip(similarities, 0.0, None)
    np.fill_diagonal(weights, 0.0)
    totals = weights.sum(axis=1, keepdims=True)
    # A sentence sharing nothing with the others spreads its vote evenly.
    transition = np.where(totals > 0, weights / np.where(totals > 0, totals, 1.0), 1.0 / count)
    rank = np.full(count, 1.0 / count)
    for _ in range(iterations):
        updated = (1.0 - DAMPING) / count + DAMPING * (transition.T @ rank)
        if np.abs(updated - rank).sum() < 1e-9:
            return updated
        rank = updated
    return rank


def _dense_row(row: np.ndarray | sparse.spmatrix) -> np.ndarray:
    if sparse.issparse(row):
        row = row.toarray()  # type: ignore[union-attr]
    return np.asarray(row).ravel()
