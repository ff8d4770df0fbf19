"""A story-labelled corpus as an evaluation set: queries and "same story" relevance.

Every article whose `story` has at least one other member is a query; the other members of
its story are its relevant articles (grade 1). Articles without a story stay in the corpus
as candidates: they are never relevant, but they are not known to be unrelated either.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recommender import Article, InvalidInputError, load_articles

Qrels = dict[str, dict[str, int]]


@dataclass
class LabelledCorpus:
    """The whole corpus (every article is a candidate) plus the queries and their qrels."""

    path: Path
    articles: list[Article]
    queries: list[str]
    qrels: Qrels
    candidate_queries: int  # queries before any sampling
    positions: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.positions = {article.id: position for position, article in enumerate(self.articles)}

    def __len__(self) -> int:
        return len(self.articles)

    def article(self, article_id: str) -> Article:
        return self.articles[self.positions[article_id]]

    def story_of(self, article_id: str) -> str | None:
        return self.article(article_id).story

    def same_story(self, query_id: str, other_id: str) -> bool:
        return other_id in self.qrels.get(query_id, {})


def story_qrels(articles: Sequence[Article]) -> Qrels:
    """For each article of a story with >= 2 members: every other member, grade 1."""
    members: dict[str, list[str]] = defaultdict(list)
    for article in articles:
        if article.story is not None:
            members[article.story].append(article.id)
    return {
        member: {other: 1 for other in story if other != member}
        for story in members.values()
        if len(story) >= 2
        for member in story
    }


def sample_queries(queries: Sequence[str], limit: int | None, seed: int = 0) -> list[str]:
    """At most `limit` queries, a seeded uniform sample, kept in corpus order."""
    if limit is None or limit >= len(queries):
        return list(queries)
    if limit < 1:
        raise InvalidInputError(f"limit_queries must be >= 1, got {limit}")
    chosen = np.random.default_rng(seed).choice(len(queries), size=limit, replace=False)
    return [queries[position] for position in sorted(chosen)]


def load_labelled_corpus(
    path: Path, *, limit_queries: int | None = None, seed: int = 0
) -> LabelledCorpus:
    """Read a corpus file (any format `load_articles` reads; a bad row rejects the file)."""
    articles = load_articles([Path(path)]).articles
    qrels = story_qrels(articles)
    if not qrels:
        raise InvalidInputError(
            f"{path}: no article shares its `story` with another one: nothing to evaluate"
        )
    candidates = [article.id for article in articles if article.id in qrels]
    queries = sample_queries(candidates, limit_queries, seed)
    return LabelledCorpus(
        Path(path), articles, queries, {q: qrels[q] for q in queries}, len(candidates)
    )
