"""Planning an upsert: which articles are new, changed or unchanged, and what the store
keeps of each besides the article (hashes, fingerprint, term vector, topics)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from recommender.articles import Article, content_hash
from recommender.errors import InvalidInputError
from recommender.index.fingerprint import text_signatures
from recommender.index.lexical import encode_terms, term_vectors
from recommender.index.records import AssignedTopics, PreparedArticle
from recommender.topics.assignment import TopicAssignment


@dataclass(frozen=True)
class UpsertReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    encoded: int = 0  # distinct texts that went through the embedder


@dataclass(frozen=True)
class UpsertPlan:
    changed: list[PreparedArticle]
    added: int
    unchanged: int
    texts_to_encode: int


def refuse_repeated_ids(articles: Sequence[Article]) -> None:
    # Two versions of one id in a batch would both be written: the store keeps the last,
    # but the vector index and the catalog would hold an entry for each.
    seen: set[str] = set()
    for article in articles:
        if article.id in seen:
            raise InvalidInputError(
                f"duplicate id {article.id!r} in one upsert; give each id at most once per batch"
            )
        seen.add(article.id)


def prepare_articles(articles: list[Article]) -> list[PreparedArticle]:
    """Derive what the store keeps besides the article: hashes, fingerprint, term vector."""
    if not articles:
        return []
    texts = [article.text for article in articles]
    signatures = text_signatures(texts)
    terms = encode_terms(term_vectors(texts))
    return [
        PreparedArticle(article, record_hash(article), signatures[position], terms[position])
        for position, article in enumerate(articles)
    ]


def assigned_topics(assignment: TopicAssignment) -> AssignedTopics:
    return AssignedTopics(
        tuple((topic.label, topic.score, topic.iptc) for topic in assignment.topics),
        assignment.primary,
        assignment.confident,
    )


def record_hash(article: Article) -> str:
    """Changes when any stored field changes, text or metadata."""
    return content_hash(json.dumps(article.to_record(), sort_keys=True, ensure_ascii=False))
