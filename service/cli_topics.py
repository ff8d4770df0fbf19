"""`newsrec tag` and `newsrec topics train|eval`: a typer sub-application.

Register it on the main app with `register(app)`. Commands raise newsrec errors; the main
entry point turns them into one line on stderr and exit code 2. Progress goes to stderr, so
`newsrec tag INPUT` (no -o) can stream JSON Lines on stdout.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from embeddings import Embedder
from recommender import Article, Settings, build_embedder, open_index
from recommender.errors import InvalidInputError
from recommender.topics import (
    DEFAULT_LABEL_FIELD,
    EvaluationReport,
    VectorLookup,
    article_vectors,
    build_tagger,
    default_taxonomy,
    evaluate_assignments,
    fit_trained_tagger,
    load_label_mapping,
    load_labelled,
    tag_file,
)
from recommender.topics.batch import check_tagger_fits
from recommender.topics.tag_output import check_tag_run
from service import cli_output as output
from service.cli_ray import Engine, EngineOption, RayAddress, batch_job, encoding_file

topics_app = typer.Typer(
    name="topics",
    help="Train and evaluate topic classifiers.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

IndexDir = Annotated[
    Path | None,
    typer.Option(
        "--index-dir",
        help="Reuse the vectors of this index instead of encoding the same texts again.",
        show_default=False,
    ),
]
ModelDir = Annotated[
    Path | None,
    typer.Option("--model", help="A trained topic model directory [default: zero-shot]."),
]
TaxonomyFile = Annotated[
    Path | None,
    typer.Option("--taxonomy", help="Zero-shot taxonomy file (JSON/YAML) [default: built-in]."),
]
Threshold = Annotated[
    float | None,
    typer.Option("--threshold", min=0.0, max=1.0, help="Report topics scoring at least this."),
]
LabelField = Annotated[
    str, typer.Option("--label-field", help="Field holding each row's gold label(s).")
]
SkipInvalid = Annotated[
    bool, typer.Option("--skip-invalid", help="Skip and count bad rows instead of failing.")
]


def register(app: typer.Typer) -> None:
    """Add `tag` and the `topics` group to the main `newsrec` application."""
    app.command("tag")(tag)
    app.add_typer(topics_app, name="topics")


def tag(
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
    make_tagger = partial(build_tagger, model_dir=model, taxonomy_file=taxonomy)
    # A dead cluster fails here, in seconds. With Ray, the actors encode and tag.
    job = batch_job(engine, Settings(), ray_address, make_tagger)
    embedder = job.embedder if job is not None else build_embedder(Settings())
    tagger = job.tagger() if job is not None else make_tagger(embedder)
    check_tagger_fits(tagger, embedder)  # before the progress bar shows
    with (
        _index_vectors(index_dir, embedder) as lookup,
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
        )
    seconds = time.perf_counter() - started
    summary = (
        f"{report.written:,} tagged, {report.resumed:,} already in the output, "
        f"{report.invalid:,} skipped; {report.encoded:,} texts encoded, "
        f"{report.reused:,} vectors reused ({seconds:.1f}s)"
    )
    if out is None:  # stdout holds the tagged rows
        sys.stderr.write(summary + "\n")
    else:
        output.line(summary)
    if report.first_invalid is not None:
        output.error(f"skipped {report.invalid:,} invalid rows; first: {report.first_invalid}")


@topics_app.command("train")
def train(
    labelled: Annotated[Path, typer.Argument(help="JSONL/CSV rows with gold labels.")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write the model to.")],
    label_field: LabelField = DEFAULT_LABEL_FIELD,
    folds: Annotated[int, typer.Option("--cv", min=0, max=20, help="Cross-validation folds.")] = 5,
    c: Annotated[float, typer.Option("--c", min=1e-4, help="Inverse regularisation.")] = 4.0,
    threshold: Threshold = None,
    index_dir: IndexDir = None,
    skip_invalid: SkipInvalid = False,
) -> None:
    """Fit a multi-label classifier on frozen embeddings; report cross-validated scores."""
    data = load_labelled(labelled, field=label_field, skip_invalid=skip_invalid)
    embedder = build_embedder(Settings())
    vectors = _encode(data.articles, embedder, index_dir)
    if folds > 1:
        output.line(f"fitting on {len(data.articles):,} rows; {folds}-fold cross-validation ...")
    iptc = default_taxonomy().iptc_codes()
    tagger = fit_trained_tagger(
        vectors,
        data.labels,
        embedder_name=embedder.name,
        c=c,
        cv_folds=folds,
        threshold=0.5 if threshold is None else threshold,
        iptc={label: iptc.get(label) for label in {x for row in data.labels for x in row}},
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
    labelled: Annotated[Path, typer.Argument(help="JSONL/CSV rows with gold labels.")],
    model: ModelDir = None,
    taxonomy: TaxonomyFile = None,
    mapping: Annotated[
        str | None,
        typer.Option("--map", help="Our label -> file label mapping (JSON/YAML file, or 'wcep')."),
    ] = None,
    label_field: LabelField = DEFAULT_LABEL_FIELD,
    threshold: Threshold = None,
    index_dir: IndexDir = None,
    skip_invalid: SkipInvalid = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix."""
    label_mapping = load_label_mapping(mapping) if mapping is not None else None
    data = load_labelled(labelled, field=label_field, skip_invalid=skip_invalid)
    embedder = build_embedder(Settings())
    tagger = build_tagger(embedder, model_dir=model, taxonomy_file=taxonomy)
    vectors = _encode(data.articles, embedder, index_dir)
    report = evaluate_assignments(
        tagger.tag(vectors, threshold=threshold), data.labels, mapping=label_mapping
    )
    if as_json:
        output.line(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        _print_report(report)


@contextmanager
def _index_vectors(index_dir: Path | None, embedder: Embedder) -> Iterator[VectorLookup | None]:
    """Stored vectors of an index by content hash; refuses an index of another embedder."""
    if index_dir is None:
        yield None
        return
    with open_index(Settings(index_dir=index_dir), embedder=embedder) as article_index:
        store = article_index.store
        yield lambda hashes: store.vectors_by_hash(hashes, embedder.dimension)


def _encode(articles: list[Article], embedder: Embedder, index_dir: Path | None) -> np.ndarray:
    """(len(articles), dimension): the index's vectors where it has them, the rest encoded."""
    hashes = list(dict.fromkeys(article.content_hash for article in articles))
    with _index_vectors(index_dir, embedder) as lookup:
        known = dict(lookup(hashes)) if lookup is not None else {}
    with output.progress_bar("encoding", len(hashes) - len(known)) as advance:
        return article_vectors(
            articles, embedder, vectors_for=lambda _hashes: known, progress=advance
        ).vectors


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
