"""How much of a full-length article should the dense model read?

Ranks every article of a story-labelled corpus against all others by cosine similarity and
scores "same story" relevance with ranx, for: MiniLM on the first 256 tokens (truncation),
MiniLM chunk-and-pool over 2 and 4 windows of 256 tokens, and TF-IDF cosine over the whole
text as the lexical reference. Prints quality and encoding time per variant.

    python -m eval.studies.chunking_study seeds/articles.jsonl
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
from ranx import Qrels, Run, evaluate
from sklearn.feature_extraction.text import TfidfVectorizer

from embeddings import MiniLMEmbedder
from recommender import Article, load_articles

METRICS = ["ndcg@10", "mrr", "precision@5", "recall@10"]


def story_qrels(articles: list[Article]) -> dict[str, dict[str, int]]:
    """Every other article of the same story is relevant; queries need at least one."""
    by_story: dict[str, list[str]] = {}
    for article in articles:
        if article.story:
            by_story.setdefault(article.story, []).append(article.id)
    qrels = {}
    for members in by_story.values():
        for member in members:
            others = {other: 1 for other in members if other != member}
            if others:
                qrels[member] = others
    return qrels


def cosine_run(
    articles: list[Article], similarity: np.ndarray, queries: set[str]
) -> dict[str, dict[str, float]]:
    """similarity: (n, n). The top 100 others of each query, self excluded."""
    run = {}
    for row, article in enumerate(articles):
        if article.id not in queries:
            continue
        scores = similarity[row].copy()
        scores[row] = -np.inf
        top = np.argsort(-scores)[:100]
        run[article.id] = {articles[i].id: float(scores[i]) for i in top}
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    arguments = parser.parse_args()
    articles = load_articles([arguments.corpus]).articles
    texts = [article.text for article in articles]
    qrels_dict = story_qrels(articles)
    qrels = Qrels(qrels_dict)
    print(f"{len(articles)} articles, {len(qrels_dict)} queries with a same-story article")

    results: list[tuple[str, dict[str, float], float]] = []
    tfidf = TfidfVectorizer(sublinear_tf=True, stop_words="english").fit_transform(texts)
    lexical = (tfidf @ tfidf.T).toarray()
    results.append(("tfidf (whole text)", _scores(articles, lexical, qrels, qrels_dict), 0.0))

    MiniLMEmbedder().encode(["warm-up: load the model outside the timings"])
    for chunks in (1, 2, 4):
        embedder = MiniLMEmbedder(max_chunks=chunks)
        embedder.encode(["warm-up"])
        started = time.perf_counter()
        vectors = embedder.encode(texts)
        seconds = time.perf_counter() - started
        label = "minilm truncate 256" if chunks == 1 else f"minilm chunk-pool x{chunks}"
        results.append((label, _scores(articles, vectors @ vectors.T, qrels, qrels_dict), seconds))

    print(f"{'variant':<24}" + "".join(f"{m:>13}" for m in METRICS) + f"{'encode s':>10}")
    for label, scores, seconds in results:
        row = "".join(f"{scores[m]:>13.4f}" for m in METRICS)
        print(f"{label:<24}{row}{seconds:>10.2f}")


def _scores(
    articles: list[Article], similarity: np.ndarray, qrels: Qrels, qrels_dict: dict[str, Any]
) -> dict[str, float]:
    run = Run(cosine_run(articles, similarity, set(qrels_dict)))
    return dict(evaluate(qrels, run, METRICS))


if __name__ == "__main__":
    main()
