"""`newsrec tune`: learn the ranking's weights from the site's own labels.

    newsrec tune LABELLED.jsonl [--folds 5] [--dry-run] [--reset] [--index-dir DIR]

Writes `ranking-profile.json` into the index directory when the tuned weights beat the
current ranking on held-out folds (see recommender/ranking/tuning.py), then ranks the stored lists
again under it; `related`, `slots`, the service and `eval related` read it from there.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from recommender import Settings, build_recommender, open_index
from recommender.errors import InvalidInputError
from recommender.ranking.profile import TUNED_FIELDS, remove_profile, save_profile
from recommender.ranking.tuning import read_labels, tune
from recommender.system import build_ranking
from recommender.writer import IndexWriter, WriteOptions
from service.cli import output
from service.cli.command_settings import command_settings
from service.cli.options import IndexDir
from service.cli.write_hooks import CliWriteHooks


def register(app: typer.Typer) -> None:
    app.command("tune")(tune_command)


def tune_command(
    context: typer.Context,
    labels_file: Annotated[
        Path | None,
        typer.Argument(
            help='JSONL of {"id", "story"} or {"id", "related": [ids]} lines.',
            show_default=False,
        ),
    ] = None,
    folds: Annotated[int, typer.Option(min=2, max=20, help="Cross-validation folds.")] = 5,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report only; write no profile.")
    ] = False,
    reset: Annotated[
        bool, typer.Option("--reset", help="Remove the index's profile (back to the default).")
    ] = False,
    index_dir: IndexDir = None,
) -> None:
    """Learn the ranking's weights from labels; keep them only if they beat it held out."""
    started = time.perf_counter()
    settings = command_settings(context, index_dir)
    if reset:
        removed = remove_profile(settings.index_dir)
        output.line("ranking profile removed" if removed else "no ranking profile to remove")
        if removed:
            _rank_lists_again(settings)
        return
    if labels_file is None:
        raise InvalidInputError("give a labels file (or --reset)")
    labels = read_labels(labels_file)  # before the index opens: a bad file costs nothing
    with open_index(settings, writable=not dry_run) as article_index:
        # Compared with the shipped default (and any weight set explicitly), not with an
        # earlier profile: a profile must earn its place against what ships.
        current = build_ranking(settings)
        result = tune(article_index, labels, current, folds=folds)
    output.line(
        f"{result.queries:,} labelled queries ({result.skipped_labels:,} labels not usable: "
        f"article or its related ones not indexed), {result.folds} folds by story"
    )
    output.line(
        f"held-out nDCG@10: default {result.held_out_default:.4f}, tuned "
        f"{result.held_out_tuned:.4f} (p = {result.p_value:.2g}, wins/losses "
        f"{result.wins}/{result.losses})"
    )
    chosen = ", ".join(f"{name}={getattr(result.tuned, name):g}" for name in TUNED_FIELDS)
    output.line(f"best weights on all labels: {chosen}")
    if not result.accepted:
        raise InvalidInputError(
            "the tuned weights do not beat the default ranking on held-out folds "
            "(a positive gain with p < 0.05); no profile written"
        )
    if dry_run:
        output.line("dry run: no profile written")
        return
    path = save_profile(settings.index_dir, result.profile())
    output.line(f"ranking profile written to {path}")
    _rank_lists_again(settings)
    output.line(f"done ({time.perf_counter() - started:.1f}s)")


def _rank_lists_again(settings: Settings) -> None:
    """Stored lists are keyed by the ranking they were ranked with: rank them under the new."""
    with open_index(settings, writable=True) as article_index:
        recommender = build_recommender(settings, article_index)
        hooks = CliWriteHooks(article_index)  # its bars; a running service's readers reload
        IndexWriter(recommender, WriteOptions.for_batch(settings), hooks).refresh_lists()
