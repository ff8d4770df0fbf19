"""Parquet input: the same columns as JSONL, the same validation, errors naming the row.

Each file is written here with pyarrow from rows that are also written as JSONL; newsrec
must read both alike, index and tag them alike, and report a bad row by its number.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from embeddings import HashingEmbedder
from recommender import InvalidArticleError, InvalidInputError, load_articles, read_article_rows
from recommender.topics import ZeroShotTagger, default_taxonomy, tag_file
from service.cli.main import main
from tests.conftest import SEEDS_DIR, parquet_copy, parquet_table

pyarrow = pytest.importorskip("pyarrow", reason="pyarrow (the `parquet` extra) is not installed")
parquet = pytest.importorskip("pyarrow.parquet")

SEEDS = SEEDS_DIR / "articles.jsonl"


def _parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    parquet.write_table(parquet_table(rows), path)
    return path


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _rows() -> list[dict[str, Any]]:
    """Seed rows, some with extra fields of several types (absent from the other rows)."""
    lines = SEEDS.read_text(encoding="utf-8").splitlines()[:30]
    rows = [json.loads(line) for line in lines]
    rows[0]["words"] = 412
    rows[1]["labels"] = {"desk": "world", "priority": 2.5}
    rows[2]["syndicated"] = True
    return rows


def test_parquet_rows_are_the_jsonl_articles(tmp_path: Path) -> None:
    rows = _rows()
    from_parquet = load_articles([_parquet(tmp_path / "a.parquet", rows)])
    from_jsonl = load_articles([_jsonl(tmp_path / "a.jsonl", rows)])
    assert from_parquet.articles == from_jsonl.articles and len(from_parquet.articles) == 30
    assert from_parquet.articles[1].extra == {"labels": {"desk": "world", "priority": 2.5}}
    assert from_parquet.articles[3].extra == {}  # a null in another row's column is absent


def test_dates_and_timestamps_are_read_as_iso_8601(tmp_path: Path) -> None:
    moment = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    dated = _parquet(
        tmp_path / "a.parquet", [{"id": "d", "title": "A date", "published": date(2025, 3, 1)}]
    )
    stamped = _parquet(
        tmp_path / "b.parquet",
        [{"id": "t", "title": "A timestamp", "published": moment, "seen": moment}],
    )
    naive = _parquet(
        tmp_path / "c.parquet",
        [{"id": "n", "title": "Naive", "published": datetime(2025, 3, 1, 9)}],
    )
    first, second, third = load_articles([dated, stamped, naive]).articles
    assert first.published == "2025-03-01"
    assert second.published == "2025-03-01T09:30:00+00:00"
    assert second.extra == {"seen": "2025-03-01T09:30:00+00:00"}
    assert third.published == "2025-03-01T09:00:00"  # naive means UTC, as in JSONL
    assert third.published_time == replace(third, published="2025-03-01T09:00:00Z").published_time


def test_nanosecond_timestamps_read_as_the_jsonl_microseconds(tmp_path: Path) -> None:
    # pandas writes timestamp[ns]; the nanoseconds are truncated (floored, so a moment before
    # 1970 keeps its second), with a time zone or without, in a column or nested in one.
    nanos = [1_700_000_000_123_456_789, -1, None]
    table = pyarrow.table(
        {
            "id": ["a", "b", "c"],
            "title": ["A", "B", "C"],
            "published": pyarrow.array(nanos, type=pyarrow.timestamp("ns", tz="UTC")),
            "seen": pyarrow.array(nanos, type=pyarrow.timestamp("ns")),
            "day": pyarrow.array([date(2025, 3, 1)] * 3, type=pyarrow.date64()),
            "times": pyarrow.array(
                [[nano] for nano in nanos], pyarrow.list_(pyarrow.timestamp("ns"))
            ),
        }
    )
    parquet.write_table(table, tmp_path / "ns.parquet")
    rows: list[dict[str, Any]] = [
        {
            "id": "a",
            "title": "A",
            "published": "2023-11-14T22:13:20.123456+00:00",
            "seen": "2023-11-14T22:13:20.123456",
            "day": "2025-03-01",
            "times": ["2023-11-14T22:13:20.123456"],
        },
        {
            "id": "b",
            "title": "B",
            "published": "1969-12-31T23:59:59.999999+00:00",
            "seen": "1969-12-31T23:59:59.999999",
            "day": "2025-03-01",
            "times": ["1969-12-31T23:59:59.999999"],
        },
        {"id": "c", "title": "C", "day": "2025-03-01", "times": [None]},
    ]
    from_parquet = load_articles([tmp_path / "ns.parquet"])
    assert from_parquet.articles == load_articles([_jsonl(tmp_path / "ns.jsonl", rows)]).articles
    assert from_parquet.articles[0].published == "2023-11-14T22:13:20.123456+00:00"


def _string_column(values: list[bytes]) -> Any:
    """A `string` column holding these bytes unchecked, as a writer that does not validate
    UTF-8 (another tool, or binary data cast to text) leaves it."""
    offsets = [0]
    for value in values:
        offsets.append(offsets[-1] + len(value))
    buffers = [
        None,
        pyarrow.array(offsets, pyarrow.int32()).buffers()[1],
        pyarrow.py_buffer(b"".join(values)),
    ]
    return pyarrow.Array.from_buffers(pyarrow.string(), len(values), buffers)


def _bad_utf8_parquet(path: Path) -> Path:
    titles = [b"Fine", b"Bad \xff\xfe", b"Fine again", b"Also fine"]
    table = pyarrow.table({"id": ["a", "b", "c", "d"], "title": _string_column(titles)})
    parquet.write_table(table, path)
    return path


def test_invalid_utf8_is_an_error_of_its_row_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "recommender.ingest.loaders.PARQUET_BATCH_ROWS", 3
    )  # rows number on after it
    path = _bad_utf8_parquet(tmp_path / "a.parquet")

    with pytest.raises(InvalidArticleError) as raised:
        load_articles([path])

    assert str(raised.value) == (
        f"{path}, row 2: field 'title': not valid UTF-8; nothing was written"
    )
    skipped = load_articles([path], skip_invalid=True)
    assert [article.id for article in skipped.articles] == ["a", "c", "d"]
    assert [error.line for error in skipped.invalid] == [2]
    assert skipped.articles[1].title == "Fine again"


def test_a_bad_row_is_named_by_its_row_number(tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = [{"id": f"a{i}", "title": f"Title {i}"} for i in range(7)]
    rows[2]["title"] = "   "
    rows[5]["id"] = None
    path = _parquet(tmp_path / "bad.parquet", rows)

    with pytest.raises(InvalidArticleError) as raised:
        load_articles([path])

    assert str(raised.value) == (
        f"{path}, row 3: field 'title': must not be blank, got '   ' (1 more invalid row); "
        "nothing was written"
    )
    assert [
        row.line for _, row in read_article_rows(path) if isinstance(row, InvalidArticleError)
    ] == [3, 6]
    skipped = load_articles([path], skip_invalid=True)
    assert [error.line for error in skipped.invalid] == [3, 6]
    assert len(skipped.articles) == 5


def test_row_numbers_run_on_across_record_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("recommender.ingest.loaders.PARQUET_BATCH_ROWS", 2)
    rows: list[dict[str, Any]] = [{"id": f"a{i}", "title": f"Title {i}"} for i in range(6)]
    rows[4]["id"] = "a1"
    path = _parquet(tmp_path / "a.parquet", rows)
    with pytest.raises(
        InvalidArticleError, match=r"a\.parquet, row 5: duplicate id 'a1' \(first at .*, row 2\)"
    ):
        load_articles([path])


def test_a_value_json_cannot_hold_is_a_row_error(tmp_path: Path) -> None:
    rows = [{"id": "a", "title": "T"}, {"id": "b", "title": "T", "blob": b"\x00\x01"}]
    path = _parquet(tmp_path / "a.parquet", rows)
    with pytest.raises(InvalidArticleError, match=r"row 2: field 'blob': a bytes value"):
        load_articles([path])


def test_a_file_that_is_not_parquet_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "a.parquet"
    path.write_text('{"id": "a", "title": "T"}\n', encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"a\.parquet: cannot read the Parquet file") as e:
        load_articles([path])
    assert not isinstance(e.value, InvalidArticleError) and "\n" not in str(e.value)


def test_without_pyarrow_the_error_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _parquet(tmp_path / "a.parquet", [{"id": "a", "title": "T"}])
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` now fails
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(InvalidInputError, match=r"needs pyarrow: pip install -e '\.\[parquet\]'"):
        load_articles([path])


def test_tag_file_reads_parquet(tmp_path: Path) -> None:
    embedder = HashingEmbedder(dimension=64)
    tagger = ZeroShotTagger.from_taxonomy(default_taxonomy(), embedder)
    rows = _rows()
    for name, path in (
        ("jsonl", _jsonl(tmp_path / "in.jsonl", rows)),
        ("parquet", _parquet(tmp_path / "in.parquet", rows)),
    ):
        tag_file(path, tmp_path / f"{name}.out", tagger, embedder)
    tagged = (tmp_path / "parquet.out").read_text(encoding="utf-8")
    assert tagged == (tmp_path / "jsonl.out").read_text(encoding="utf-8")
    assert len(tagged.splitlines()) == 30


# -- the CLI -------------------------------------------------------------------------------------


@pytest.fixture
def newsrec(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    monkeypatch.setenv("NEWSREC_EMBEDDER", "hashing")
    monkeypatch.delenv("NEWSREC_HOME", raising=False)

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.mark.slow
def test_cli_index_related_and_tag_read_parquet_as_jsonl(tmp_path: Path, newsrec: Any) -> None:
    sources = {"jsonl": SEEDS, "parquet": parquet_copy(SEEDS, tmp_path / "seeds.parquet")}
    related, tagged = {}, {}
    for name, source in sources.items():
        index_dir = str(tmp_path / f"index-{name}")
        code, out, err = newsrec("index", str(source), "--index-dir", index_dir)
        assert code == 0 and "105 added" in out, err
        code, related[name], err = newsrec(
            "related", "sec-libya-01", "tech-quillon-01", "--json", "--index-dir", index_dir
        )
        assert code == 0, err
        code, _, err = newsrec("tag", str(source), "-o", str(tmp_path / f"{name}.out"))
        assert code == 0, err
        tagged[name] = (tmp_path / f"{name}.out").read_text(encoding="utf-8")

    assert related["parquet"] == related["jsonl"] and related["parquet"].count('"related"') == 2
    assert tagged["parquet"] == tagged["jsonl"] and len(tagged["parquet"].splitlines()) == 105


@pytest.mark.parametrize("command", ["index", "tag"])
def test_cli_a_bad_parquet_row_is_one_line_and_exit_2(
    command: str, tmp_path: Path, newsrec: Any
) -> None:
    rows = [json.loads(line) for line in SEEDS.read_text(encoding="utf-8").splitlines()[:5]]
    rows[3]["published"] = "yesterday"
    path = _parquet(tmp_path / "bad.parquet", rows)
    target = ["--index-dir", str(tmp_path / "index")] if command == "index" else []
    target += ["-o", str(tmp_path / "out.jsonl")] if command == "tag" else []

    code, out, err = newsrec(command, str(path), *target)

    # `tag` draws its progress bar on stderr first; the error is the one line after it.
    assert (code, out) == (2, "") and "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        err.splitlines()[-1]
    ]
    assert err.splitlines()[-1].startswith(
        f"error: {path}, row 4: field 'published': must be an ISO 8601"
    )
    assert not (tmp_path / "index").exists()


def test_cli_invalid_utf8_in_a_parquet_row_is_that_row(tmp_path: Path, newsrec: Any) -> None:
    path = _bad_utf8_parquet(tmp_path / "bad.parquet")
    index_dir = str(tmp_path / "index")

    code, out, err = newsrec("index", str(path), "--index-dir", index_dir)
    assert (code, out, err) == (
        2,
        "",
        f"error: {path}, row 2: field 'title': not valid UTF-8; nothing was written\n",
    )
    assert not (tmp_path / "index").exists()

    code, out, err = newsrec("index", str(path), "--index-dir", index_dir, "--skip-invalid")
    assert code == 0 and "3 added" in out, err
