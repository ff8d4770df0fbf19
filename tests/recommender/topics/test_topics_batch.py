"""Streaming batch tagging: output rows, resume after a crash, reuse of index vectors."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embeddings import HashingEmbedder, ProgressCallback
from recommender import ArticleIndex, load_articles
from recommender.errors import InvalidArticleError, InvalidInputError
from recommender.topics import TopicModelMismatchError, ZeroShotTagger, tag_file
from tests.topics_corpus import TAXONOMY, keyword_rows, write_jsonl


class CountingEmbedder(HashingEmbedder):
    """The real hashing embedder, recording each call's texts."""

    def __init__(self, dimension: int = 128) -> None:
        super().__init__(dimension)
        self.calls: list[list[str]] = []

    def encode(
        self, texts: Sequence[str], *, progress: ProgressCallback | None = None
    ) -> np.ndarray:
        self.calls.append(list(texts))
        return super().encode(texts, progress=progress)

    @property
    def encoded(self) -> int:
        return sum(len(call) for call in self.calls)


@pytest.fixture
def embedder() -> CountingEmbedder:
    return CountingEmbedder(128)


@pytest.fixture
def tagger(embedder: CountingEmbedder) -> ZeroShotTagger:
    tagger = ZeroShotTagger.from_taxonomy(TAXONOMY, embedder)
    embedder.calls.clear()
    return tagger


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_each_output_row_is_the_input_record_plus_topics(
    tmp_path: Path, tagger: ZeroShotTagger, embedder: CountingEmbedder
) -> None:
    rows = keyword_rows(9)
    source = write_jsonl(tmp_path / "in.jsonl", rows)

    report = tag_file(source, tmp_path / "out.jsonl", tagger, embedder, threshold=0.0)

    written = _read(tmp_path / "out.jsonl")
    assert report.written == 9 and report.encoded == 9
    assert [row["id"] for row in written] == [row["id"] for row in rows]
    for row, out in zip(rows, written, strict=True):
        assert out["title"] == row["title"] and out["body"] == row["body"]
        assert out["desk"] == row["desk"]  # extra fields pass through untouched
        assert out["input_topics"] == row["topics"]  # the gold labels are kept, renamed
        assert out["primary_topic"] == row["topics"][0]
        assert out["topics"][0]["label"] == out["primary_topic"]
        scores = [t["score"] for t in out["topics"]]
        assert scores == sorted(scores, reverse=True) and len(scores) == 3
        assert {t["iptc"] for t in out["topics"]} == {
            "medtop:15000000",
            "medtop:11000000",
            "medtop:03000000",
        }


def test_stream_output_and_csv_input(
    tmp_path: Path, tagger: ZeroShotTagger, embedder: CountingEmbedder
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        "id,title,body\nc1,football striker goal,\nc2,election ballot vote,parliament\n",
        encoding="utf-8",
    )
    stream = io.StringIO()

    tag_file(source, stream, tagger, embedder)

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(row["id"], row["primary_topic"]) for row in lines] == [
        ("c1", "sport"),
        ("c2", "politics"),
    ]


