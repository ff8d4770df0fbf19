"""`newsrec story ID`, `newsrec stories` and `newsrec stories recluster`.

    newsrec story ID [--json]                 # the article's story, its articles in time order
    newsrec stories [--json] [--min-size N]   # every story, largest first, with its articles
    newsrec stories recluster                 # forget the clustered stories, assign afresh
    newsrec stories tune LABELLED.jsonl [--folds 5] [--dry-run] [--reset]
                                              # learn the clustering from the site's labels

With `--json` each story is one line: {"story": ID, "articles": [{"id", "title",
"published", "source"}, ...]}, articles oldest first (undated last). All logic is in
recommender/stories/clustering.py (tuning: recommender/stories/tuning.py); this module
only renders.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from recommender import ArticleIndex, Settings, build_recommender, open_index
from recommender.errors import InvalidInputError
from recommender.stories.lookup import story_members, story_of
from recommender.stories.profile import (
    TUNED_STORY_SETTINGS,
    remove_story_profile,
    save_story_profile,
    story_profile_path,
)
from recommender.stories.store import StoryMember
from recommender.stories.tuning import StoryTuningResult, read_story_labels, tune_stories
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
    assigned, total = _recluster(settings)
    output.line(
        f"{assigned:,} articles assigned; {total:,} stories "
        f"({time.perf_counter() - started:.1f}s); stored lists whose slots changed are "
        "ranked again by `newsrec precompute`"
    )


@stories_app.command("tune")
def tune(
    context: typer.Context,
    labels_file: Annotated[
        Path | None,
        typer.Argument(
            help='JSONL of {"id", "story"} lines (a corpus file with `story` fields will do).',
            show_default=False,
        ),
    ] = None,
    folds: Annotated[int, typer.Option(min=2, max=20, help="Cross-validation folds.")] = 5,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report only; write no profile.")
    ] = False,
    reset: Annotated[
        bool,
        typer.Option("--reset", help="Remove the index's story profile (back to the default)."),
    ] = False,
    index_dir: IndexDir = None,
) -> None:
    """Learn the story clustering from the site's story labels; keep it (story-profile.json)
    only if it beats the default on held-out stories, then recluster."""
    started = time.perf_counter()
    settings = command_settings(context, index_dir)
    if reset:
        if labels_file is not None or dry_run:
            raise InvalidInputError("--reset takes no labels file and no --dry-run")
        if not story_profile_path(settings.index_dir).exists():
            output.line("no story profile to remove")
            return
        assigned, total = _recluster(
            settings, first=lambda: remove_story_profile(settings.index_dir)
        )
        output.line(
            f"story profile removed; reclustered: {assigned:,} articles in {total:,} stories"
        )
        return
    if labels_file is None:
        raise InvalidInputError("give a labels file (or --reset)")
    labels = read_story_labels(labels_file)  # before the index opens: a bad file costs nothing
    with open_index(settings) as article_index, output.phased_progress() as start:
        # Compared with the shipped default (and any setting given explicitly), not with an
        # earlier profile: a profile must earn its place against what ships.
        assigner = build_story_assigner(settings, article_index, use_profile=False)
        result = tune_stories(
            article_index, assigner, labels, folds=folds, on_progress=_stages(start)
        )
    _report(result)
    if not result.accepted:
        raise InvalidInputError(
            "the tuned clustering does not beat the default on held-out stories "
            "(a positive gain with p < 0.05 over stories); no story profile written"
        )
    if dry_run:
        output.line("dry run: no story profile written")
        return
    assigned, total = _recluster(
        settings, first=lambda: save_story_profile(settings.index_dir, result.profile())
    )
    output.line(
        f"story profile written to {story_profile_path(settings.index_dir)}; "
        f"reclustered: {assigned:,} articles in {total:,} stories "
        f"({time.perf_counter() - started:.1f}s); stored lists whose slots changed are "
        "ranked again by `newsrec precompute`"
    )


def _report(result: StoryTuningResult) -> None:
    output.line(
        f"{result.labelled:,} labelled articles in {result.stories:,} stories "
        f"({result.skipped_labels:,} labels not indexed), {result.folds} folds by story, "
        f"{result.points} settings tried"
    )
    output.line(
        f"held-out BCubed F1: default {result.held_out_default:.4f}, tuned "
        f"{result.held_out_tuned:.4f}; mean of each article's: default "
        f"{result.article_f1_default:.4f}, tuned {result.article_f1_tuned:.4f} "
        f"(paired t-test over stories p = {result.story_p_value:.2g}; over articles "
        f"p = {result.p_value:.2g})"
    )
    chosen = ", ".join(
        f"{name}={getattr(result.tuned, attribute):g}"
        for name, attribute in TUNED_STORY_SETTINGS.items()
    )
    output.line(f"best on all labels: {chosen}")
    each = "; ".join(
        " ".join(f"{getattr(point, attribute):g}" for attribute in TUNED_STORY_SETTINGS.values())
        for point in result.fold_choices
    )
    output.line(f"each fold's choice (same order): {each}")
    if result.editorial_labelled:
        output.line(
            f"note: {result.editorial_labelled:,} labelled articles hold an editorial story "
            "(indexed with a `story` field): a recluster leaves them there; index the corpus "
            "without its stories to let the clustering place them"
        )


def _stages(
    start: Callable[[str, int], Callable[[int], None]],
) -> Callable[[str, int, int], None]:
    """The tuning's (stage, done, total) as one bar per stage."""
    bars: dict[str, tuple[Callable[[int], None], list[int]]] = {}

    def advance(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            bars[stage] = (start(stage, total), [0])
        step, seen = bars[stage]
        step(done - seen[0])
        seen[0] = done

    return advance


def _recluster(settings: Settings, *, first: Callable[[], object] | None = None) -> tuple[int, int]:
    """What `newsrec stories recluster` does: (articles assigned, stories). `first` (a story
    profile written or removed) runs once the write lock is held, so a running writer (the
    service) refuses the command before the profile changes, not between the two; a
    recluster cut short leaves the new profile and the articles not reached pending
    (`stories recluster` redoes it)."""
    # Opened without the writes' assigner: it would read the profile before `first` changes
    # it (and refuse a damaged one that --reset is there to remove).
    unassigned = settings.model_copy(update={"assign_stories": False})
    with open_index(unassigned, writable=True) as article_index:
        if first is not None:
            first()
        assigner = build_story_assigner(settings, article_index)
        with output.progress_bar("assigning", len(article_index)) as advance:
            assigned = assigner.recluster(progress=advance)
        article_index.save()  # a new store generation: readers reload
        return assigned, article_index.stories.count()


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
