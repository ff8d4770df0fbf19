"""`newsrec migrate`: move an index's vectors to a Qdrant collection, or back to FAISS.

A thin layer over `recommender.index.migrate`; register it on the main app with `register(app)`.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Annotated

import typer

from recommender import open_index
from recommender.index.migrate import (
    DEFAULT_BATCH,
    DEFAULT_SAMPLE,
    MigrationReport,
    QdrantMigration,
    migrate_to_faiss,
    require_index,
)
from recommender.index.vectors.choice import BackendChoice
from service.cli import output
from service.cli.command_settings import command_settings
from service.cli.options import IndexDir


class Backend(StrEnum):
    qdrant = "qdrant"
    faiss = "faiss"


def migrate(
    context: typer.Context,
    to: Annotated[Backend, typer.Option("--to", help="Where the vectors go.")],
    qdrant_url: Annotated[
        str | None,
        typer.Option(
            "--qdrant-url",
            help="Qdrant's URL [default: $NEWSREC_QDRANT_URL, else local mode in the index "
            "directory].",
            show_default=False,
        ),
    ] = None,
    collection: Annotated[
        str | None,
        typer.Option(
            "--collection",
            help="Collection name [default: $NEWSREC_QDRANT_COLLECTION, else newsrec].",
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, max=10_000, help="Points per request.")
    ] = DEFAULT_BATCH,
    sample: Annotated[
        int, typer.Option("--sample", min=0, help="Points read back and compared after.")
    ] = DEFAULT_SAMPLE,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Copy afresh, overwriting the collection even when it is not known to be "
            "this index's.",
        ),
    ] = False,
    index_dir: IndexDir = None,
) -> None:
    """Move the index's vectors (no text is re-encoded); run again to resume or check."""
    started = time.perf_counter()
    settings = command_settings(context, index_dir)
    require_index(settings.index_dir)
    # Opened on the backend the index records, whatever NEWSREC_VECTOR_BACKEND says.
    settings = settings.model_copy(update={"vector_backend": None})
    with open_index(settings, writable=True) as article_index:
        if to is Backend.faiss:
            with output.progress_bar("loading", len(article_index)) as advance:
                report = migrate_to_faiss(article_index, progress=advance)
        else:
            target = BackendChoice.qdrant(
                qdrant_url or settings.qdrant_url, collection or settings.qdrant_collection
            )
            with (
                QdrantMigration.connect(article_index, target, replace=replace) as migration,
                output.progress_bar("copying", migration.to_copy) as advance,
            ):
                report = migration.run(batch=batch_size, sample=sample, progress=advance)
    _summary(report, time.perf_counter() - started)


def _summary(report: MigrationReport, seconds: float) -> None:
    if report.already:
        checked = f"; {report.sampled:,} sampled points checked" if report.sampled else ""
        output.line(
            f"already migrated: {report.articles:,} articles served from {report.target}"
            f"{checked}; nothing copied"
        )
    elif report.target == "FAISS":
        output.line(
            f"migrated {report.articles:,} articles to FAISS, rebuilt from the stored vectors "
            f"({seconds:.1f}s); the Qdrant collection is left as it is"
        )
    else:
        resumed = f", {report.resumed:,} already there from an interrupted run" * bool(
            report.resumed
        )
        output.line(
            f"migrated {report.articles:,} articles to {report.target}: {report.copied:,} "
            f"copied{resumed}; count verified, {report.sampled:,} sampled points equal to the "
            f"store's ({seconds:.1f}s)"
        )


def register(app: typer.Typer) -> None:
    """Add `migrate` to the main `newsrec` application."""
    app.command("migrate")(migrate)
