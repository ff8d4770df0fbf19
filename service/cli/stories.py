"""`newsrec story ID`, `newsrec stories` and `newsrec stories recluster`.

    newsrec story ID [--json]                 # the article's story, its articles in time order
    newsrec stories [--json] [--min-size N]   # every story, largest first, with its articles
    newsrec stories recluster                 # forget the clustered stories, assign afresh

With `--json` each story is one line: {"story": ID, "articles": [{"id", "title",
"published", "source"}, ...]}, articles oldest first (undated last). All logic is in
recommender/stories/clustering.py; this module only renders.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from recommender import ArticleIndex, build_recommender, open_index
from recommender.stories.lookup import story_members, story_of
from recommender.stories.store import StoryMember
from recommender.system import build_story_assigner
from service.cli import output
from service.cli.command_settings import command_settings
from service.cli.options import AsJson, IndexDir

stories_app = typer.Typer(
    name="stories",
    help="Stories: every indexed article belongs to one (see `newsrec story ID`).",
    invoke_without_command=True,
    rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    app.command("story")(story)
    app.add_typer(stories_app, name="stories")


def story(
    context: typer.Context,
    article_id: Annotated[str, typer.Argument(help="An indexed article's id.")],
    index_dir: IndexDir = None,
    as_json: AsJson = False,
) -> None:
    """The story an article belongs to, with all its articles in time order."""
    settings = command_settings(context, index_dir)
    with open_index(settings) as article_index:
        found, members = story_of(build_recommender(settings, article_index), article_id)
    _show(found, members, as_json)


@stories_app.callback()
def stories(
    context: typer.Context,
    min_size: Annotated[
        int, typer.Option("--min-size", min=1, help="Only stories with at least N articles.")
    ] = 1,
    index_dir: IndexDir = None,
    as_json: AsJson = False,
) -> None:
    """Every story, largest first, with all its articles (no limit, no paging)."""
    if context.invoked_subcommand is not None:
        return
    settings = command_settings(context, index_dir)
    with open_index(settings) as article_index:
        recommender = build_recommender(settings, article_index)
        for name, _ in article_index.stories.sizes(min_size=min_size):
            _show(name, story_members(recommender, name), as_json)


@stories_app.command("recluster")
def recluster(context: typer.Context, index_dir: IndexDir = None) -> None:
    """Forget the clustered stories and assign every article afresh, oldest first
    (editorial stories, from the input's `story`, stay as they are)."""
    started = time.perf_counter()
    settings = command_settings(context, index_dir)
    with open_index(settings, writable=True) as article_index:
        assigner = build_story_assigner(settings, article_index)
        with output.progress_bar("assigning", len(article_index)) as advance:
            assigned = assigner.recluster(progress=advance)
        article_index.save()  # a new store generation: readers reload
        total = article_index.stories.count()
    output.line(
        f"{assigned:,} articles assigned; {total:,} stories "
        f"({time.perf_counter() - started:.1f}s); stored lists whose slots changed are "
        "ranked again by `newsrec precompute`"
    )


@contextmanager
def assigned_after(article_index: ArticleIndex) -> Iterator[None]:
    """Hold story assignment back while the block writes, then assign what is pending with
    a progress bar (a large first index assigns for a while). Leaving early (an error)
    assigns nothing: the articles stay pending, for the next write."""
    assigner, article_index.story_assigner = article_index.story_assigner, None
    try:
        yield
    finally:
        article_index.story_assigner = assigner
    if assigner is not None:
        pending = len(article_index.stories.pending())
        with output.progress_bar("assigning stories", pending) as advance:
            assigner.assign_pending(progress=advance)


def story_record(name: str, members: list[StoryMember]) -> dict[str, Any]:
    return {
        "story": name,
        "articles": [
            {"id": m.id, "title": m.title, "published": m.published, "source": m.source}
            for m in members
        ],
    }


def _show(name: str, members: list[StoryMember], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(story_record(name, members), ensure_ascii=False) + "\n")
        return
    output.line(f"{name} ({len(members)} article{'s' if len(members) != 1 else ''})")
    for member in members:
        published = (member.published or "undated")[:16]
        source = f" ({member.source})" if member.source else ""
        output.line(f"  {published:<16}  {member.id}  {member.title[:90]}{source}")
