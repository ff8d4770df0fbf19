"""The article index an evaluation runs on: built once per run, or reused when it matches.

Without a directory the index is built in a temporary one and removed afterwards. A given
directory is reused as it is when it holds exactly the corpus (same ids, texts and
publication times: everything the ranking reads), built there when it holds no index, and
refused otherwise: an evaluation never rewrites a user's index. Reuse opens the index
read-only, so it works next to a service that holds the index's write lock.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from embeddings import Embedder, ProgressCallback
from recommender import Article, ArticleIndex, InvalidInputError, Settings, open_index
from recommender.index.files import STORE_FILE


@contextmanager
def corpus_index(
    articles: Sequence[Article],
    settings: Settings,
    embedder: Embedder,
    index_dir: Path | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> Iterator[ArticleIndex]:
    """An open index holding exactly `articles`, built with `embedder` if needed."""
    if index_dir is None:
        with (
            tempfile.TemporaryDirectory(prefix="newsrec-eval-") as temporary,
            _built(articles, settings, embedder, Path(temporary), progress) as index,
        ):
            yield index
        return
    index_dir = Path(index_dir)
    if (index_dir / STORE_FILE).exists():
        index = open_index(_for_dir(settings, index_dir), embedder=embedder)
        try:
            _check_matches(index, articles)
        except BaseException:
            index.close()
            raise
    else:
        index = _built(articles, settings, embedder, index_dir, progress)
    with index:
        yield index


def corpus_row_ids(index: ArticleIndex, articles: Sequence[Article]) -> np.ndarray:
    """The index's row id of each article, in corpus order: (n,) int64."""
    states = index.states([article.id for article in articles])
    return np.asarray([states[article.id].row_id for article in articles], dtype=np.int64)


def corpus_vectors(index: ArticleIndex, articles: Sequence[Article]) -> np.ndarray:
    """The stored vector of each article, in corpus order: (n, dimension) float32."""
    return index.vectors_of(corpus_row_ids(index, articles))


def _for_dir(settings: Settings, directory: Path) -> Settings:
    # Topic tags play no part in related lists; tagging would only cost time here.
    return settings.model_copy(update={"index_dir": directory, "tag_on_index": False})


def _built(
    articles: Sequence[Article],
    settings: Settings,
    embedder: Embedder,
    directory: Path,
    progress: ProgressCallback | None,
) -> ArticleIndex:
    with open_index(_for_dir(settings, directory), writable=True, embedder=embedder) as index:
        index.upsert(articles, progress=progress)
        index.save()
    # Reopened read-only: the evaluation must not hold the directory's write lock.
    return open_index(_for_dir(settings, directory), embedder=embedder)


def _check_matches(index: ArticleIndex, articles: Sequence[Article]) -> None:
    states = index.states([article.id for article in articles])
    differing = sum(
        1
        for article in articles
        if article.id not in states
        or states[article.id].content_hash != article.content_hash
        or index.published(states[article.id].row_id) != article.published_time
    )
    extra = len(index) - len(states)
    if differing or extra:
        raise InvalidInputError(
            f"{index.directory} holds another corpus ({differing} of {len(articles)} articles "
            f"missing or changed, {extra} others): give another --index-dir, or none to build "
            "a temporary index"
        )
