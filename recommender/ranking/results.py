"""What a ranking returns: related articles and slots as a reader sees them (title, date,
source, topics, story, and on request the reasons), built from picked (row id, score) hits."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from recommender.index.article_index import ArticleIndex
from recommender.index.records import ArticleSummary
from recommender.ranking.explain import ExplainedQuery, Explanation, explain
from recommender.ranking.query import Query

SLOT_KINDS = ("story", "related")


@dataclass(frozen=True, slots=True)
class RelatedArticle:
    id: str
    title: str
    score: float
    published: str | None
    source: str | None
    topics: tuple[str, ...] = ()
    explanation: Explanation | None = None  # only when asked for (`explain=True`)
    story: str | None = None
    kind: str | None = None  # a slot's: "story" (same story) or "related" (see SLOT_KINDS)

    @property
    def why(self) -> str | None:
        return self.explanation.text if self.explanation is not None else None

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "score": round(self.score, 6),
            "published": self.published,
            "source": self.source,
            "topics": list(self.topics),
            "story": self.story,
        }
        if self.kind is not None:
            found["kind"] = self.kind
        if self.explanation is not None:
            found["why"] = self.explanation.text
            found["reasons"] = self.explanation.to_dict()
        return found


@dataclass(frozen=True, slots=True)
class RelatedResult:
    """A related list and how many of the top k it withheld: items ranked in the top k
    that fell under the relevance floor or `min_score`."""

    items: list[RelatedArticle]
    withheld: int = 0


@dataclass(frozen=True, slots=True)
class Neighbours:
    """An article's candidates as (row_id, blended score) best first, and the weight of the
    dense side in its blend (see `Ranking.dense_weight_for`)."""

    dense_weight: float
    hits: list[tuple[int, float]]


@dataclass(frozen=True, slots=True)
class Slots:
    previous: RelatedArticle | None
    next: RelatedArticle | None


def _summaries(index: ArticleIndex, row_ids: list[int]) -> dict[int, ArticleSummary]:
    return index.summaries_by_row_id(list(set(row_ids)))


def materialise(
    index: ArticleIndex,
    picked: dict[str, list[tuple[int, float]]],
    explained: dict[str, ExplainedQuery] | None = None,
) -> dict[str, list[RelatedArticle]]:
    summaries = _summaries(index, [row_id for hits in picked.values() for row_id, _ in hits])
    found = {
        article_id: [_related(summaries, hit) for hit in hits]
        for article_id, hits in picked.items()
    }
    if explained is None:
        return found
    for article_id, items in found.items():
        reasons = explain(
            explained[article_id],
            [
                (index.terms_of(row_id), item.topics, item.published)
                for (row_id, _), item in zip(picked[article_id], items, strict=True)
            ],
        )
        found[article_id] = [
            replace(item, explanation=reason) for item, reason in zip(items, reasons, strict=True)
        ]
    return found


def slots_of(
    index: ArticleIndex,
    picked: dict[str, list[tuple[int, float] | None]],
    explained: dict[str, ExplainedQuery] | None = None,
) -> dict[str, Slots]:
    """(previous, next) picks, either possibly None, as `Slots` of materialised items."""
    materialised = materialise(
        index,
        {article_id: [hit for hit in pair if hit] for article_id, pair in picked.items()},
        explained,
    )
    own = _story_ids(index, list(picked))
    found = {}
    for article_id, pair in picked.items():
        items = iter(materialised[article_id])
        chosen = [next(items) if hit else None for hit in pair]
        found[article_id] = Slots(
            *(
                replace(item, kind="story" if item.story == own[article_id] else "related")
                if item is not None
                else None
                for item in chosen
            )
        )
    return found


def _story_ids(index: ArticleIndex, article_ids: list[str]) -> dict[str, str | None]:
    """The story of each stored article (by id)."""
    states = index.states(article_ids)
    summaries = _summaries(index, [state.row_id for state in states.values()])
    return {
        article_id: summaries[states[article_id].row_id].story
        if article_id in states and states[article_id].row_id in summaries
        else None
        for article_id in article_ids
    }


def explained_queries(index: ArticleIndex, queries: dict[str, Query]) -> dict[str, ExplainedQuery]:
    """What the explanations need of stored query articles: text, topics, date."""
    row_ids = {article_id: q.row_id for article_id, q in queries.items() if q.row_id is not None}
    articles = index.articles_by_row_id(list(row_ids.values()))
    summaries = index.summaries_by_row_id(list(row_ids.values()))
    return {
        article_id: ExplainedQuery(
            articles[row_id].text,
            queries[article_id].terms,
            summaries[row_id].topics,
            queries[article_id].published,
        )
        for article_id, row_id in row_ids.items()
    }


def _related(summaries: dict[int, ArticleSummary], hit: tuple[int, float]) -> RelatedArticle:
    found = summaries[hit[0]]
    return RelatedArticle(
        found.id,
        found.title,
        # The neighbour bonus can lift a score past 1; the order is ranked on the raw score
        # and a reader sees the scores' usual bound.
        min(hit[1], 1.0),
        found.published,
        found.source,
        found.topics,
        story=found.story,
    )


def best_first(picked: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Rows from past the pool join a list only when the pool ran out, and may outscore some
    of its rows: show the list best first. (Stored lists keep pick order, so that their
    first k items are the live answer for k.)"""
    return sorted(picked, key=lambda hit: -hit[1])
