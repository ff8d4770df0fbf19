"""Summaries: of an indexed article (cached beside the index) or of any text (not stored).

The article is read under the index's read lock; the sentences are scored after it is
released, so a summary never holds up a writer (the default scorer runs no model anyway).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from recommender.summaries.cache import SummaryCache
from recommender.summaries.summary import (
    DEFAULT_METHOD,
    DEFAULT_SENTENCES,
    MAX_SENTENCES,
    Summarizer,
)
from service.http.dependencies import ArticleId, Live
from service.http.live_index import LiveIndex
from service.http.schemas import (
    ErrorResponse,
    SummaryResponse,
    TextSummaryQuery,
    TextSummaryResponse,
)

router = APIRouter(tags=["summaries"])
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No article with that id."},
    422: {"model": ErrorResponse},
}


async def summarizer(request: Request, live: Live) -> Summarizer:
    """One summarizer per app, with its score cache in the index directory."""
    found: Summarizer | None = getattr(request.app.state, "summarizer", None)
    if found is None:
        cache = SummaryCache.in_directory(live.settings.index_dir)
        found = Summarizer(live.embedder, DEFAULT_METHOD, cache)
        request.app.state.summarizer = found
    return found


SummarizerDep = Annotated[Summarizer, Depends(summarizer)]


@router.get(
    "/articles/{article_id:path}/summary", response_model=SummaryResponse, responses=_NOT_FOUND
)
async def article_summary(
    article_id: ArticleId,
    live: Live,
    summaries: SummarizerDep,
    sentences: Annotated[int, Query(ge=1, le=MAX_SENTENCES)] = DEFAULT_SENTENCES,
) -> SummaryResponse:
    """The most central sentences of the article's body, verbatim and in their order."""
    return await run_in_threadpool(summary_of, live, summaries, article_id, sentences)


@router.post("/summary", response_model=TextSummaryResponse, responses={422: _NOT_FOUND[422]})
async def text_summary(query: TextSummaryQuery, summaries: SummarizerDep) -> TextSummaryResponse:
    """The most central sentences of a text that is not indexed (nothing is stored)."""
    found = await run_in_threadpool(summaries.summarize, query.title, query.body, query.sentences)
    return TextSummaryResponse(sentences=list(found.sentences))


def summary_of(
    live: LiveIndex, summaries: Summarizer, article_id: str, sentences: int
) -> SummaryResponse:
    with live.reading() as snapshot:
        article = snapshot.index.article(article_id)
    found = summaries.summarize_article(article, sentences)
    return SummaryResponse(id=article_id, sentences=list(found.sentences))
