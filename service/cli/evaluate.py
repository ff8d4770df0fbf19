"""`newsrec eval related CORPUS`: a typer sub-application over `eval.quality.related_eval`.

Register it on the main app with `register(app)`. Progress goes to stderr (rich), the
metrics table to stdout. Commands raise newsrec errors; the main entry point turns them
into one line on stderr and exit code 2. The evaluation stack (ranx, bm25s, matplotlib)
is imported only when an evaluation runs: other commands never pay for it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from eval.quality.text_table import aligned_lines
from recommender import InvalidInputError
from service.cli.command_settings import command_settings

if TYPE_CHECKING:
    from eval.quality.related_eval import Progress as ProgressCallback

eval_app = typer.Typer(
    name="eval",
    help="Measure recommendation quality on a labelled corpus.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

# Kept in step with eval.quality.related_eval.SYSTEM_NAMES (not imported: see the module docstring).
DEFAULT_SYSTEMS = "random,recency,tfidf,bm25,dense,hybrid,default"


def register(app: typer.Typer) -> None:
    """Add the `eval` group to the main `newsrec` application."""
    app.add_typer(eval_app, name="eval")


@eval_app.command("related")
def related(
    context: typer.Context,
    corpus: Annotated[
        Path, typer.Argument(help="A JSONL or CSV corpus whose articles carry a `story`.")
    ],
    k: Annotated[
        int, typer.Option("--k", "-k", min=1, max=100, help="List length a reader sees.")
    ] = 10,
    systems: Annotated[
        str, typer.Option("--systems", help="Comma-separated systems to compare.")
    ] = DEFAULT_SYSTEMS,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write report.md and its plots here.")
    ] = None,
    via_http: Annotated[
        str | None,
        typer.Option("--via-http", help="Ask a running service (base URL) for `default`."),
    ] = None,
    limit_queries: Annotated[
        int | None, typer.Option("--limit-queries", min=1, help="A seeded sample of queries.")
    ] = None,
    index_dir: Annotated[
        Path | None,
        typer.Option(
            "--index-dir",
            help="Reuse the index here if it holds exactly CORPUS (else build it there) "
            "[default: a temporary index].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Rank every story-labelled article's related list with each system and score it."""
    from eval.quality.related_eval import check_systems, run_related_eval

    try:
        names = check_systems(systems.split(","))
    except InvalidInputError as error:
        raise typer.BadParameter(str(error), param_hint="--systems") from None
    with _progress() as on_progress:
        found = run_related_eval(
            corpus,
            k,
            names,
            report,
            via_http=via_http,
            limit_queries=limit_queries,
            index_dir=index_dir,
            settings=command_settings(context),
            on_progress=on_progress,
        )
    sys.stdout.write("\n".join(_tables(found)) + "\n")
    if report is not None:
        Console(stderr=True, highlight=False).print(f"report written to {report}")


@eval_app.command("stories")
def stories(
    context: typer.Context,
    corpus: Annotated[
        Path, typer.Argument(help="A JSONL or CSV corpus whose articles carry a `story`.")
    ],
    report: Annotated[
        Path | None, typer.Option("--report", help="Write stories.md and the sweep plot here.")
    ] = None,
    slot_queries: Annotated[
        int | None, typer.Option("--slot-queries", min=1, help="A seeded sample for slot rates.")
    ] = None,
    index_dir: Annotated[
        Path | None,
        typer.Option(
            "--index-dir",
            help="Start from a copy of the index here (it must hold exactly CORPUS; it is "
            "never written) [default: a temporary index].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Cluster the corpus into stories with its `story` hidden, and score it against them."""
    from eval.quality.stories_eval import run_stories_eval
    from eval.quality.stories_report import summary_lines

    with _progress() as on_progress:
        found = run_stories_eval(
            corpus,
            report,
            settings=command_settings(context),
            index_dir=index_dir,
            slot_queries=slot_queries,
            on_progress=on_progress,
        )
    sys.stdout.write("\n".join(summary_lines(found)) + "\n")
    if report is not None:
        Console(stderr=True, highlight=False).print(f"report written to {report}")


@contextmanager
def _progress() -> Iterator[ProgressCallback]:
    bars = Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    tasks: dict[str, Any] = {}

    def advance(task: str, done: int, total: int) -> None:
        if task not in tasks:
            tasks[task] = bars.add_task(task, total=total)
        bars.advance(tasks[task], done)

    with bars:
        yield advance


def _tables(found: dict[str, Any]) -> list[str]:
    k = found["k"]
    labels = {"coverage": f"cov@{k}", "diversity": f"ild@{k}", "duplicates": f"dup@{k}"}
    labels |= {"slot_fill": "slot_fill", "slot_same_story": "slot_prec"}
    labels |= {
        "slot_story": "story",
        "slot_filler": "filler",
    }  # eval.quality.slots.story_side_rates
    columns = [*found["accuracy_metrics"], *found["other_metrics"]]
    collapsed = found["collapsed"]
    return [
        f"{found['corpus']}: {found['queries']:,} queries, {found['articles']:,} articles, "
        f"embedder {found['embedder']}",
        *_table(found["systems"], columns, labels, found["metrics"], found["seconds"]),
        *_summary_lines(found["plain"]),
        "",
        f"near-duplicates collapsed ({collapsed['queries']:,} queries):",
        *_table(found["systems"], found["accuracy_metrics"], labels, collapsed["metrics"]),
        *_summary_lines(collapsed),
        *_page_option_lines(found.get("page_options", {}), k),
    ]


def _page_option_lines(options: dict[str, dict[str, float]], k: int) -> list[str]:
    """The default list with max_per_story / diversity: nDCG cost, diversity gain."""
    if not options:
        return []
    return [
        "",
        "page options of the default list (change against plain):",
        *(
            f"{name:<16} ndcg@{k} {figures[f'ndcg@{k}']:.4f} ({figures['ndcg_change']:+.4f})  "
            f"ild@{k} {figures['diversity']:.4f} ({figures['diversity_change']:+.4f})"
            for name, figures in options.items()
        ),
    ]


def _table(
    systems: list[str],
    columns: list[str],
    labels: dict[str, str],
    values: dict[str, dict[str, float]],
    seconds: dict[str, float] | None = None,
) -> list[str]:
    """A plain fixed-width table: readable in a terminal, a log or a pipe alike."""
    header = ["system", *(labels.get(c, c) for c in columns)]
    rows = [[system, *(f"{values[system][c]:.4f}" for c in columns)] for system in systems]
    if seconds is not None:
        header.append("seconds")
        for row, system in zip(rows, systems, strict=True):
            row.append(f"{seconds[system]:.1f}")
    return aligned_lines([header, *rows])


def _summary_lines(view: dict[str, Any]) -> list[str]:
    lines = []
    test, best = view.get("significance"), view.get("best_baseline")
    if test and best:
        primary = next(iter(test))
        p = test[primary]["p"]
        lines.append(
            f"default vs {best} ({primary}): p = {p:.3g} (paired t-test), "
            f"wins/ties/losses {test[primary]['wins']}/{test[primary]['ties']}/"
            f"{test[primary]['losses']}"
        )
    target = view.get("target")
    if target:
        verdict = "met" if target["met"] else "missed"
        lines.append(
            f"target: default error = {target['error_ratio']:.3f} x {target['reference']}'s "
            f"(bar {target['bar']}): {verdict}"
        )
    return lines
