"""Reading a story: an article's story and its members, or a story's members by id."""

from __future__ import annotations

from recommender.errors import NewsrecError
from recommender.ranking.recommender import Recommender
from recommender.stories.store import StoryMember, founded_by


class StoryNotFoundError(NewsrecError, KeyError):
    """No story with that id in the index."""

    def __init__(self, story: str) -> None:
        self.story = story
        super().__init__(story)

    def __str__(self) -> str:
        return f"no story with id {self.story!r} in the index"


def story_of(recommender: Recommender, article_id: str) -> tuple[str, list[StoryMember]]:
    """An indexed article's story id and its articles in time order (undated last)."""
    stories = recommender.index.stories
    row_id = recommender.index.row_id(article_id)
    story = stories.stories_of([row_id]).get(row_id, founded_by(article_id))
    return story, stories.members(story)


def story_members(recommender: Recommender, story: str) -> list[StoryMember]:
    """A story's articles in time order (undated last); StoryNotFoundError if none."""
    members = recommender.index.stories.members(story)
    if not members:
        raise StoryNotFoundError(story)
    return members
