"""Which sentences summarise an article best? Every scorer against the lead baseline.

Method. A summary is good when it says what the story is about, and other reports of the
same story are an independent record of that: for every article of a story with at least
one other article (near-duplicates of it left out: a republished copy would reward
copying its lead), the summary of n sentences is compared with the story's other
articles, in two representations that none of the scorers uses as it is:

- TF-IDF (scikit-learn, English stop words, sublinear tf, idf fitted on the whole corpus);
- MiniLM (all-MiniLM-L6-v2 vectors of the summary text and of each full article).

Per representation: `sim` = mean cosine of the summary with the story's other articles;
`margin` = `sim` minus its mean cosine with articles outside the story (a generic summary
scores high on `sim` but not on `margin`); `ndcg@10` = the summary as a query over all
other articles, the story's articles relevant. `words` is the mean summary length, since
a longer summary trivially overlaps more. The difference from `lead` on each article is
resampled (paired bootstrap, 10,000 draws) for a 95% interval.

    python -m eval.studies.summary_study seeds/articles.jsonl [--sentences 3] [--no-dense]

The corpus is small (the seeds have 50 such articles), so only clear differences count.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from embeddings import Embedder, MiniLMEmbedder, ProgressCallback, WrappedEmbedder, l2_normalise
from recommender import Article, load_articles
from recommender.index.fingerprint import estimated_similarity, text_signatures
from recommender.summaries.sentences import split_sentences
from recommender.summaries.summary import METHODS, MIN_WORDS, Summarizer

DUPLICATE_THRESHOLD = 0.7
BOOTSTRAP_DRAWS = 10_000


class MemoEmbedder(WrappedEmbedder):
    """Encodes each distinct text once for the whole study, whichever scorer asks."""

    def __init__(self, inner: Embedder) -> None:
        super().__init__(inner)
        self.vectors: dict[str, np.ndarray] = {}
        self.encoded = 0
        self.seconds = 0.0

    def encode(
        self, texts: Sequence[str], *, progress: ProgressCallback | None = None
    ) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self.vectors))
        if missing:
            started = time.perf_counter()
            for text, vector in zip(missing, self.inner.encode(missing), strict=True):
                self.vectors[text] = vector
            self.seconds += time.perf_counter() - started
            self.encoded += len(missing)
        return np.stack([self.vectors[text] for text in texts])


def evaluated_articles(articles: list[Article]) -> dict[str, list[int]]:
    """For each evaluated article id, the positions of its story's other articles."""
    signatures = text_signatures([article.text for article in articles])
    references: dict[str, list[int]] = {}
    for position, article in enumerate(articles):
        if not article.story:
            continue
        copies = estimated_similarity(signatures[position], signatures) >= DUPLICATE_THRESHOLD
        others = [
            other
            for other, candidate in enumerate(articles)
            if candidate.story == article.story and other != position and not copies[other]
        ]
        if others:
            references[article.id] = others
    return references


def random_positions(body: str, count: int, generator: np.random.Generator) -> list[int]:
    split = split_sentences(body)
    candidates = [i for i, s in enumerate(split) if s.words >= MIN_WORDS] or list(range(len(split)))
    chosen = generator.choice(candidates, size=min(count, len(candidates)), replace=False)
    return sorted(int(i) for i in chosen)


def summaries(
    articles: list[Article], methods: Sequence[str], count: int, embedder: Embedder | None
) -> tuple[dict[str, list[str]], dict[str, float]]:
    """Summary texts per method (one per article, in corpus order) and seconds per method."""
    texts: dict[str, list[str]] = {}
    seconds: dict[str, float] = {}
    for method in methods:
        started = time.perf_counter()
        if method == "random":
            generator = np.random.default_rng(0)
            texts[method] = []
            for article in articles:
                split = split_sentences(article.body)
                chosen = random_positions(article.body, count, generator)
                texts[method].append(" ".join(split[i].text for i in chosen))
        else:
            summarizer = Summarizer(embedder, method)
            texts[method] = [
                " ".join(summarizer.summarize(a.title, a.body, count).sentences) for a in articles
            ]
        seconds[method] = time.perf_counter() - started
    return texts, seconds