def test_it_streams_in_batches(
    tmp_path: Path, tagger: ZeroShotTagger, embedder: CountingEmbedder
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", keyword_rows(25))
    progress: list[int] = []

    tag_file(
        source, tmp_path / "out.jsonl", tagger, embedder, batch_size=10, progress=progress.append
    )

    assert progress == [10, 10, 5]
    assert [len(call) for call in embedder.calls] == [10, 10, 5]


def test_a_rerun_resumes_and_repairs_a_torn_last_line(
    tmp_path: Path, tagger: ZeroShotTagger, embedder: CountingEmbedder
) -> None:
    rows = keyword_rows(12)
    output = tmp_path / "out.jsonl"
    # A first run that got through 7 rows, then crashed in the middle of writing the 8th.
    tag_file(write_jsonl(tmp_path / "part.jsonl", rows[:7]), output, tagger, embedder)
    with output.open("a", encoding="utf-8") as stream:
        stream.write('{"id": "a0007", "title": "footb')
    embedder.calls.clear()

    report = tag_file(write_jsonl(tmp_path / "in.jsonl", rows), output, tagger, embedder)

    written = _read(output)
    assert [row["id"] for row in written] == [row["id"] for row in rows]
    assert report.resumed == 7 and report.written == 5
    assert embedder.encoded == 5  # rows already done are not encoded again


def test_a_rerun_of_a_finished_job_writes_nothing(
    tmp_path: Path, tagger: ZeroShotTagger, embedder: CountingEmbedder
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", keyword_rows(5))
    tag_file(source, tmp_path / "out.jsonl", tagger, embedder)
    before = (tmp_path / "out.jsonl").read_bytes()

    report = tag_file(source, tmp_path / "out.jsonl", tagger, embedder)

    assert (report.written, report.resumed) == (0, 5)
    assert (tmp_path / "out.jsonl").read_bytes() == before


def test_vectors_already_in_an_index_are_reused(
    tmp_path: Path,
    tagger: ZeroShotTagger,
    embedder: CountingEmbedder,
    open_test_index: Callable[..., ArticleIndex],
) -> None:
    rows = keyword_rows(10)
    indexed = write_jsonl(tmp_path / "indexed.jsonl", rows[:6])
    index = open_test_index()
    index.upsert(load_articles([indexed]).articles)
    embedder.calls.clear()
    lookups: list[list[str]] = []

    def vectors_for(hashes: Sequence[str]) -> dict[str, np.ndarray]:
        lookups.append(list(hashes))
        return index.store.vectors_by_hash(hashes, 128)

    report = tag_file(
        write_jsonl(tmp_path / "in.jsonl", rows),
        tmp_path / "out.jsonl",
        tagger,
        embedder,
        vectors_for=vectors_for,
    )

    assert (report.reused, report.encoded) == (6, 4)
    assert embedder.encoded == 4
    plain = tmp_path / "plain.jsonl"
    tag_file(tmp_path / "in.jsonl", plain, tagger, embedder)
    assert _read(plain) == _read(tmp_path / "out.jsonl")  # same vectors, same topics


def test_a_bad_row_stops_the_run_naming_its_line(
    tmp_path: Path, tagger: ZeroShotTagger, embedder: CountingEmbedder
) -> None:
    rows: list[Any] = keyword_rows(4)
    rows[2] = {"id": 12, "title": "not a string id"}
    source = write_jsonl(tmp_path / "in.jsonl", rows)

    with pytest.raises(InvalidArticleError, match=r"in\.jsonl, line 3: field 'id'"):
        tag_file(source, tmp_path / "out.jsonl", tagger, embedder)


def test_skip_invalid_counts_bad_rows_and_repeated_ids(
    tmp_path: Path, tagger: ZeroShotTagger, embedder: CountingEmbedder
) -> None:
    rows: list[Any] = keyword_rows(5)
    rows[1] = {"id": "x", "title": "ok", "published": "yesterday"}
    rows.append(dict(rows[0]))  # the same id again
    source = write_jsonl(tmp_path / "in.jsonl", rows)

    report = tag_file(source, tmp_path / "out.jsonl", tagger, embedder, skip_invalid=True)

    assert (report.written, report.invalid) == (4, 2)
    assert report.first_invalid is not None and report.first_invalid.line == 2
    assert [row["id"] for row in _read(tmp_path / "out.jsonl")] == [
        "a0000",
        "a0002",
        "a0003",
        "a0004",
    ]


def test_a_tagger_of_another_embedder_is_refused(tmp_path: Path, tagger: ZeroShotTagger) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", keyword_rows(2))

    with pytest.raises(TopicModelMismatchError, match="hashing-bow-128"):
        tag_file(source, tmp_path / "out.jsonl", tagger, HashingEmbedder(64))


def test_the_output_cannot_be_the_input(
    tmp_path: Path, tagger: ZeroShotTagger, embedder: CountingEmbedder
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", keyword_rows(2))

    with pytest.raises(InvalidInputError, match="must not be the input"):
        tag_file(source, source, tagger, embedder)
