"""Reading article files: JSONL, JSONL.gz and CSV; a bad row names its file and line."""

from __future__ import annotations

import gzip
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender import (
    Article,
    InvalidArticleError,
    InvalidInputError,
    load_articles,
    read_article_rows,
)
from tests.recommender.test_articles import json_values, valid_rows


def _jsonl(path: Path, *rows: dict[str, Any] | str) -> Path:
    """Write rows (dicts as JSON, strings verbatim) one per line."""
    lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _row(article_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": article_id, "title": f"Title of {article_id}", **fields}


def _invalid_lines(path: Path) -> list[int]:
    return [row.line for _, row in read_article_rows(path) if isinstance(row, InvalidArticleError)]


def _single_error(paths: list[Path]) -> InvalidArticleError:
    with pytest.raises(InvalidArticleError) as raised:
        load_articles(paths)
    return raised.value


# -- JSONL ---------------------------------------------------------------------------------------


def test_jsonl_rows_in_file_order(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "a.jsonl",
        _row("a1", body="First body.", published="2025-03-01", topics=["economy"]),
        _row("a2", source="Wire", published="2025-03-02T10:00:00+01:00"),
    )
    batch = load_articles([path])
    assert [article.id for article in batch.articles] == ["a1", "a2"]
    assert batch.invalid == []
    first = batch.articles[0]
    assert (first.body, first.published, first.topics) == (
        "First body.",
        "2025-03-01",
        ("economy",),
    )
    assert batch.articles[1].source == "Wire"


@pytest.mark.parametrize("name", ["a.jsonl.gz", "a.ndjson", "a.ndjson.gz", "A.JSONL"])
def test_other_jsonl_names_and_gzip(tmp_path: Path, name: str) -> None:
    payload = (json.dumps(_row("a1")) + "\n\n" + json.dumps(_row("a2")) + "\n").encode()
    path = tmp_path / name
    path.write_bytes(gzip.compress(payload) if name.endswith(".gz") else payload)
    rows = list(read_article_rows(path))
    assert [(number, row.id) for number, row in rows if isinstance(row, Article)] == [
        (1, "a1"),
        (3, "a2"),
    ]


def test_blank_lines_are_skipped_and_lines_stay_physical(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "a.jsonl", "", _row("a1"), "   ", "\t", _row("a2"), "{bad", "")
    numbered = list(read_article_rows(path))
    assert [number for number, _ in numbered] == [2, 5, 6]
    error = numbered[-1][1]
    assert isinstance(error, InvalidArticleError) and error.line == 6


def test_windows_line_endings_and_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf"
        + json.dumps(_row("a1")).encode()
        + b"\r\n"
        + json.dumps(_row("a2")).encode()
    )
    assert [article.id for article in load_articles([path]).articles] == ["a1", "a2"]


def test_null_means_absent(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "a.jsonl",
        _row("a1", body=None, published=None, source=None, topics=None, story=None),
    )
    (article,) = load_articles([path]).articles
    assert article.body == "" and article.published is None and article.topics is None


