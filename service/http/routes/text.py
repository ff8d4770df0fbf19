"""Endpoints on texts that are not indexed: related articles and topics. Both run the model
once (outside the index's lock) and store nothing."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from recommender import InvalidInputError, RelatedArticle, RelatedFilters
from recommender.index.lexical import term_vectors
from service.http.dependencies import Live, check_k
from service.http.live_index import LiveIndex
from service.http.schemas import (
    ErrorResponse,
    RelatedItem,
    TextQuery,
    TextRelatedResponse,
    TopicsResponse,
    TopicText,
)

router = APIRouter()
_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorResponse, "description": "Bad bounds, date or topic."}
}


@router.post(
    "/related",
    response_model=TextRelatedResponse,
    response_model_exclude_unset=True,  # `why` only when explained
    responses=_INVALID,
    tags=["articles"],
)
async def related_to_text(query: TextQuery, live: Live) -> TextRelatedResponse:
    """Related articles for a new text (title + body), without indexing it."""
    check_k(query.k, live.service)
    filters = RelatedFilters(
        exclude_ids=frozenset(query.filters.exclude),
        since=query.filters.since,
        until=query.filters.until,
        max_age_days=query.filters.max_age_days,
        min_score=query.filters.min_score,
        topic=query.filters.topic,
    )
    hits = await run_in_threadpool(_related_to_text, live, query, filters)
    return TextRelatedResponse(related=[RelatedItem.of(hit) for hit in hits])


@router.post("/topics", response_model=TopicsResponse, responses=_INVALID, tags=["topics"])
async def topics_of_text(text: TopicText, live: Live) -> TopicsResponse:
    """Topics of a text with the configured tagger (zero-shot on the built-in taxonomy)."""
    return await run_in_threadpool(_topics_of_text, live, text)


def _related_to_text(
    live: LiveIndex, query: TextQuery, filters: RelatedFilters
) -> list[RelatedArticle]:
    # The text the core builds from title and body (Recommender.related_to_text): encoded
    # here, before the read lock, so a writer is not kept waiting while the model runs.
    live.embedder.prime([f"{query.title}\n{query.body}" if query.body else query.title])
    with live.reading() as snapshot:
        return snapshot.recommender.related_to_text(
            query.title,
            query.body,
            query.k,
            filters,
            published=query.published,
            explain=query.explain,
        )


def _topics_of_text(live: LiveIndex, text: TopicText) -> TopicsResponse:
    if not text.title.strip() and not text.body.strip():
        raise InvalidInputError("title and body are both empty")
    tagger = live.tagger()
    joined = f"{text.title}\n{text.body}" if text.body else text.title
    vector = live.embedder.encode([joined])
    # The terms an index would store for this text (a model with a lexical head reads them).
    terms = term_vectors([joined]) if tagger.reads_terms else None
    (assignment,) = tagger.tag(vector, terms=terms)
    return TopicsResponse.of(assignment)
