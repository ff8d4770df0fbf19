"""The vector index kind chosen by corpus size (`index_type="auto"`) and the switch at save."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from embeddings import l2_normalise
from recommender import Article, ArticleIndex, Recommender, Settings
from recommender.index.files import MANIFEST_FILE
from recommender.index.vectors.faiss_index import AUTO_HNSW_FROM, VectorIndex, choose_index_kind
from tests.conftest import make_article

OpenIndex = Callable[..., ArticleIndex]
THRESHOLD = 10  # a tiny auto threshold, so a dozen articles cross it


def _articles(count: int, start: int = 0) -> list[Article]:
    """Articles on four topics, each built from its topic's words: related, never copies."""
    topics = ["harbour", "election", "vaccine", "drought"]
    articles = []
    for number in range(start, start + count):
        topic = topics[number % len(topics)]
        rng = random.Random(number)
        words = [f"{topic}{i}" for i in range(30)]
        body = ". ".join(" ".join(rng.choices(words, k=8)) for _ in range(6))
        articles.append(make_article(f"a{number}", f"{topic} news {number}", body))
    return articles


def _manifest_kind(directory: Path) -> str:
    return str(json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))["index_type"])


def _related_ids(index: ArticleIndex) -> dict[str, list[str]]:
    lists = Recommender(index).related_many(sorted(index.ids()), k=5)
    return {key: [hit.id for hit in hits] for key, hits in lists.items()}


# -- the choice ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "count", "current", "expected"),
    [
        ("exact", 10**7, None, "exact"),  # asked for: kept whatever the size
        ("hnsw", 1, None, "hnsw"),
        ("auto", 0, None, "exact"),
        ("auto", AUTO_HNSW_FROM - 1, None, "exact"),
        ("auto", AUTO_HNSW_FROM, None, "hnsw"),
        ("auto", AUTO_HNSW_FROM - 1, "exact", "exact"),
        # hysteresis: an HNSW index shrinking by deletes stays HNSW down to 80%
        ("auto", AUTO_HNSW_FROM - 1, "hnsw", "hnsw"),
        ("auto", int(0.8 * AUTO_HNSW_FROM), "hnsw", "hnsw"),
        ("auto", int(0.8 * AUTO_HNSW_FROM) - 1, "hnsw", "exact"),
    ],
)
def test_choose_index_kind(requested: str, count: int, current: str | None, expected: str) -> None:
    assert choose_index_kind(requested, count, current) == expected


def test_choose_index_kind_takes_its_threshold() -> None:
    assert choose_index_kind("auto", 9, hnsw_from=10) == "exact"
    assert choose_index_kind("auto", 10, hnsw_from=10) == "hnsw"


def test_an_unknown_index_type_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="auto, exact, hnsw"):
        choose_index_kind("ivf", 10)


def test_settings_default_to_auto_and_read_the_threshold_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().index_type == "auto"
    assert Settings().hnsw_from == AUTO_HNSW_FROM
    monkeypatch.setenv("NEWSREC_HNSW_FROM", "5000")
    monkeypatch.setenv("NEWSREC_INDEX_TYPE", "exact")
    assert (Settings().hnsw_from, Settings().index_type) == (5000, "exact")
    monkeypatch.setenv("NEWSREC_INDEX_TYPE", "ivf")
    with pytest.raises(ValidationError):
        Settings()


def test_opening_with_an_unknown_index_type_is_refused(open_test_index: OpenIndex) -> None:
    with pytest.raises(ValueError, match="unknown index type 'ivf'"):
        open_test_index(index_type="ivf")


# -- conversion ------------------------------------------------------------------------------


@pytest.mark.parametrize(("first", "second"), [("exact", "hnsw"), ("hnsw", "exact")])
def test_converted_keeps_every_id_and_vector(first: str, second: str) -> None:
    rng = np.random.default_rng(0)
    vectors = l2_normalise(rng.normal(size=(300, 16)))
    ids = np.sort(rng.choice(3000, size=300, replace=False)).astype(np.int64)
    index = VectorIndex(16, first)
    index.add(ids, vectors)
    index.remove(ids[:30])

    other = index.converted(second)

    assert other.kind == second and index.kind == first
    assert len(other) == 270
    np.testing.assert_array_equal(other.vectors_of(ids[30:]), vectors[30:])
    _, found = other.search(vectors[30:50], 1)
    np.testing.assert_array_equal(found[:, 0], ids[30:50])
    assert index.converted(first) is index