def test_extra_fields_of_any_json_type_are_kept(tmp_path: Path) -> None:
    extras = {"n": 3, "f": 0.5, "b": True, "z": None, "l": [1, "x", [None]], "o": {"k": {"v": 1}}}
    path = _jsonl(tmp_path / "a.jsonl", _row("a1", **extras))
    (article,) = load_articles([path]).articles
    assert article.extra == extras


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ('{"id": 12, "title": "T"}', "id"),
        ('{"id": "a", "title": 5}', "title"),
        ('{"id": "a", "title": "T", "published": "20250301"}', "published"),
        ('{"id": "a", "title": "T", "published": "01/03/2025"}', "published"),
        ('{"id": "a", "title": "T", "topics": "politics"}', "topics"),
        ('{"id": "a", "title": "T", "body": 1}', "body"),
        ('{"title": "T"}', "id"),
        ('{"id": "a", "title": null}', "title"),
    ],
)
def test_no_coercion_errors_name_file_line_and_field(tmp_path: Path, line: str, field: str) -> None:
    path = _jsonl(tmp_path / "articles.jsonl", _row("ok1"), _row("ok2"), line)
    error = _single_error([path])
    assert (error.source, error.line) == (str(path), 3)
    message = str(error)
    assert "articles.jsonl" in message and "line 3" in message and f"'{field}'" in message
    assert "nothing was written" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"id": "a", "title": "T"', "JSON"),
        (b"{'id': 'a', 'title': 'T'}", "JSON"),
        (b'{"id": "a", "title": "T"} trailing', "JSON"),
        (b'["a", "T"]', "object"),
        (b'"just a string"', "object"),
        (b"42", "object"),
        (b"null", "object"),
        (b'{"id": "a", "title": "caf\xe9"}', "UTF-8"),
        (b"\xff\xfe\x00", "UTF-8"),
    ],
)
def test_unreadable_lines(tmp_path: Path, raw: bytes, reason: str) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(json.dumps(_row("ok")).encode() + b"\n" + raw + b"\n")
    error = _single_error([path])
    assert error.line == 2
    assert reason in str(error)
    assert "a.jsonl, line 2" in str(error)


def test_the_first_bad_row_is_reported_and_the_others_counted(tmp_path: Path) -> None:
    first = _jsonl(tmp_path / "first.jsonl", _row("a1"), _row("a2"))
    second = _jsonl(tmp_path / "second.jsonl", _row("b1"), "not json", _row("b3", title=3), "[]")
    error = _single_error([first, second])
    assert (error.source, error.line) == (str(second), 2)
    message = str(error)
    assert message.startswith(f"{second}, line 2: ")
    assert "2 more invalid rows" in message
    assert message.endswith("nothing was written")


def test_skip_invalid_counts_bad_rows_and_keeps_the_rest(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "a.jsonl",
        _row("a1"),
        "not json",
        _row("a3", published="soon"),
        "",
        _row("a5"),
        '"text"',
    )
    batch = load_articles([path], skip_invalid=True)
    assert [article.id for article in batch.articles] == ["a1", "a5"]
    assert [(error.source, error.line) for error in batch.invalid] == [
        (str(path), 2),
        (str(path), 3),
        (str(path), 6),
    ]
    assert all(isinstance(error, InvalidArticleError) for error in batch.invalid)


def test_a_duplicate_id_in_one_file_names_both_lines(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "a.jsonl", _row("a1"), _row("a2"), _row("a1", body="again"))
    error = _single_error([path])
    assert error.line == 3
    assert "duplicate" in str(error) and "'a1'" in str(error)
    assert f"{path}, line 1" in str(error)


def test_a_duplicate_id_across_files_names_both_places(tmp_path: Path) -> None:
    first = _jsonl(tmp_path / "first.jsonl", _row("x"), _row("shared"))
    second = _jsonl(tmp_path / "second.jsonl", _row("shared", body="other"))
    error = _single_error([first, second])
    assert (error.source, error.line) == (str(second), 1)
    assert f"{first}, line 2" in str(error)


def test_skip_invalid_keeps_the_first_of_duplicate_ids(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "a.jsonl", _row("a1", body="first"), _row("a1", body="second"))
    batch = load_articles([path], skip_invalid=True)
    assert [(article.id, article.body) for article in batch.articles] == [("a1", "first")]
    assert [error.line for error in batch.invalid] == [2]


def test_an_invalid_row_does_not_claim_its_id(tmp_path: Path) -> None:
    # The first a1 is rejected, so the second is the only valid a1: not a duplicate.
    path = _jsonl(tmp_path / "a.jsonl", _row("a1", published="bad"), _row("a1"))
    batch = load_articles([path], skip_invalid=True)
    assert [article.id for article in batch.articles] == ["a1"]
    assert [error.line for error in batch.invalid] == [1]


# -- inputs a JSON parser chokes on: still one row's error, with its line ----------------------


