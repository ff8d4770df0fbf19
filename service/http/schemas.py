"""Request and response models of the HTTP API, apart from the core's domain objects.

Bounds live here (`Field(ge=1, le=100)`), so out-of-range input is a 422 before any
handler runs. Article bodies are validated once more by the core (`article_from_mapping`),
which is the one authority on the article format (no coercion, ISO 8601 dates).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from recommender import RelatedArticle
from recommender.index.records import ArticleSummary, AssignedTopics
from recommender.ranking.explain import Explanation
from recommender.summaries.summary import DEFAULT_SENTENCES, MAX_SENTENCES
from recommender.topics import TopicAssignment

# The largest k the HTTP API accepts (declared in the schema: 422 above); NEWSREC_MAX_K
# may lower it per service (ServiceSettings.allows_k).
API_MAX_K = 100
MAX_TEXT_CHARS = 200_000  # a long feature is ~50,000 characters; the body limit binds first


class Reasons(BaseModel):
    """What `why` says, as data."""

    topics: list[str] = Field(description="Topic labels both articles carry.")
    terms: list[str] = Field(
        description="The shared terms that weigh most in the TF-IDF similarity, as spelt."
    )
    coverage: Literal["earlier", "later", "same time", "undated"]
    days_apart: float | None

    @classmethod
    def of(cls, explanation: Explanation) -> Reasons:
        return cls.model_validate(explanation.to_dict())


class RelatedItem(BaseModel):
    """An item of a related list or a slot. `why` and `reasons` only with `explain=true`
    (they are left out otherwise, not null)."""

    id: str
    title: str
    score: float
    published: str | None
    source: str | None
    topics: list[str] = Field(description="Topic labels assigned at index time.")
    story: str | None = Field(default=None, description="The story it belongs to.")
    kind: Literal["story", "related"] | None = Field(
        default=None,
        description="Slots only: `story` when it is the nearest article of the same story on "
        "its side of the date, `related` when the story has none there and it is the most "
        "related article on that side.",
    )
    why: str | None = Field(default=None, description="Why it was picked, in one line.")
    reasons: Reasons | None = None

    @classmethod
    def of(cls, related: RelatedArticle) -> RelatedItem:
        item = cls(
            id=related.id,
            title=related.title,
            score=round(related.score, 6),
            published=related.published,
            source=related.source,
            topics=list(related.topics),
            story=related.story,
        )
        if related.kind is not None:
            item.kind = related.kind  # type: ignore[assignment]
        if related.explanation is not None:
            # Assigned only when explained: responses leave unset fields out.
            item.why = related.explanation.text
            item.reasons = Reasons.of(related.explanation)
        return item


class RelatedResponse(BaseModel):
    id: str
    related: list[RelatedItem]
    withheld: int | None = Field(
        default=None,
        description="Items of the top k left out because they scored under the relevance "
        "floor (`floor=calibrated`) or `min_score`; absent with the page options.",
    )


class SlotsResponse(BaseModel):
    id: str
    previous: RelatedItem | None = Field(
        description="The nearest earlier article of the same story, else the most related "
        "earlier article above the relevance floor (see `kind`), else null."
    )
    next: RelatedItem | None = Field(
        description="The nearest later article of the same story, else the most related "
        "later article above the relevance floor (see `kind`), else null."
    )


class StoryArticle(BaseModel):
    id: str
    title: str
    published: str | None
    source: str | None


class StoryResponse(BaseModel):
    story: str = Field(description="The story id (an editorial one as given in the input).")
    articles: list[StoryArticle] = Field(description="In time order, undated last.")


class StoriesResponse(BaseModel):
    stories: list[StoryResponse] = Field(description="Largest first, then by id.")
    total: int = Field(description="Stories matching, over all pages.")
    offset: int
    limit: int


class TextFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: str | None = Field(default=None, description="ISO 8601 date or datetime.")
    until: str | None = Field(default=None, description="ISO 8601; a bare date is inclusive.")
    exclude: list[str] = Field(default_factory=list, max_length=1000)
    topic: str | None = None
    max_age_days: float | None = Field(default=None, ge=0)
    min_score: float | None = None


class TextQuery(BaseModel):
    """A text that is not indexed: the model encodes it once; nothing is stored."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    body: str = Field(default="", max_length=MAX_TEXT_CHARS)
    k: int = Field(default=10, ge=1, le=API_MAX_K)
    published: str | None = Field(
        default=None, description="ISO 8601; lets the time boost favour nearby stories."
    )
    filters: TextFilters = Field(default_factory=TextFilters)
    explain: bool = Field(default=False, description="Add `why` and `reasons` to each item.")


