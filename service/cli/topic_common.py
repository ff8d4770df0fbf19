"""What the topic commands share: their options, and article vectors (an index's stored
ones where it has them, by content hash; the rest encoded once, behind a progress bar)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from embeddings import Embedder
from recommender import Article, Settings, open_index
from recommender.topics import VectorLookup, article_vectors
from service.cli import output
from service.cli.command_settings import command_settings

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
    str | None,
    typer.Option(
        "--taxonomy",
        help="Zero-shot taxonomy: 'default' (12 topics), 'iptc' (17 IPTC Media Topics) or a "
        "JSON/YAML file [default: default].",
        show_default=False,
    ),
]
MappingOption = Annotated[
    str | None,
    typer.Option("--map", help="Our label -> file label mapping (JSON/YAML file, or 'wcep')."),
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


def reused_index(context: typer.Context, index_dir: Path | None) -> Settings | None:
    """The settings of the index whose vectors `--index-dir` offers for reuse; None: none."""
    return command_settings(context, index_dir) if index_dir is not None else None


@contextmanager
def index_vectors(
    index_settings: Settings | None, embedder: Embedder
) -> Iterator[VectorLookup | None]:
    """Stored vectors of an index by content hash; refuses an index of another embedder."""
    if index_settings is None:
        yield None
        return
    with open_index(index_settings, embedder=embedder) as article_index:
        yield lambda hashes: article_index.vectors_by_hash(hashes)


def encode_articles(
    articles: list[Article], embedder: Embedder, index_settings: Settings | None
) -> np.ndarray:
    """(len(articles), dimension): the index's vectors where it has them, the rest encoded."""
    hashes = list(dict.fromkeys(article.content_hash for article in articles))
    with index_vectors(index_settings, embedder) as lookup:
        known = dict(lookup(hashes)) if lookup is not None else {}
    with output.progress_bar("encoding", len(hashes) - len(known)) as advance:
        return article_vectors(
            articles, embedder, vectors_for=lambda _hashes: known, progress=advance
        ).vectors
