"""`newsrec topics adapt` and `newsrec topics eval --compare`: adaptation to a site's archive,
and zero-shot / adapted / trained side by side. Registered on the `topics` group by
service/cli/topics.py."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from recommender import ArticleIndex, Settings, build_embedder
from recommender.errors import InvalidInputError
from recommender.index.lexical import frequency_rows
from recommender.ingest.loaders import load_articles
from recommender.system import prompt_encoder
from recommender.topics import (
    ADAPTED_MODEL_DIR,
    LabelledArticles,
    Taxonomy,
    TrainedTagger,
    ZeroShotTagger,
    adapt_tagger,
    adapt_with_holdout,
    article_terms,
    compare_taggers,
    gold_labels,
    load_label_mapping,
    resolve_taxonomy,
)
from recommender.topics.adapt import check_archive_size, sampled_rows, share_summary
from recommender.topics.evaluation import LabelMapping
from service.cli import output
from service.cli.command_settings import command_settings
from service.cli.topic_common import (
    IndexDir,
    MappingOption,
    SkipInvalid,
    TaxonomyFile,
    encode_articles,
    reused_index,
)


def register_adapt(topics_app: typer.Typer) -> None:
    topics_app.command("adapt")(adapt)


def adapt(
    context: typer.Context,
    unlabelled: Annotated[
        Path, typer.Argument(help="The site's articles: JSONL (.jsonl, .gz), CSV or Parquet.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Directory to write the model to.")],
    taxonomy: TaxonomyFile = None,
    index_dir: IndexDir = None,
    label_field: Annotated[
        str | None,
        typer.Option(
            "--label-field",
            help="Rows with gold labels in this field: adapt on 80%, score zero-shot and "
            "adapted on the other 20%, and keep zero-shot unless adapted is as good.",
            show_default=False,
        ),
    ] = None,
    mapping: MappingOption = None,
    skip_invalid: SkipInvalid = False,
) -> None:
    """Fit the zero-shot tagger to a site's own articles, without labels.

    The model is saved as `topics train` saves one: use it with `newsrec tag --model`,
    `newsrec retag --model` or NEWSREC_TOPIC_MODEL."""
    label_mapping = load_label_mapping(mapping) if mapping is not None else None
    batch = load_articles([unlabelled], skip_invalid=skip_invalid)  # validated before the model
    if not batch.articles:
        raise InvalidInputError(f"{unlabelled}: no articles to adapt to")
    gold = (
        [gold_labels(article, label_field) for article in batch.articles]
        if label_field is not None
        else None
    )
    if gold is not None and not any(gold):
        raise InvalidInputError(f"{unlabelled}: no row has labels in field {label_field!r}")
    check_archive_size(len(batch.articles) - (len(batch.articles) // 5 if gold else 0))
    settings = command_settings(context)
    embedder = build_embedder(settings)
    zero_shot = ZeroShotTagger.from_taxonomy(
        resolve_taxonomy(taxonomy), prompt_encoder(settings, embedder)
    )
    vectors = encode_articles(batch.articles, embedder, reused_index(context, index_dir))
    output.line(f"adapting to {len(batch.articles):,} articles ...")
    terms = article_terms(batch.articles)
    if gold is None:
        adaptation = adapt_tagger(zero_shot, vectors, terms=terms)
        adaptation.tagger.save(out)
        output.line(
            f"adapted model saved to {out}; {adaptation.pseudo_labelled:,} articles used as "
            f"examples{_lexical_note(adaptation.tagger)}; topic shares: "
            f"{share_summary(adaptation.shares)}"
        )
        return
    checked = adapt_with_holdout(zero_shot, vectors, gold, terms=terms, mapping=label_mapping)
    output.line(
        f"held-out {checked.held_out:,} labelled rows, macro-F1: zero-shot "
        f"{checked.zero_shot_macro_f1:.4f}, adapted {checked.adapted_macro_f1:.4f}"
    )
    if checked.adapted_wins:
        checked.adaptation.tagger.save(out)
        output.line(f"adapted model saved to {out}{_lexical_note(checked.adaptation.tagger)}")
    else:
        zero_shot.save(out)
        output.error(
            f"adapted model is worse than zero-shot on the held-out rows: saved the zero-shot "
            f"tagger to {out} instead"
        )


def adapt_index_topics(article_index: ArticleIndex, settings: Settings) -> None:
    """`newsrec index --adapt-topics`: adapt zero-shot to the index's stored vectors, save
    the model in the index directory (later writes and the service tag with it), retag."""
    if settings.topic_model is not None:
        raise InvalidInputError(
            "--adapt-topics adapts the zero-shot tagger, but NEWSREC_TOPIC_MODEL names a "
            "model; unset it to adapt"
        )
    if not settings.tag_on_index:
        raise InvalidInputError("--adapt-topics needs tagging on index (NEWSREC_TAG_ON_INDEX)")
    # The configured embedder embeds the taxonomy here, even when the index's writes
    # stream vectors from Ray: the prompts are a few dozen short texts.
    embedder = build_embedder(settings)
    store = article_index.store
    row_ids, vectors = sampled_rows(store.vector_rows(embedder.dimension), len(article_index))
    # The stored term blobs of the same rows: the lexical head learns from them.
    term_ids, blobs = store.term_rows()
    positions = np.searchsorted(term_ids, row_ids)
    terms = frequency_rows([blobs[int(position)] for position in positions])
    zero_shot = ZeroShotTagger.from_taxonomy(
        resolve_taxonomy(settings.topic_taxonomy), prompt_encoder(settings, embedder)
    )
    output.line(f"adapting topics to {len(vectors):,} articles of the index ...")
    adaptation = adapt_tagger(zero_shot, vectors, terms=terms)
    model_dir = settings.index_dir / ADAPTED_MODEL_DIR
    adaptation.tagger.save(model_dir)
    with output.progress_bar("tagging", len(article_index)) as advance:
        count = article_index.retag(adaptation.tagger, progress=advance)
    output.line(
        f"adapted topic model saved to {model_dir} (used from now on)"
        f"{_lexical_note(adaptation.tagger)}; {count:,} articles retagged; "
        f"topic shares: {share_summary(adaptation.shares)}"
    )


def _lexical_note(tagger: TrainedTagger) -> str:
    """'; lexical head over 25,685 terms', or nothing for a model without one."""
    if tagger.lexical is None:
        return ""
    return f"; lexical head over {len(tagger.lexical.features):,} terms"


def print_comparison(
    zero_shot: ZeroShotTagger,
    vectors: np.ndarray,
    data: LabelledArticles,
    mapping: LabelMapping | None,
    split_date: str | None,
    as_json: bool,
) -> None:
    """`topics eval --compare`: the table (or one JSON object) of every tagger's scores."""
    train_rows, test_rows = _split(data, split_date)
    rows = compare_taggers(
        zero_shot,
        vectors,
        data.labels,
        train_rows,
        test_rows,
        mapping=mapping,
        terms=article_terms(data.articles),
    )
    if as_json:
        output.line(
            json.dumps(
                {
                    "train_rows": len(train_rows),
                    "test_rows": len(test_rows),
                    "taggers": [vars(row) for row in rows],
                }
            )
        )
        return
    output.line(f"learn from {len(train_rows):,} rows, test on {len(test_rows):,}")
    output.line(f"{'tagger':<32}{'labelled':>10}{'macro-F1':>10}{'accuracy':>10}")
    for row in rows:
        output.line(
            f"{row.tagger:<32}{row.labelled_rows:>10,}{row.macro_f1:>10.4f}{row.accuracy:>10.4f}"
        )


def file_label_codes(
    taxonomy: Taxonomy, mapping: LabelMapping | None, label_sets: Sequence[Sequence[str]]
) -> dict[str, str | None]:
    """The IPTC code of each label of a training file: its own, or through the mapping the
    code of the first taxonomy label mapped to it."""
    codes = taxonomy.iptc_codes()
    if mapping is not None:
        for ours, theirs in mapping.items():
            for label in theirs:
                codes.setdefault(label, codes.get(ours))
    return {label: codes.get(label) for label in {x for row in label_sets for x in row}}


def _split(data: LabelledArticles, split_date: str | None) -> tuple[np.ndarray, np.ndarray]:
    if split_date is None:
        order = np.random.default_rng(0).permutation(len(data.articles))
        half = len(order) // 2
        return np.sort(order[:half]), np.sort(order[half:])
    early = np.array([(article.published or "") < split_date for article in data.articles])
    return np.flatnonzero(early), np.flatnonzero(~early)
