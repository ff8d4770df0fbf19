"""`newsrec precompute`: store every article's related list and slots ahead of requests.

    newsrec precompute [--all] [--index-dir DIR]

Related-by-id without filters (k up to NEWSREC_RELATED_LIST_DEPTH) and slots are then read
back instead of ranked live. Resumable: a second run ranks only articles without a list.
Once lists are stored, `newsrec index`, `newsrec delete` and the service's writes keep them
in step (see recommender/index/related_lists.py).
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from recommender import build_recommender, open_index
from recommender.writer import IndexWriter, WriteOptions
from service.cli import output
from service.cli.command_settings import command_settings
from service.cli.options import IndexDir


def register(app: typer.Typer) -> None:
    app.command()(precompute)


def precompute(
    context: typer.Context,
    index_dir: IndexDir = None,
    everything: Annotated[
        bool,
        typer.Option("--all", help="Rank every list again, not only the missing ones."),
    ] = False,
) -> None:
    """Store each article's related list and slots, so requests read them back."""
    started = time.perf_counter()
    settings = command_settings(context, index_dir)
    with open_index(settings, writable=True) as article_index:
        writer = IndexWriter(
            build_recommender(settings, article_index), WriteOptions.for_batch(settings)
        )
        # Then the manifest says so: a running service's readers reload.
        with output.phased_progress() as phases:
            filled = writer.fill_lists(everything=everything, progress=phases)
    output.line(
        f"{filled.stored:,} related lists ranked and stored; {filled.total:,} stored in all "
        f"({time.perf_counter() - started:.1f}s)"
    )
