"""`newsrec`: one entry point with subcommands. Renders results; all logic is in the core.

Exit codes: 0 success, 2 bad input or an unknown id (stderr holds one readable line per
problem), 1 an unexpected failure (one line; set NEWSREC_DEBUG=1 for the traceback).
"""

from __future__ import annotations

import sys
import time
import warnings
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

# Typer vendors its own click; its usage errors derive from this class, not click's.
from typer._click.exceptions import ClickException, NoArgsIsHelpError

from embeddings import ModelNotInstalledError
from recommender import (
    ArticleNotFoundError,
    NewsrecError,
    RelatedArticle,
    RelatedFilters,
    build_embedder,
    build_recommender,
    load_articles,
    open_index,
)
from recommender.stories.page_lists import related_for_page
from recommender.system import configured_tagger, index_tagger
from recommender.writer import IndexWriter, WriteOptions
from service.cli import evaluate as cli_eval
from service.cli import lists as cli_lists
from service.cli import migrate as cli_migrate
from service.cli import output
from service.cli import serve as cli_serve
from service.cli import stories as cli_stories
from service.cli import summary as cli_summary
from service.cli import topics as cli_topics
from service.cli import tune as cli_tune
from service.cli.command_settings import CommandSettings, command_settings
from service.cli.options import AsJson, IndexDir
from service.cli.ray_engine import Engine, EngineOption, RayAddress, batch_job
from service.cli.topics_adapt import adapt_index_topics
from service.cli.write_hooks import CliWriteHooks
from service.http.failures import operator_failure
from service.settings import cli_debugging, quiet_library_output

EXIT_BAD_INPUT = 2

app = typer.Typer(
    name="newsrec",
    help="Related stories, previous/next slots and topics for a newsroom's articles.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

IdsFile = Annotated[
    Path | None, typer.Option("--ids-file", help="A file of ids, one per line ('-' = stdin).")
]
TopK = Annotated[int, typer.Option("-k", "--k", min=1, max=1000, help="How many related.")]
Explain = Annotated[
    bool, typer.Option("--explain", help="Say why each article was picked (a little slower).")
]


class RelevanceFloorChoice(StrEnum):
    off = "off"
    calibrated = "calibrated"


class BadInput(Exception):
    """Reported as one line and exit code 2; raised after partial output when needed."""


@app.callback()
def _run_settings(context: typer.Context) -> None:
    # The one place a run's settings come from; each command reads them through the context.
    context.obj = CommandSettings()


@app.command()
def index(
    context: typer.Context,
    files: Annotated[
        list[Path], typer.Argument(help="JSONL (.jsonl, .jsonl.gz), CSV or Parquet files.")
    ],
    index_dir: IndexDir = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Skip and count bad rows instead of failing.")
    ] = False,
    engine: EngineOption = Engine.local,
    ray_address: RayAddress = None,
    adapt_topics: Annotated[
        bool,
        typer.Option(
            "--adapt-topics",
            help="Then fit the topic tagger to the whole index, without labels (`newsrec "
            "topics adapt`), keep it in the index directory and retag every article.",
        ),
    ] = False,
) -> None:
    """Add or update articles; unchanged ones are skipped, and no text is encoded twice."""
    started = time.perf_counter()
    settings = command_settings(context, index_dir)
    # A dead cluster fails here, in seconds. With Ray, the actors encode and tag.
    job = batch_job(engine, settings, ray_address, index_tagger(settings))
    # Validate everything before opening the index or loading the model.
    batch = load_articles(files, skip_invalid=skip_invalid)
    embedder, tagger = (job.embedder, job.tagger) if job is not None else (None, None)
    with open_index(settings, writable=True, embedder=embedder, tagger=tagger) as article_index:
        writer = IndexWriter(
            build_recommender(settings, article_index),
            WriteOptions.for_batch(settings),
            CliWriteHooks(article_index, job),
        )
        # --adapt-topics: after the apply, before the lists are refreshed and the index saved.
        adapt = (lambda: adapt_index_topics(article_index, settings)) if adapt_topics else None
        report = writer.upsert(batch.articles, after_apply=adapt)
        total = len(article_index)
    output.index_summary(
        report, batch.invalid, total, settings.index_dir, time.perf_counter() - started
    )