# -- in the article index --------------------------------------------------------------------


def test_auto_index_is_exact_below_the_threshold_and_hnsw_once_saved_past_it(
    open_test_index: OpenIndex, tmp_path: Path
) -> None:
    directory = tmp_path / "index"
    index = open_test_index(hnsw_from=THRESHOLD)
    index.upsert(_articles(8))
    index.save()
    assert (index.vectors.kind, _manifest_kind(directory)) == ("exact", "exact")
    assert index.info().index_type == "exact"

    index.upsert(_articles(6, start=8))
    assert index.vectors.kind == "exact"  # writes go on in the index in use ...
    index.save()  # ... and the save past the threshold switches it

    assert (index.vectors.kind, _manifest_kind(directory)) == ("hnsw", "hnsw")
    assert index.info().index_type == "hnsw"
    assert len(index.vectors) == len(index) == 14


def test_switching_kind_keeps_the_related_lists(open_test_index: OpenIndex, tmp_path: Path) -> None:
    exact = open_test_index(tmp_path / "exact", index_type="exact")
    exact.upsert(_articles(14))
    auto = open_test_index(tmp_path / "auto", hnsw_from=THRESHOLD)
    auto.upsert(_articles(14))
    auto.save()

    assert auto.vectors.kind == "hnsw"
    assert _related_ids(auto) == _related_ids(exact)


def test_a_reader_opens_the_saved_kind_under_auto(
    open_test_index: OpenIndex, tmp_path: Path
) -> None:
    directory = tmp_path / "index"
    writer = open_test_index(hnsw_from=THRESHOLD)
    writer.upsert(_articles(14))
    writer.save()
    writer.close()

    reader = open_test_index(writable=False, hnsw_from=THRESHOLD)
    assert reader.info().index_type == "hnsw"
    assert reader.vectors.kind == "hnsw"
    # An exact snapshot past the threshold (saved under another setting) is read as it is:
    # only a writer's save changes the kind.
    exact_writer = open_test_index(index_type="exact")
    exact_writer.save()
    exact_writer.close()
    assert _manifest_kind(directory) == "exact"
    assert open_test_index(writable=False, hnsw_from=THRESHOLD).vectors.kind == "exact"

    converting = open_test_index(hnsw_from=THRESHOLD)
    converting.save()  # nothing written since, but the kind is not the one auto wants
    assert _manifest_kind(directory) == "hnsw"


def test_without_a_usable_snapshot_the_rebuild_picks_the_kind_by_size(
    open_test_index: OpenIndex, tmp_path: Path
) -> None:
    writer = open_test_index(hnsw_from=THRESHOLD)
    writer.upsert(_articles(14))  # never saved: no snapshot at all
    writer.close()

    reopened = open_test_index(writable=False, hnsw_from=THRESHOLD)
    assert reopened.info().index_type == "hnsw"
    assert reopened.vectors.kind == "hnsw"
    assert len(reopened.vectors) == 14


def test_deletes_go_back_to_exact_only_below_80_percent_of_the_threshold(
    open_test_index: OpenIndex, tmp_path: Path
) -> None:
    directory = tmp_path / "index"
    index = open_test_index(hnsw_from=THRESHOLD)
    index.upsert(_articles(12))
    index.save()
    assert _manifest_kind(directory) == "hnsw"

    index.delete(["a0", "a1", "a2", "a3"])  # 8 left: 80% of 10
    index.save()
    assert _manifest_kind(directory) == "hnsw"

    index.delete(["a4"])  # 7 left
    index.save()
    assert (index.vectors.kind, _manifest_kind(directory)) == ("exact", "exact")
    assert len(index.vectors) == 7
    assert "a4" not in {hit for hits in _related_ids(index).values() for hit in hits}


def test_explicit_kinds_ignore_the_threshold(open_test_index: OpenIndex, tmp_path: Path) -> None:
    index = open_test_index(index_type="exact", hnsw_from=THRESHOLD)
    index.upsert(_articles(14))
    index.save()
    assert _manifest_kind(tmp_path / "index") == "exact"
    index.close()

    small = open_test_index(tmp_path / "small", index_type="hnsw", hnsw_from=THRESHOLD)
    small.upsert(_articles(3))
    small.save()
    assert _manifest_kind(tmp_path / "small") == "hnsw"