def test_a_huge_integer_literal_is_a_row_error(tmp_path: Path) -> None:
    # Python refuses int literals above 4300 digits with a plain ValueError.
    path = _jsonl(
        tmp_path / "a.jsonl", _row("a1"), '{"id": "a2", "title": "T", "n": ' + "9" * 5000 + "}"
    )
    batch = load_articles([path], skip_invalid=True)
    assert [article.id for article in batch.articles] == ["a1"]
    assert [error.line for error in batch.invalid] == [2]


def test_deeply_nested_json_is_a_row_error(tmp_path: Path) -> None:
    nested = "[" * 100_000 + "]" * 100_000
    path = _jsonl(
        tmp_path / "a.jsonl", _row("a1"), '{"id": "a2", "title": "T", "x": ' + nested + "}"
    )
    batch = load_articles([path], skip_invalid=True)
    assert [article.id for article in batch.articles] == ["a1"]
    assert [error.line for error in batch.invalid] == [2]


def test_a_lone_surrogate_escape_is_a_row_error(tmp_path: Path) -> None:
    # "\ud800" is valid JSON syntax but no character: the text cannot be stored as UTF-8.
    path = _jsonl(tmp_path / "a.jsonl", _row("a1"), '{"id": "a2", "title": "bad \\ud800 title"}')
    batch = load_articles([path], skip_invalid=True)
    assert [error.line for error in batch.invalid] == [2]
    assert [article.id for article in batch.articles] == ["a1"]
    # Whatever is accepted must be indexable: its text encodes as UTF-8 for the hash.
    assert all(len(article.content_hash) == 64 for article in batch.articles)


def test_a_huge_string_is_fine(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "a.jsonl", _row("a1", body="news " * 400_000))
    (article,) = load_articles([path]).articles
    assert len(article.body) == 2_000_000


# -- CSV -----------------------------------------------------------------------------------------