@app.command()
def related(
    context: typer.Context,
    ids: Annotated[list[str] | None, typer.Argument(help="Article ids.")] = None,
    ids_file: IdsFile = None,
    k: TopK = 10,
    since: Annotated[
        str | None, typer.Option(help="Only articles published from (ISO 8601).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Only articles published until (ISO 8601).")
    ] = None,
    max_age_days: Annotated[
        float | None, typer.Option(help="Only articles within N days of the article.")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option(help="Ids to leave out (repeatable).")
    ] = None,
    min_score: Annotated[float | None, typer.Option(help="Drop results scoring below.")] = None,
    floor: Annotated[
        RelevanceFloorChoice | None,
        typer.Option(help="The calibrated relevance floor (default: NEWSREC_RELEVANCE_FLOOR)."),
    ] = None,
    topic: Annotated[str | None, typer.Option(help="Only articles tagged with this topic.")] = None,
    explain: Explain = False,
    exclude_slots: Annotated[
        bool, typer.Option("--exclude-slots", help="Leave out the previous/next slots' articles.")
    ] = False,
    max_per_story: Annotated[
        int | None, typer.Option("--max-per-story", min=1, help="At most N items of one story.")
    ] = None,
    diversity: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Maximal marginal relevance, 0 (off) to 1.")
    ] = 0.0,
    index_dir: IndexDir = None,
    as_json: AsJson = False,
) -> None:
    """The k most related articles of each id (never itself or a copy of itself)."""
    wanted = _collect_ids(ids, ids_file)
    filters = RelatedFilters(
        exclude_ids=frozenset(exclude or ()),
        since=since,
        until=until,
        max_age_days=max_age_days,
        min_score=min_score,
        topic=topic,
        calibrated_floor=None if floor is None else floor == RelevanceFloorChoice.calibrated,
    )
    settings = command_settings(context, index_dir)
    withheld: dict[str, int] = {}
    with open_index(settings) as article_index:
        known, unknown = _split_known(article_index, wanted)
        recommender = build_recommender(settings, article_index)
        if exclude_slots or max_per_story is not None or diversity > 0.0:
            lists = related_for_page(
                recommender,
                known,
                k,
                filters,
                exclude_slots=exclude_slots,
                max_per_story=max_per_story,
                diversity=diversity,
                explain=explain,
            )
        else:
            results = recommender.related_results(known, k, filters, explain=explain)
            lists = {article_id: found.items for article_id, found in results.items()}
            withheld = {article_id: found.withheld for article_id, found in results.items()}
    for article_id in wanted:
        if article_id in lists:
            output.related(article_id, lists[article_id], as_json, withheld.get(article_id))
    _fail_on_unknown(unknown)


@app.command()
def slots(
    context: typer.Context,
    ids: Annotated[list[str] | None, typer.Argument(help="Article ids.")] = None,
    ids_file: IdsFile = None,
    explain: Explain = False,
    index_dir: IndexDir = None,
    as_json: AsJson = False,
) -> None:
    """The previous and next article slots: the most related earlier and later stories."""
    wanted = _collect_ids(ids, ids_file)
    settings = command_settings(context, index_dir)
    with open_index(settings) as article_index:
        known, unknown = _split_known(article_index, wanted)
        found = build_recommender(settings, article_index).slots_many(known, explain=explain)
    for article_id in wanted:
        if article_id in found:
            output.slots(article_id, found[article_id], as_json)
    _fail_on_unknown(unknown)


@app.command()
def similar(
    context: typer.Context,
    title: Annotated[str, typer.Option("--title", help="Title of the new text.")],
    body: Annotated[str, typer.Option("--body", help="Body of the new text.")] = "",
    k: TopK = 10,
    index_dir: IndexDir = None,
    as_json: AsJson = False,
) -> None:
    """Related articles for a text that is not indexed (runs the model once)."""
    settings = command_settings(context, index_dir)
    with open_index(settings) as article_index:
        recommender = build_recommender(settings, article_index)
        hits: list[RelatedArticle] = recommender.related_to_text(title, body, k)
    output.similar(hits, as_json)