def scores_of(
    summary_vectors: np.ndarray, article_vectors: np.ndarray, references: dict[int, list[int]]
) -> dict[str, np.ndarray]:
    """Per evaluated article (in `references` order): sim, margin and ndcg@10.

    summary_vectors: (n, d) unit rows, one per article; article_vectors: (n, d) unit rows.
    """
    similarity = summary_vectors @ article_vectors.T
    sims, margins, ndcgs = [], [], []
    for position, relevant in references.items():
        row = similarity[position]
        inside = np.zeros(len(row), dtype=bool)
        inside[relevant] = True
        outside = ~inside
        outside[position] = False
        sims.append(row[inside].mean())
        margins.append(row[inside].mean() - row[outside].mean())
        candidates = np.flatnonzero(inside | outside)
        ranked = candidates[np.argsort(-row[candidates], kind="stable")][:10]
        gains = inside[ranked] / np.log2(np.arange(2, len(ranked) + 2))
        ideal = (1.0 / np.log2(np.arange(2, min(len(relevant), 10) + 2))).sum()
        ndcgs.append(gains.sum() / ideal)
    return {"sim": np.asarray(sims), "margin": np.asarray(margins), "ndcg@10": np.asarray(ndcgs)}


def bootstrap_interval(differences: np.ndarray) -> tuple[float, float]:
    generator = np.random.default_rng(0)
    draws = generator.integers(0, len(differences), size=(BOOTSTRAP_DRAWS, len(differences)))
    means = differences[draws].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--sentences", type=int, default=3)
    parser.add_argument(
        "--no-dense", action="store_true", help="Skip the model: TF-IDF scorers and view only."
    )
    options = parser.parse_args()

    articles = load_articles([options.corpus]).articles
    by_position = {article.id: i for i, article in enumerate(articles)}
    references = {
        by_position[article_id]: others
        for article_id, others in evaluated_articles(articles).items()
    }
    embedder = None if options.no_dense else MemoEmbedder(MiniLMEmbedder())
    methods = ["random"] + [
        method for method in METHODS if embedder is not None or not method.startswith("dense")
    ]
    texts, seconds = summaries(articles, methods, options.sentences, embedder)

    views: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]] = {}
    tfidf = TfidfVectorizer(stop_words="english", sublinear_tf=True)
    tfidf.fit([article.text for article in articles])
    articles_tfidf = tfidf.transform([a.text for a in articles]).toarray()
    views["tfidf"] = (
        articles_tfidf,
        {m: tfidf.transform(texts[m]).toarray() for m in methods},
    )
    if embedder is not None:
        views["minilm"] = (
            embedder.encode([a.text for a in articles]),
            {m: l2_normalise(embedder.encode(texts[m])) for m in methods},
        )

    print(
        f"{len(references)} articles evaluated (of {len(articles)}), "
        f"{options.sentences} sentences per summary"
    )
    results: dict[str, dict[str, np.ndarray]] = {m: {} for m in methods}
    for view, (article_vectors, summary_vectors) in views.items():
        for method in methods:
            found = scores_of(summary_vectors[method], article_vectors, references)
            for metric, values in found.items():
                results[method][f"{view} {metric}"] = values
    columns = list(results[methods[0]])
    header = ["method", *columns, "words", "s/article"]
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for method in methods:
        words = np.mean([len(texts[method][p].split()) for p in references])
        cells = [f"{results[method][c].mean():.4f}" for c in columns]
        per_article = seconds[method] / len(articles)
        print(f"| {method} | " + " | ".join(cells) + f" | {words:.1f} | {per_article:.4f} |")
    print("\nDifference from lead, mean [95% paired bootstrap interval]:")
    for method in methods:
        if method == "lead":
            continue
        parts = []
        for column in columns:
            difference = results[method][column] - results["lead"][column]
            low, high = bootstrap_interval(difference)
            parts.append(f"{column} {difference.mean():+.4f} [{low:+.4f}, {high:+.4f}]")
        print(f"  {method}: " + "; ".join(parts))
    if embedder is not None:
        print(
            f"\nmodel: {embedder.encoded} distinct texts encoded in {embedder.seconds:.1f} s "
            "(sentences, titles, summaries and articles, each once)"
        )


if __name__ == "__main__":
    main()