class TextRelatedResponse(BaseModel):
    related: list[RelatedItem]


class SummaryResponse(BaseModel):
    id: str
    sentences: list[str] = Field(
        description="The most central sentences of the body, verbatim, in their order."
    )


class TextSummaryQuery(BaseModel):
    """A text to summarise; nothing is stored."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(default="", max_length=MAX_TEXT_CHARS)
    body: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    sentences: int = Field(default=DEFAULT_SENTENCES, ge=1, le=MAX_SENTENCES)


class TextSummaryResponse(BaseModel):
    sentences: list[str]


class TopicText(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    body: str = Field(default="", max_length=MAX_TEXT_CHARS)


class TopicItem(BaseModel):
    label: str
    score: float
    iptc: str | None = Field(description="IPTC Media Topics QCode, when the taxonomy has one.")
    confident: bool = Field(
        default=True,
        description="False for the primary topic listed when no topic cleared the threshold.",
    )


class TopicsResponse(BaseModel):
    topics: list[TopicItem] = Field(
        description="Labels at or above the threshold, best first; when none is, just the "
        "primary with confident=false. Never empty; the first is always the primary."
    )
    primary: str = Field(description="The best-scoring label (the first of `topics`).")

    @classmethod
    def of(cls, assignment: TopicAssignment) -> TopicsResponse:
        return cls(topics=topic_items(assignment), primary=assignment.primary)


def topic_items(assignment: TopicAssignment) -> list[TopicItem]:
    return [
        TopicItem(label=t.label, score=round(t.score, 4), iptc=t.iptc, confident=t.confident)
        for t in assignment.topics
    ]


class ArticleTopicsResponse(TopicsResponse):
    id: str
    assigned_at_index_time: bool = Field(
        description="False when the index was built untagged and the topics were computed now."
    )

    @classmethod
    def of_assigned(cls, article_id: str, assigned: AssignedTopics) -> ArticleTopicsResponse:
        return cls(
            id=article_id,
            topics=[
                TopicItem(
                    label=label, score=round(score, 4), iptc=iptc, confident=assigned.confident
                )
                for label, score, iptc in assigned.topics
            ],
            primary=assigned.primary,
            assigned_at_index_time=True,
        )


class ArticleIn(BaseModel):
    """An article as `newsrec index` reads it; any other field is kept as metadata."""

    model_config = ConfigDict(strict=True, extra="allow")

    id: str | None = Field(default=None, description="Required in bulk; optional in PUT.")
    title: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    body: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    published: str | None = Field(default=None, description="ISO 8601 date or datetime.")
    source: str | None = None
    url: str | None = None
    section: str | None = None
    topics: list[str] | None = Field(default=None, description="Gold labels, if any.")
    story: str | None = None

    def record(self) -> dict[str, Any]:
        """The raw row for the core's validation, extra fields included."""
        return {**self.model_dump(exclude={"id"}), **(self.model_extra or {}), "id": self.id}


class ArticleOut(BaseModel):
    """The stored record, exactly as written (extra fields included)."""

    model_config = ConfigDict(extra="allow")

    id: str
    title: str
    body: str
    published: str | None
    source: str | None
    url: str | None
    section: str | None
    topics: list[str] | None = Field(description="Gold labels given at write time, if any.")
    story: str | None


class BulkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    articles: list[ArticleIn] = Field(min_length=1)


class UpsertResponse(BaseModel):
    id: str
    status: Literal["added", "updated", "unchanged"]
    generation: int = Field(description="The index version this write produced.")


class BulkResponse(BaseModel):
    added: int
    updated: int
    unchanged: int
    encoded: int = Field(description="Distinct texts that went through the model.")
    generation: int


class ArticleSummaryOut(BaseModel):
    id: str
    title: str
    published: str | None
    source: str | None
    topics: list[str]

    @classmethod
    def of(cls, summary: ArticleSummary) -> ArticleSummaryOut:
        return cls(
            id=summary.id,
            title=summary.title,
            published=summary.published,
            source=summary.source,
            topics=list(summary.topics),
        )


class SearchResponse(BaseModel):
    query: str
    articles: list[ArticleSummaryOut]


class ReadyResponse(BaseModel):
    ready: bool
    articles: int | None
    generation: int | None
    embedder: str
    writable: bool
    error: str | None


class ErrorResponse(BaseModel):
    detail: Any = Field(description="A readable message (a list of problems for a 422).")
