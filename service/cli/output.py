"""How the CLI shows things: JSON lines on stdout, people-friendly text, errors on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from recommender import InvalidArticleError, RelatedArticle, Slots, UpsertReport
from recommender.index.options import IndexInfo

_stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def line(text: str) -> None:
    sys.stdout.write(text + "\n")


def error(message: str) -> None:
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()


def _json_line(value: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")


@contextmanager
def progress_bar(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A bar on stderr with rate and ETA; nothing at all when there is no work."""
    if total == 0:
        yield lambda _done: None
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=_stderr,
        transient=False,
    )
    with bar:
        task = bar.add_task(label, total=total)
        yield lambda done: bar.advance(task, done)


@contextmanager
def phased_progress() -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """Bars one after another: `start(label, total)` ends the previous bar, opens the next
    (one live display at a time), and returns its advance callback."""
    with ExitStack() as phases:

        def start(label: str, total: int) -> Callable[[int], None]:
            phases.close()
            return phases.enter_context(progress_bar(label, total))

        yield start


class _RateColumn(ProgressColumn):
    """Items per second. Rich's own estimate needs two updates in its window: a bar moved
    in a few large steps (a batch at a time) had none and showed `-/s`. Here the average
    since the start stands in; before the first step there is no rate to show."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed and task.completed and task.elapsed:
            speed = task.completed / task.elapsed
        return Text(f"{speed:,.1f}/s" if speed else "")


def index_summary(
    report: UpsertReport,
    invalid: list[InvalidArticleError],
    total: int,
    directory: Path,
    seconds: float,
) -> None:
    line(
        f"{report.added:,} added, {report.updated:,} updated, {report.unchanged:,} unchanged, "
        f"{len(invalid):,} skipped; {report.encoded:,} texts encoded; "
        f"{total:,} articles in {directory} ({seconds:.1f}s)"
    )
    if invalid:
        error(f"skipped {len(invalid):,} invalid rows; first: {invalid[0]}")


def related(
    article_id: str, hits: list[RelatedArticle], as_json: bool, withheld: int | None = None
) -> None:
    """`withheld`: items of the top k under the relevance floor or min_score (None: not
    counted, as with the page options)."""
    if as_json:
        found: dict[str, object] = {"id": article_id, "related": [hit.to_dict() for hit in hits]}
        if withheld is not None:
            found["withheld"] = withheld
        _json_line(found)
        return
    line(article_id)
    for rank, hit in enumerate(hits, start=1):
        line(f"  {rank:>3}. {_describe(hit)}")
        _why(hit, indent=7)
    if withheld:
        line(f"  ({withheld} more under the relevance floor withheld)")


def slots(article_id: str, found: Slots, as_json: bool) -> None:
    if as_json:
        _json_line(
            {
                "id": article_id,
                "previous": found.previous.to_dict() if found.previous else None,
                "next": found.next.to_dict() if found.next else None,
            }
        )
        return
    line(article_id)
    for label, slot in (("previous", found.previous), ("next", found.next)):
        # The kind says whether the slot continues the story or is only related.
        shown = f"[{slot.kind}] {_describe(slot)}" if slot else "-"
        line(f"  {label + ':':<9} {shown}")
        _why(slot, indent=12)


def similar(hits: list[RelatedArticle], as_json: bool) -> None:
    if as_json:
        _json_line({"related": [hit.to_dict() for hit in hits]})
        return
    for rank, hit in enumerate(hits, start=1):
        line(f"{rank:>3}. {_describe(hit)}")


def info(details: IndexInfo, as_json: bool) -> None:
    values = {
        "directory": str(details.directory),
        "articles": details.articles,
        "embedder": details.embedder,
        "dimension": details.dimension,
        "index_type": details.index_type,
        "generation": details.generation,
        "schema_version": details.schema_version,
    }
    if as_json:
        _json_line(values)
        return
    for key, value in values.items():
        line(f"{key:>15}: {value}")


def _why(hit: RelatedArticle | None, indent: int) -> None:
    if hit is not None and hit.why:
        line(" " * indent + f"why: {hit.why}")


def _describe(hit: RelatedArticle) -> str:
    published = (hit.published or "undated")[:16]
    source = f" ({hit.source})" if hit.source else ""
    return f"{hit.score:.3f}  {published:<16}  {hit.id}  {hit.title[:90]}{source}"