def test_csv_empty_cells_are_absent_and_topics_split_on_semicolons(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(
        "id,title,body,published,topics,desk\n"
        "c1,Title one,,2025-03-01,politics; economy ;,metro\n"
        "c2,Title two,Body two,,,\n",
        encoding="utf-8",
    )
    first, second = load_articles([path]).articles
    assert first.body == "" and first.published == "2025-03-01"
    assert first.topics == ("politics", "economy")
    assert first.extra == {"desk": "metro"}
    assert second.topics is None and second.published is None and second.extra == {}


def test_csv_quoted_cells_keep_commas_and_newlines(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text('id,title,body\nc1,"Strike, day two","Line one\nLine two"\n', encoding="utf-8")
    (article,) = load_articles([path]).articles
    assert article.title == "Strike, day two" and article.body == "Line one\nLine two"


def test_csv_with_a_byte_order_mark_and_gzip(tmp_path: Path) -> None:
    path = tmp_path / "a.csv.gz"
    path.write_bytes(gzip.compress("\ufeffid,title\nc1,T\n".encode()))
    assert [article.id for article in load_articles([path]).articles] == ["c1"]


def test_csv_bad_rows_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(
        "id,title,published\nc1,T,2025-03-01\nc2,,2025-03-01\nc3,T,March\nc4,T,,surplus\n",
        encoding="utf-8",
    )
    assert _invalid_lines(path) == [3, 4, 5]
    error = _single_error([path])
    assert (error.source, error.line) == (str(path), 3)
    assert "'title'" in str(error) and "2 more invalid rows" in str(error)
    batch = load_articles([path], skip_invalid=True)
    assert [article.id for article in batch.articles] == ["c1"]


def test_csv_values_are_text_never_coerced(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("id,title,count\n007,123,42\n", encoding="utf-8")
    (article,) = load_articles([path]).articles
    assert (article.id, article.title, article.extra) == ("007", "123", {"count": "42"})


def test_csv_that_is_not_utf8_is_rejected_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"id,title\nc1,caf\xe9\n")
    with pytest.raises(InvalidInputError, match=re.escape("latin.csv")):
        load_articles([path])


# -- files ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a.json", "a.txt", "a.tsv", "a.gz", "articles"])
def test_unknown_extension(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(json.dumps(_row("a1")) + "\n", encoding="utf-8")
    with pytest.raises(InvalidInputError) as raised:
        load_articles([path])
    assert not isinstance(raised.value, InvalidArticleError)
    assert name in str(raised.value) and ".jsonl" in str(raised.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=re.escape("missing.jsonl")):
        load_articles([tmp_path / "missing.jsonl"])


def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "folder.jsonl"
    folder.mkdir()
    with pytest.raises(InvalidInputError, match=re.escape("folder.jsonl")):
        load_articles([folder])


def test_a_missing_file_after_good_ones_fails_the_batch(tmp_path: Path) -> None:
    good = _jsonl(tmp_path / "good.jsonl", _row("a1"))
    with pytest.raises(InvalidInputError, match=re.escape("missing.jsonl")):
        load_articles([good, tmp_path / "missing.jsonl"])


@pytest.mark.parametrize(
    "payload",
    [b"this is not gzip", gzip.compress(b'{"id": "a", "title": "T"}\n' * 50)[:-12]],
)
def test_corrupt_or_truncated_gzip(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "a.jsonl.gz"
    path.write_bytes(payload)
    with pytest.raises(InvalidInputError, match=r"a\.jsonl\.gz"):
        load_articles([path], skip_invalid=True)


# -- properties ----------------------------------------------------------------------------------

garbage_lines = st.one_of(
    json_values.map(json.dumps),
    st.dictionaries(
        st.sampled_from(["id", "title", "body", "published", "topics", "x"]), json_values
    ).map(lambda row: json.dumps(row, ensure_ascii=False)),
    st.binary(max_size=40),
    st.text(max_size=40),
)


def _as_bytes(line: str | bytes) -> bytes:
    raw = line if isinstance(line, bytes) else line.encode("utf-8", "surrogatepass")
    return raw.replace(b"\n", b" ")


def _blank(number: int, raw: bytes) -> bool:
    try:
        return not raw.decode("utf-8-sig" if number == 1 else "utf-8").strip()
    except UnicodeDecodeError:
        return False


@settings(max_examples=60, deadline=None)
@given(st.lists(garbage_lines, max_size=8))
def test_garbage_lines_are_articles_or_row_errors_with_their_line(lines: list[Any]) -> None:
    raws = [_as_bytes(line) for line in lines]
    content = [number for number, raw in enumerate(raws, start=1) if not _blank(number, raw)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "garbage.jsonl"
        path.write_bytes(b"".join(raw + b"\n" for raw in raws))
        batch = load_articles([path], skip_invalid=True)
        assert len(batch.articles) + len(batch.invalid) == len(content)
        for error in batch.invalid:
            assert error.source == str(path) and error.line in content
            assert str(error).startswith(f"{path}, line {error.line}: ")
            assert "\n" not in str(error)
        try:
            strict = load_articles([path])
        except InvalidArticleError as error:
            assert batch.invalid and error.line == batch.invalid[0].line
        else:
            assert not batch.invalid and strict.articles == batch.articles


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(st.lists(valid_rows(), max_size=5), st.booleans())
def test_valid_rows_read_back_from_a_file_as_written(
    rows: list[dict[str, Any]], ascii_only: bool
) -> None:
    for number, row in enumerate(rows):
        row["id"] = f"{number}-{row['id']}"  # unique ids
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.jsonl.gz"
        text = "".join(json.dumps(row, ensure_ascii=ascii_only) + "\n" for row in rows)
        path.write_bytes(gzip.compress(text.encode("utf-8")))
        batch = load_articles([path])
    assert batch.invalid == []
    assert [article.to_record() for article in batch.articles] == [
        {**Article(id="", title="").to_record(), **row, "body": row.get("body") or ""}
        for row in rows
    ]
