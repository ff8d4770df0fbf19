"""Story endpoints: an article's story, a story by id, and the stories listed largest first.

Each is a few SQLite reads under the index's read lock (no ranking, no model).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from recommender.dates import parse_bound
from recommender.errors import InvalidInputError
from recommender.stories.lookup import StoryNotFoundError, story_members, story_of
from recommender.stories.store import StoryMember
from service.http.dependencies import ArticleId, Live
from service.http.schemas import ErrorResponse, StoriesResponse, StoryArticle, StoryResponse

router = APIRouter(tags=["stories"])
_ARTICLE_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No article with that id."}
}
_STORY_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No story with that id."}
}

# SQLite integers are 64-bit: a bound far above any archive keeps larger values a 422.
MAX_STORY_SIZE = 2**31


@router.get(
    "/articles/{article_id:path}/story",
    response_model=StoryResponse,
    responses=_ARTICLE_NOT_FOUND,
)
def article_story(article_id: ArticleId, live: Live) -> StoryResponse:
    """The story the article belongs to, with all its articles in time order."""
    with live.reading() as snapshot:
        name, members = story_of(snapshot.recommender, article_id)
    return _story(name, members)


@router.get("/stories/{story_id:path}", response_model=StoryResponse, responses=_STORY_NOT_FOUND)
def get_story(story_id: str, live: Live) -> StoryResponse:
    """A story by id, with all its articles in time order (undated last)."""
    try:
        with live.reading() as snapshot:
            return _story(story_id, story_members(snapshot.recommender, story_id))
    except StoryNotFoundError as error:  # a story, not an article: mapped here, at the edge
        raise HTTPException(404, str(error)) from None


@router.get("/stories", response_model=StoriesResponse, responses={422: {"model": ErrorResponse}})
def list_stories(
    live: Live,
    min_size: Annotated[
        int, Query(ge=1, le=MAX_STORY_SIZE, description="At least this many articles.")
    ] = 2,
    since: Annotated[
        str | None, Query(description="Only stories with an article from then on (ISO 8601).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_STORY_SIZE)] = 0,
) -> StoriesResponse:
    """Stories largest first, each with its articles; paged with `offset` and `limit`."""
    try:
        moment = parse_bound(since, upper=False) if since is not None else None
    except ValueError as error:
        raise InvalidInputError(f"since: {error}") from None
    with live.reading() as snapshot:
        sizes = snapshot.index.stories.sizes(min_size=min_size, since=moment)
        page = [
            _story(name, story_members(snapshot.recommender, name))
            for name, _ in sizes[offset : offset + limit]
        ]
    return StoriesResponse(stories=page, total=len(sizes), offset=offset, limit=limit)


def _story(name: str, members: list[StoryMember]) -> StoryResponse:
    return StoryResponse(
        story=name,
        articles=[
            StoryArticle(id=m.id, title=m.title, published=m.published, source=m.source)
            for m in members
        ],
    )