@app.command()
def delete(
    context: typer.Context,
    ids: Annotated[list[str], typer.Argument(help="Article ids to delete.")],
    index_dir: IndexDir = None,
) -> None:
    """Delete articles from the index."""
    settings = command_settings(context, index_dir)
    with open_index(settings, writable=True) as article_index:
        writer = IndexWriter(
            build_recommender(settings, article_index), WriteOptions.for_batch(settings)
        )
        outcome = writer.delete(ids)
    deleted = outcome.deleted
    output.line(f"deleted {deleted} article{'s' if deleted != 1 else ''}")
    _fail_on_unknown(outcome.missing)


@app.command()
def retag(
    context: typer.Context,
    model: Annotated[
        Path | None, typer.Option("--model", help="A topic model directory [default: zero-shot].")
    ] = None,
    index_dir: IndexDir = None,
) -> None:
    """Tag every indexed article again, from its stored vector (no text is re-encoded)."""
    settings = command_settings(context, index_dir)
    embedder = build_embedder(settings)
    with open_index(settings, writable=True, embedder=embedder) as article_index:
        tagger = configured_tagger(settings, embedder, model)
        writer = IndexWriter(
            build_recommender(settings, article_index), WriteOptions.for_batch(settings)
        )
        with output.progress_bar("tagging", len(article_index)) as advance:
            count = writer.retag(tagger, progress=advance)
    output.line(f"retagged {count:,} articles")


@app.command()
def info(context: typer.Context, index_dir: IndexDir = None, as_json: AsJson = False) -> None:
    """What the index holds and how it was built."""
    with open_index(command_settings(context, index_dir)) as article_index:
        output.info(article_index.info(), as_json)


cli_topics.register(app)
cli_eval.register(app)
cli_serve.register(app)
cli_summary.register(app)
cli_lists.register(app)
cli_migrate.register(app)
cli_stories.register(app)
cli_tune.register(app)


def _collect_ids(ids: list[str] | None, ids_file: Path | None) -> list[str]:
    collected = list(ids or [])
    if ids_file is not None:
        try:
            text = sys.stdin.read() if str(ids_file) == "-" else ids_file.read_text("utf-8")
        except OSError as error:
            raise BadInput(f"{ids_file}: cannot read ({error.strerror})") from None
        except UnicodeDecodeError:
            raise BadInput(f"{ids_file}: not valid UTF-8") from None
        collected.extend(line.strip() for line in text.splitlines() if line.strip())
    if not collected:
        raise BadInput("give at least one id, as arguments or with --ids-file")
    return collected


def _split_known(article_index: Any, wanted: list[str]) -> tuple[list[str], list[str]]:
    known = [article_id for article_id in wanted if article_id in article_index]
    unknown = [article_id for article_id in wanted if article_id not in article_index]
    return known, unknown


def _fail_on_unknown(unknown: list[str]) -> None:
    if unknown:
        for article_id in dict.fromkeys(unknown):
            output.error(str(ArticleNotFoundError(article_id)))
        raise typer.Exit(EXIT_BAD_INPUT)


def _quiet_libraries() -> None:
    """Keep library chatter (warnings, download bars) off a user's terminal."""
    warnings.simplefilter("ignore")
    quiet_library_output()


def main(argv: list[str] | None = None) -> int:
    """Console entry point: turns every known failure into one line on stderr."""
    _quiet_libraries()
    command = typer.main.get_command(app)
    try:
        # Without standalone mode, an explicit exit comes back as the return value.
        result = command.main(args=argv, prog_name="newsrec", standalone_mode=False)
    except typer.Exit as done:
        return done.exit_code
    except (typer.Abort, KeyboardInterrupt):
        output.error("interrupted")
        return 130
    except NoArgsIsHelpError as error:
        sys.stderr.write(error.format_message() + "\n")
        return EXIT_BAD_INPUT
    except ClickException as error:
        output.error(error.format_message())
        return EXIT_BAD_INPUT
    except (NewsrecError, BadInput) as error:
        output.error(str(error))
        return EXIT_BAD_INPUT
    except ModelNotInstalledError as error:
        output.error(str(error))
        return 1
    except Exception as error:  # the last line of defence: never a bare traceback
        known = operator_failure(error)  # a bad setting, an unreadable store, a full disk
        if known is not None:
            output.error(known)
            return EXIT_BAD_INPUT
        if cli_debugging():
            raise
        output.error(f"unexpected {type(error).__name__}: {error} (NEWSREC_DEBUG=1 shows more)")
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
