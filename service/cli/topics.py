"""`newsrec tag` and `newsrec topics train|eval|adapt`: a typer sub-application.

Register it on the main app with `register(app)`. Commands raise newsrec errors; the main
entry point turns them into one line on stderr and exit code 2. Progress goes to stderr, so
`newsrec tag INPUT` (no -o) can stream JSON Lines on stdout.
"""

from __future__ import annotations

import json
import sys
import time
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from recommender import build_embedder
from recommender.batch.streamed import StreamedTagger
from recommender.errors import InvalidInputError
from recommender.system import prompt_cache_dir
from recommender.topics import (
    DEFAULT_LABEL_FIELD,
    EvaluationReport,
    ZeroShotTagger,
    article_terms,
    build_tagger,
    evaluate_assignments,
    fit_trained_tagger,
    load_label_mapping,
    load_labelled,
    resolve_taxonomy,
    tag_file,
    taxonomy_prior,
)
from recommender.topics.adapt import share_summary
from recommender.topics.batch import check_tagger_fits
from recommender.topics.tag_output import check_tag_run
from service.cli import output
from service.cli.command_settings import command_settings
from service.cli.ray_engine import Engine, EngineOption, RayAddress, batch_job, encoding_file
from service.cli.topic_common import (
    IndexDir,
    LabelField,
    MappingOption,
    ModelDir,
    SkipInvalid,
    TaxonomyFile,
    Threshold,
    encode_articles,
    index_vectors,
    reused_index,
)
from service.cli.topics_adapt import file_label_codes, print_comparison, register_adapt

