"""The values the article store reads and writes: an article prepared for writing, its
stored state, its assigned topics, its summary, and the per-article arrays loaded in memory."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from recommender.articles import Article

ARTICLE_COLUMNS = "id, title, body, published, source, url, section, topics, story, extra"


@dataclass(frozen=True, slots=True)
class StoredState:
    """What the store already knows about an article id, to classify an upsert."""

    row_id: int
    content_hash: str
    record_hash: str


@dataclass(frozen=True, slots=True)
class PreparedArticle:
    """An article with everything derived from it that the store keeps."""

    article: Article
    record_hash: str
    fingerprint: np.ndarray  # (SIGNATURE_SIZE,) uint32
    terms: bytes  # hashed term frequencies, see lexical.encode_terms


@dataclass(frozen=True, slots=True)
class AssignedTopics:
    """Topics a tagger gave an article: (label, score, iptc) best first, and the primary.

    `confident` is False when no topic cleared the threshold: `topics` then holds just the
    primary (stored as [label, score, iptc, false]), which no topic filter matches.
    """

    topics: tuple[tuple[str, float, str | None], ...]
    primary: str
    confident: bool = True

    def to_json(self) -> str:
        rows = [list(topic) for topic in self.topics]
        if not self.confident:
            rows = [[*row, False] for row in rows]
        return json.dumps(rows)

    @classmethod
    def from_columns(cls, topics: str | None, primary: str | None) -> AssignedTopics | None:
        if topics is None or primary is None:
            return None
        rows = json.loads(topics)
        if not rows:
            # Written before the primary was always listed: read as untagged, so readers
            # score the stored vector again (`newsrec retag` rewrites it).
            return None
        confident = all(len(t) < 4 or t[3] for t in rows)
        return cls(tuple((t[0], float(t[1]), t[2]) for t in rows), primary, confident)

    @property
    def labels(self) -> tuple[str, ...]:
        """Labels that cleared the threshold, what topic filters match (may be empty)."""
        return tuple(topic[0] for topic in self.topics) if self.confident else ()


@dataclass(frozen=True, slots=True)
class ArticleSummary:
    """What a related list shows of an article, without its body."""

    id: str
    title: str
    published: str | None
    source: str | None
    topics: tuple[str, ...]
    story: str | None = None  # None only where a summary is built without the store


@dataclass(frozen=True, slots=True)
class CatalogRows:
    """Per-article arrays the ranking needs in memory, ordered by row_id.

    row_ids: (n,) int64; starts, ends: (n,) float64, NaN when undated;
    fingerprints: (n, SIGNATURE_SIZE) uint32
    """

    row_ids: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    fingerprints: np.ndarray
    topics: list[tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class PointRows:
    """What a vector engine holds of some articles, ordered by row_id.

    row_ids: (m,) int64; vectors: (m, dimension) float32; starts, ends: (m,) float64, NaN
    when undated; topics: the labels assigned at index time.
    """

    row_ids: np.ndarray
    vectors: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    topics: list[tuple[str, ...]]


def article_from_row(row: Sequence[Any]) -> Article:
    article_id, title, body, published, source, url, section, topics, story, extra = row
    return Article(
        id=article_id,
        title=title,
        body=body,
        published=published,
        source=source,
        url=url,
        section=section,
        topics=tuple(json.loads(topics)) if topics is not None else None,
        story=story,
        extra=json.loads(extra),
    )


def labels_of(topics: str | None, primary: str | None) -> tuple[str, ...]:
    assigned = AssignedTopics.from_columns(topics, primary)
    return assigned.labels if assigned else ()


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
