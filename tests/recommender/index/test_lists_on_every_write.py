"""Stored related lists are part of the index: `newsrec index` and `delete` leave every
article's list stored, and the service fills what an index lacks in the background."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recommender import Recommender, build_recommender, open_index
from recommender.ranking.list_refresh import owners_to_rank
from service.cli.main import app
from tests.conftest import PROJECT_ROOT
from tests.service_support import app_client, build_index, hashing_settings

pytestmark = pytest.mark.slow

SEEDS_FILE = PROJECT_ROOT / "seeds" / "articles.jsonl"


def _cli(*args: object) -> tuple[str, str]:
    result = CliRunner().invoke(app, [str(arg) for arg in args])
    assert result.exit_code == 0, result.output
    return result.stdout, result.stderr


def _related(recommender: Recommender) -> dict[str, list[tuple[str, float]]]:
    ids = sorted(recommender.index.ids())
    found = recommender.related_many(ids, 10)
    return {i: [(hit.id, round(hit.score, 9)) for hit in found[i]] for i in ids}


@pytest.fixture
def hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSREC_EMBEDDER", "hashing")


def test_index_stores_every_list_with_a_progress_bar(tmp_path: Path, hashing: None) -> None:
    directory = tmp_path / "index"

    _, stderr = _cli("index", SEEDS_FILE, "--index-dir", directory)

    assert "storing related lists" in stderr
    settings = hashing_settings(directory)
    with open_index(settings) as index:
        recommender = build_recommender(settings, index)
        assert owners_to_rank(recommender) == []
        assert index.store.related_lists.count() == len(index)
        # What is stored is what a live ranking answers.
        live = build_recommender(hashing_settings(directory, related_list_depth=0), index)
        assert _related(recommender) == _related(live)


def test_index_and_delete_keep_every_list_on_an_index_that_had_none(
    tmp_path: Path, hashing: None
) -> None:
    settings = build_index(tmp_path / "index")  # through the Python API: no lists stored
    with open_index(settings) as index:
        assert index.store.related_lists.count() == 0
    extra = tmp_path / "extra.jsonl"
    extra.write_text(SEEDS_FILE.read_text("utf-8").splitlines()[0] + "\n", "utf-8")

    _cli("index", extra, "--index-dir", settings.index_dir)

    with open_index(settings) as index:
        assert owners_to_rank(build_recommender(settings, index)) == []
        first = next(iter(sorted(index.ids())))
    _cli("delete", first, "--index-dir", settings.index_dir)
    with open_index(settings) as index:
        assert owners_to_rank(build_recommender(settings, index)) == []
        assert index.store.related_lists.count() == len(index)


def test_the_service_fills_every_missing_list_at_start(tmp_path: Path) -> None:
    settings = build_index(tmp_path / "index")  # no lists stored
    with open_index(settings) as index:
        missing = owners_to_rank(build_recommender(settings, index))
        assert len(missing) == len(index) > 0
    with app_client(settings):
        deadline = time.monotonic() + 30
        left = missing
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            with open_index(settings) as reader:
                left = owners_to_rank(build_recommender(settings, reader))
        assert left == []
