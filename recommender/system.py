"""The composition root: every entry point (CLI, service, eval) builds newsrec from here."""

from __future__ import annotations

from embeddings import Embedder, EmbedderChoice, create_embedder
from recommender.index import ArticleIndex
from recommender.related import Ranking, Recommender
from recommender.settings import Settings


def build_embedder(settings: Settings) -> Embedder:
    """The configured embedder; its model loads only when something is first encoded."""
    return create_embedder(
        EmbedderChoice(
            kind=settings.embedder,
            max_chunks=settings.max_chunks,
            batch_size=settings.encode_batch_size,
        )
    )


def open_index(
    settings: Settings, *, writable: bool = False, embedder: Embedder | None = None
) -> ArticleIndex:
    return ArticleIndex.open(
        settings.index_dir,
        embedder or build_embedder(settings),
        writable=writable,
        index_type=settings.index_type,
        hnsw_ef_search=settings.hnsw_ef_search,
        duplicate_threshold=settings.duplicate_threshold,
        write_batch_size=settings.write_batch_size,
    )


def build_recommender(settings: Settings, index: ArticleIndex) -> Recommender:
    return Recommender(
        index,
        Ranking(
            dense_weight=settings.dense_weight,
            time_boost=settings.time_boost,
            time_decay_days=settings.time_decay_days,
        ),
    )
