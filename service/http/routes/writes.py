"""Write endpoints: upsert one, bulk upsert, delete. Each is committed and published before
it is answered, and is visible to the next request (single process).

They need `Authorization: Bearer <token>` when NEWSREC_API_TOKEN is set, and are refused
(403) by a read-only service. A reader worker forwards them to the one writer process.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool

from recommender import Article, article_from_mapping
from service.http.dependencies import ArticleId, Live, WriteAccess, service_settings
from service.http.schemas import ArticleIn, BulkRequest, BulkResponse, ErrorResponse, UpsertResponse
from service.settings import ServiceSettings

router = APIRouter(tags=["writes"], dependencies=[WriteAccess])
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in (
        (401, "No bearer token (NEWSREC_API_TOKEN is set)."),
        (403, "Wrong token, or the service is read-only."),
        (413, "Body over the size limit, or too many articles."),
        (422, "An article breaks the format."),
    )
}


@router.put(
    "/articles/{article_id:path}",
    response_model=UpsertResponse,
    responses={**_ERRORS, 201: {"model": UpsertResponse, "description": "Added."}},
)
async def put_article(
    article_id: ArticleId, payload: ArticleIn, request: Request, live: Live
) -> Response:
    """Add or replace one article: embedded, tagged and indexed before the answer."""
    if request.app.state.proxy is not None:
        return await request.app.state.proxy.forward(request)  # type: ignore[no-any-return]
    if payload.id is not None and payload.id != article_id:
        raise HTTPException(
            422, f"the body's id {payload.id!r} differs from the path's id {article_id!r}"
        )
    article = _article({**payload.record(), "id": article_id}, "body")
    report, generation = await run_in_threadpool(live.upsert, [article])
    status: Literal["added", "updated", "unchanged"] = (
        "added" if report.added else "updated" if report.updated else "unchanged"
    )
    answer = UpsertResponse(id=article_id, status=status, generation=generation)
    return Response(
        answer.model_dump_json(),
        status_code=201 if report.added else 200,
        media_type="application/json",
    )


@router.delete(
    "/articles/{article_id:path}",
    status_code=204,
    responses={**_ERRORS, 404: {"model": ErrorResponse, "description": "No such article."}},
)
async def delete_article(article_id: ArticleId, request: Request, live: Live) -> Response:
    """Delete one article."""
    if request.app.state.proxy is not None:
        return await request.app.state.proxy.forward(request)  # type: ignore[no-any-return]
    await run_in_threadpool(live.delete, article_id)
    return Response(status_code=204)


@router.post("/articles", response_model=BulkResponse, responses=_ERRORS)
async def bulk_upsert(
    payload: BulkRequest,
    request: Request,
    live: Live,
    settings: Annotated[ServiceSettings, Depends(service_settings)],
) -> Any:
    """Add or replace many articles in one write (at most NEWSREC_MAX_BULK_ARTICLES)."""
    if request.app.state.proxy is not None:
        return await request.app.state.proxy.forward(request)
    if len(payload.articles) > settings.max_bulk_articles:
        raise HTTPException(
            413,
            f"{len(payload.articles):,} articles in one request; at most "
            f"{settings.max_bulk_articles:,} per request (NEWSREC_MAX_BULK_ARTICLES)",
        )
    articles: list[Article] = []
    first_seen: dict[str, int] = {}
    for position, item in enumerate(payload.articles):
        where = f"articles[{position}]"
        if item.id is None:
            raise HTTPException(422, f"{where}: field 'id' is required")
        if item.id in first_seen:
            raise HTTPException(
                422, f"{where}: duplicate id {item.id!r} (first at articles[{first_seen[item.id]}])"
            )
        first_seen[item.id] = position
        articles.append(_article(item.record(), where))
    report, generation = await run_in_threadpool(live.upsert, articles)
    return BulkResponse(
        added=report.added,
        updated=report.updated,
        unchanged=report.unchanged,
        encoded=report.encoded,
        generation=generation,
    )


def _article(record: dict[str, Any], where: str) -> Article:
    """The core is the authority on the article format (strict types, ISO 8601 dates)."""
    try:
        return article_from_mapping(record)
    except ValueError as error:
        raise HTTPException(422, f"{where}: {error}") from None
