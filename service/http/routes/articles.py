"""Read endpoints on indexed articles: related, slots, the article, its topics, title search.

Related and slots never run the model (the stored vector is the query) and are cached per
index version: a hit is answered on the event loop without taking any lock. An article with
a stored related list (`newsrec precompute`) is answered on the event loop too: a few
SQLite reads, no ranking. Anything else is ranked in a worker thread. With
`explain=true` each item also says why it was picked (a few milliseconds more).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool

from recommender import RelatedFilters
from recommender.stories.page_lists import related_for_page
from recommender.topics import article_terms
from service.http.dependencies import ArticleId, Live, check_k
from service.http.related_reads import (
    answer,
    related_json,
    related_key,
    related_request,
    slots_request,
)
from service.http.schemas import (
    API_MAX_K,
    ArticleOut,
    ArticleSummaryOut,
    ArticleTopicsResponse,
    ErrorResponse,
    RelatedResponse,
    SearchResponse,
    SlotsResponse,
    topic_items,
)
from service.http.snapshot import Snapshot

router = APIRouter(tags=["articles"])
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No article with that id."}
}
_JSON = "application/json"
_EXPLAIN = Query(description="Add `why` and `reasons` to each item.")


# Routes with a suffix come before `/articles/{article_id:path}`, which would match them too.


@router.get(
    "/articles/{article_id:path}/related",
    response_model=RelatedResponse,
    responses={**_NOT_FOUND, 422: {"model": ErrorResponse}},
)
async def related(
    article_id: ArticleId,
    live: Live,
    k: Annotated[int, Query(ge=1, le=API_MAX_K)] = 10,
    since: Annotated[str | None, Query(description="ISO 8601 date or datetime.")] = None,
    until: Annotated[str | None, Query(description="ISO 8601; a bare date is inclusive.")] = None,
    exclude: Annotated[list[str] | None, Query(description="Ids to leave out (repeat).")] = None,
    topic: Annotated[str | None, Query(description="Only articles tagged with it.")] = None,
    max_age_days: Annotated[float | None, Query(ge=0)] = None,
    min_score: float | None = None,
    floor: Annotated[
        Literal["off", "calibrated"] | None,
        Query(description="The calibrated relevance floor; default: the service's setting."),
    ] = None,
    explain: Annotated[bool, _EXPLAIN] = False,
    exclude_slots: Annotated[
        bool, Query(description="Leave out the articles of the previous/next slots.")
    ] = False,
    max_per_story: Annotated[
        int | None, Query(ge=1, description="At most this many items of one story.")
    ] = None,
    diversity: Annotated[
        float, Query(ge=0, le=1, description="Maximal marginal relevance: 0 plain, 1 most varied.")
    ] = 0.0,
) -> Response:
    """The k most related articles (never itself or a near-duplicate of itself)."""
    check_k(k, live.service)
    excluded = frozenset(exclude or ())
    key = related_key(
        article_id, k, since, until, excluded, topic, max_age_days, min_score, explain, floor
    )
    filters = RelatedFilters(
        exclude_ids=excluded,
        since=since,
        until=until,
        max_age_days=max_age_days,
        min_score=min_score,
        topic=topic,
        calibrated_floor=None if floor is None else floor == "calibrated",
    )
    if exclude_slots or max_per_story is not None or diversity > 0.0:
        page = (exclude_slots, max_per_story, diversity)
        body = await _related_for_page(live, (*key, *page), article_id, k, filters, explain, page)
        return Response(body, media_type=_JSON)
    body = await answer(live, related_request(article_id, k, filters, explain=explain, key=key))
    return Response(body, media_type=_JSON)


@router.get("/articles/{article_id:path}/slots", response_model=SlotsResponse, responses=_NOT_FOUND)
async def slots(
    article_id: ArticleId, live: Live, explain: Annotated[bool, _EXPLAIN] = False
) -> Response:
    """Previous = the most related earlier article; next = the most related later one."""
    body = await answer(live, slots_request(article_id, explain=explain))
    return Response(body, media_type=_JSON)


async def _related_for_page(
    live: Live,
    key: tuple[object, ...],
    article_id: str,
    k: int,
    filters: RelatedFilters,
    explain: bool,
    page: tuple[bool, int | None, float],
) -> bytes:
    """A related list with the page options (exclude_slots, max_per_story, diversity: see
    story_lists.py): ranked live, cached like any other."""
    cached = live.cached(key)
    if cached is not None:
        return cached
    exclude_slots, max_per_story, diversity = page

    def render(snapshot: Snapshot) -> bytes:
        hits = related_for_page(
            snapshot.recommender,
            [article_id],
            k,
            filters,
            exclude_slots=exclude_slots,
            max_per_story=max_per_story,
            diversity=diversity,
            explain=explain,
        )[article_id]
        return related_json(article_id, hits)

    body: bytes = await run_in_threadpool(live.answer, key, render)
    return body


@router.get(
    "/articles/{article_id:path}/topics",
    response_model=ArticleTopicsResponse,
    responses=_NOT_FOUND,
    tags=["topics"],
)
def article_topics(article_id: ArticleId, live: Live) -> ArticleTopicsResponse:
    """The topics assigned when the article was indexed (computed now from its stored
    vector if the index was built untagged)."""
    with live.reading() as snapshot:
        assigned = snapshot.index.topics_of(article_id)
    if assigned is not None:
        return ArticleTopicsResponse.of_assigned(article_id, assigned)
    tagger = live.tagger()  # may run the model once (zero-shot); not under the index lock
    with live.reading() as snapshot:
        row_id = snapshot.index.row_id(article_id)
        vector = snapshot.index.vectors_of(np.asarray([row_id], dtype=np.int64))
        article = snapshot.index.article(article_id)
    terms = article_terms([article]) if tagger.reads_terms else None
    (assignment,) = tagger.tag(vector, terms=terms)
    return ArticleTopicsResponse(
        id=article_id,
        topics=topic_items(assignment),
        primary=assignment.primary,
        assigned_at_index_time=False,
    )


@router.get("/articles/{article_id:path}", response_model=ArticleOut, responses=_NOT_FOUND)
async def get_article(article_id: ArticleId, live: Live) -> Response:
    """The stored article, as it was written (extra fields included)."""
    record = await run_in_threadpool(_record, live, article_id)
    return Response(ArticleOut.model_validate(record).model_dump_json().encode(), media_type=_JSON)


def _record(live: Live, article_id: str) -> dict[str, Any]:
    with live.reading() as snapshot:
        return snapshot.index.article(article_id).to_record()


@router.get("/articles", response_model=SearchResponse)
def search(
    live: Live,
    q: Annotated[
        str, Query(max_length=200, description="Words that must all be in the title.")
    ] = "",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> SearchResponse:
    """Search titles (every word, case-insensitive), newest first; no query lists the newest."""
    with live.reading() as snapshot:
        found = snapshot.titles.search(q, limit)
    return SearchResponse(query=q, articles=[ArticleSummaryOut.of(s) for s in found])