topics_app = typer.Typer(
    name="topics",
    help="Train and evaluate topic classifiers.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    """Add `tag` and the `topics` group to the main `newsrec` application."""
    app.command("tag")(tag)
    register_adapt(topics_app)
    app.add_typer(topics_app, name="topics")


def tag(
    context: typer.Context,
    input_file: Annotated[
        Path, typer.Argument(help="JSONL (.jsonl, .jsonl.gz), CSV or Parquet file.")
    ],
    out: Annotated[
        Path | None,
        typer.Option("-o", "--out", help="Output JSONL; re-running resumes [default: stdout]."),
    ] = None,
    model: ModelDir = None,
    taxonomy: TaxonomyFile = None,
    threshold: Threshold = None,
    index_dir: IndexDir = None,
    skip_invalid: SkipInvalid = False,
    batch_size: Annotated[int, typer.Option(min=1, max=65536, help="Rows per batch.")] = 1024,
    engine: EngineOption = Engine.local,
    ray_address: RayAddress = None,
) -> None:
    """Tag every article of a file with topics and scores, in a stream."""
    started = time.perf_counter()
    # Input and output first, before the model loads: a bad run fails in seconds, prints
    # one line and writes nothing. Reading every row also gives the progress bar's total.
    total = check_tag_run(input_file, out, skip_invalid=skip_invalid)
    if index_dir is not None and not index_dir.is_dir():
        raise InvalidInputError(f"{index_dir}: no such index directory")
    settings = command_settings(context)
    make_tagger = partial(
        build_tagger,
        model_dir=model,
        taxonomy_file=taxonomy,
        prompt_cache_dir=prompt_cache_dir(settings),
    )
    # A dead cluster fails here, in seconds. With Ray, the actors encode and tag.
    job = batch_job(engine, settings, ray_address, make_tagger)
    embedder = job.embedder if job is not None else build_embedder(settings)
    tagger = job.tagger() if job is not None else make_tagger(embedder)
    check_tagger_fits(tagger, embedder)  # before the progress bar shows
    # The file's own topic shares re-weight zero-shot only, never a fitted model.
    share_rows = settings.topic_share_rows if model is None else 0
    if (
        share_rows
        and isinstance(tagger, StreamedTagger)
        and isinstance(tagger.inner, ZeroShotTagger)
    ):
        # The actors' scores know nothing of the file's shares: zero-shot scores here (one
        # matrix product per batch) on the vectors they encode, so Ray tags as local does.
        tagger = tagger.inner
    with (
        index_vectors(reused_index(context, index_dir), embedder) as lookup,
        # --engine ray: the model runs on Ray while the rows are tagged and written here.
        encoding_file(job, input_file, out, lookup, skip_invalid),
        output.progress_bar("tagging", total) as advance,
    ):
        report = tag_file(
            input_file,
            out if out is not None else sys.stdout,
            tagger,
            embedder,
            threshold=threshold,
            batch_size=batch_size,
            vectors_for=lookup,
            skip_invalid=skip_invalid,
            progress=advance,
            share_rows=share_rows,
        )
    seconds = time.perf_counter() - started
    summary = (
        f"{report.written:,} tagged, {report.resumed:,} already in the output, "
        f"{report.invalid:,} skipped; {report.encoded:,} texts encoded, "
        f"{report.reused:,} vectors reused ({seconds:.1f}s)"
    )
    if report.topic_shares is not None:
        shares = report.topic_shares
        summary += (
            f"; topics re-weighted by the shares of the first {shares.rows:,} rows: "
            f"{share_summary(shares.by_label())}"
        )
    if out is None:  # stdout holds the tagged rows
        sys.stderr.write(summary + "\n")
    else:
        output.line(summary)
    if report.first_invalid is not None:
        output.error(f"skipped {report.invalid:,} invalid rows; first: {report.first_invalid}")


@topics_app.command("train")
def train(
    context: typer.Context,
    labelled: Annotated[Path, typer.Argument(help="JSONL/CSV rows with gold labels.")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write the model to.")],
    label_field: LabelField = DEFAULT_LABEL_FIELD,
    folds: Annotated[int, typer.Option("--cv", min=0, max=20, help="Cross-validation folds.")] = 5,
    c: Annotated[float, typer.Option("--c", min=1e-4, help="Inverse regularisation.")] = 4.0,
    threshold: Threshold = None,
    index_dir: IndexDir = None,
    skip_invalid: SkipInvalid = False,
    taxonomy: TaxonomyFile = None,
    mapping: MappingOption = None,
    prior: Annotated[
        bool,
        typer.Option(
            "--prior/--no-prior",
            help="Start from the taxonomy: its prompts join the training rows (few-shot).",
        ),
    ] = True,
) -> None:
    """Fit a multi-label classifier on frozen embeddings; report cross-validated scores.

    With the prior (the default), a few labelled rows per label are enough: the taxonomy's
    prompts count as examples of the labels they name (through --map when the file's
    labels are not the taxonomy's)."""
    label_mapping = load_label_mapping(mapping) if mapping is not None else None
    data = load_labelled(labelled, field=label_field, skip_invalid=skip_invalid)
    embedder = build_embedder(command_settings(context))
    chosen_taxonomy = resolve_taxonomy(taxonomy)
    vectors = encode_articles(data.articles, embedder, reused_index(context, index_dir))
    examples = (
        taxonomy_prior(ZeroShotTagger.from_taxonomy(chosen_taxonomy, embedder), label_mapping)
        if prior
        else None
    )
    if folds > 1:
        output.line(f"fitting on {len(data.articles):,} rows; {folds}-fold cross-validation ...")
    tagger = fit_trained_tagger(
        vectors,
        data.labels,
        embedder_name=embedder.name,
        c=c,
        cv_folds=folds,
        threshold=threshold,  # None: as many labels per row as the training rows have
        iptc=file_label_codes(chosen_taxonomy, label_mapping, data.labels),
        prior=examples,
    )
    tagger.save(out)
    if tagger.cross_validation is not None:
        cv = tagger.cross_validation
        output.line(
            f"cross-validated ({cv.folds} folds): accuracy {cv.accuracy:.4f} "
            f"(±{cv.accuracy_std:.4f}), macro-F1 {cv.macro_f1:.4f} (±{cv.macro_f1_std:.4f})"
        )
    output.line(
        f"model with {len(tagger.labels)} labels ({', '.join(tagger.labels)}) saved to {out}; "
        f"{data.unlabelled:,} unlabelled and {data.invalid:,} invalid rows left out"
    )


@topics_app.command("eval")
def evaluate(
    context: typer.Context,
    labelled: Annotated[Path, typer.Argument(help="JSONL/CSV rows with gold labels.")],
    model: ModelDir = None,
    taxonomy: TaxonomyFile = None,
    mapping: MappingOption = None,
    label_field: LabelField = DEFAULT_LABEL_FIELD,
    threshold: Threshold = None,
    index_dir: IndexDir = None,
    skip_invalid: SkipInvalid = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    compare: Annotated[
        bool,
        typer.Option(
            "--compare",
            help="Zero-shot, adapted and trained (8, 16, 32, 64 per label, all) side by side "
            "on one split of the file.",
        ),
    ] = False,
    split_date: Annotated[
        str | None,
        typer.Option(
            "--split-date",
            help="--compare: learn from rows published before this date, test on the rest "
            "[default: a random half].",
        ),
    ] = None,
) -> None:
    """Accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix."""
    label_mapping = load_label_mapping(mapping) if mapping is not None else None
    data = load_labelled(labelled, field=label_field, skip_invalid=skip_invalid)
    embedder = build_embedder(command_settings(context))
    if compare:
        if model is not None:
            raise InvalidInputError("--compare builds its own taggers; leave out --model")
        zero_shot = ZeroShotTagger.from_taxonomy(resolve_taxonomy(taxonomy), embedder)
        vectors = encode_articles(data.articles, embedder, reused_index(context, index_dir))
        print_comparison(zero_shot, vectors, data, label_mapping, split_date, as_json)
        return
    tagger = build_tagger(embedder, model_dir=model, taxonomy_file=taxonomy)
    vectors = encode_articles(data.articles, embedder, reused_index(context, index_dir))
    terms = article_terms(data.articles) if tagger.reads_terms else None
    report = evaluate_assignments(
        tagger.tag(vectors, threshold=threshold, terms=terms), data.labels, mapping=label_mapping
    )
    if as_json:
        output.line(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        _print_report(report)


def _print_report(report: EvaluationReport) -> None:
    kind = "multi-label" if report.multi_label else "single-label"
    output.line(f"rows: {report.rows:,} ({kind})")
    output.line(f"accuracy: {report.accuracy:.4f}")
    output.line(f"macro-F1: {report.macro_f1:.4f}")
    width = max(len(label) for label in report.per_class) + 2
    output.line(f"\n{'label':<{width}}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    for label, scores in report.per_class.items():
        output.line(
            f"{label:<{width}}{scores.precision:>10.4f}{scores.recall:>10.4f}"
            f"{scores.f1:>10.4f}{scores.support:>10,}"
        )
    output.line("\nconfusion matrix (rows: gold, columns: predicted)")
    for position, label in enumerate(report.confusion_labels):
        output.line(f"  [{position:>2}] {label}")
    header = "".join(f"{position:>7}" for position in range(len(report.confusion_labels)))
    output.line(f"{'':>6}{header}")
    for position, row in enumerate(report.confusion):
        output.line(f"  [{position:>2}]" + "".join(f"{int(count):>7}" for count in row))
