"""Reading article files: JSONL (optionally gzipped), CSV and Parquet, one article a row.

Rows stream as `Article` or `InvalidArticleError` so a caller decides whether a bad row stops
the batch or is counted and skipped. Positions are 1-based: physical lines of JSONL and CSV,
rows of Parquet (`position_unit` says which). Every format goes through the same validation
(`article_from_mapping`); Parquet needs pyarrow (the `parquet` extra), imported only to read
a Parquet file.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any, cast

from recommender.articles import Article, article_from_mapping
from recommender.errors import InvalidArticleError, InvalidInputError

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
CSV_SUFFIXES = (".csv", ".csv.gz")
PARQUET_SUFFIXES = (".parquet",)
CSV_LIST_SEPARATOR = ";"
PARQUET_BATCH_ROWS = 1024
"""Rows decoded at a time: a Parquet file streams like the text formats, whatever its size."""

ArticleRow = Article | InvalidArticleError
NumberedRow = tuple[int, ArticleRow]


def read_article_rows(path: Path) -> Iterator[NumberedRow]:
    """Every row of one file as (line number, or row number for Parquet; validated row), in
    file order."""
    name = path.name.lower()
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such file")
    if name.endswith(JSONL_SUFFIXES):
        yield from _jsonl_rows(path)
    elif name.endswith(CSV_SUFFIXES):
        yield from _csv_rows(path)
    elif name.endswith(PARQUET_SUFFIXES):
        yield from _parquet_rows(path)
    else:
        known = JSONL_SUFFIXES + CSV_SUFFIXES + PARQUET_SUFFIXES
        raise InvalidInputError(f"{path}: unknown file type; use {', '.join(known)}")


def position_unit(path: Path | str) -> str:
    """What a row's number counts in this file: "row" for Parquet, else (text) "line"."""
    return "row" if str(path).lower().endswith(PARQUET_SUFFIXES) else "line"


def parquet_row_count(path: Path) -> int:
    """Rows in a Parquet file, from its footer (no row is decoded); 0 if it cannot be read
    (reading it reports why)."""
    pyarrow = _import_pyarrow(path)
    try:
        return int(pyarrow.parquet.ParquetFile(path).metadata.num_rows)
    except (OSError, ValueError, pyarrow.ArrowException):
        return 0


@dataclass
class ArticleBatch:
    """Valid articles of one or more files, plus the rows that were rejected."""

    articles: list[Article] = field(default_factory=list)
    invalid: list[InvalidArticleError] = field(default_factory=list)


def load_articles(paths: Iterable[Path], *, skip_invalid: bool = False) -> ArticleBatch:
    """Read and validate whole files before anything is written.

    A repeated id is an invalid row. Unless `skip_invalid`, the first invalid row raises
    (its message counts the others) so the batch is rejected as a whole.
    """
    batch = ArticleBatch()
    first_seen: dict[str, str] = {}
    for path in paths:
        for number, row in read_article_rows(path):
            if isinstance(row, Article) and row.id in first_seen:
                row = InvalidArticleError(
                    str(path),
                    number,
                    f"duplicate id {row.id!r} (first at {first_seen[row.id]})",
                    unit=position_unit(path),
                )
            if isinstance(row, InvalidArticleError):
                batch.invalid.append(row)
                continue
            first_seen[row.id] = f"{path}, {position_unit(path)} {number}"
            batch.articles.append(row)
    if batch.invalid and not skip_invalid:
        first = batch.invalid[0]
        others = len(batch.invalid) - 1
        more = f" ({others} more invalid row{'s' if others > 1 else ''})" if others else ""
        reason = f"{first.reason}{more}; nothing was written"
        raise InvalidArticleError(first.source, first.line, reason, unit=first.unit)
    return batch


def _open_binary(path: Path) -> IO[bytes]:
    if path.name.lower().endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def _jsonl_rows(path: Path) -> Iterator[NumberedRow]:
    with _open_binary(path) as stream:
        try:
            for number, raw in enumerate(stream, start=1):
                row = _parse_json_line(path, number, raw)
                if row is not None:
                    yield number, row
        except (OSError, EOFError) as error:  # truncated or corrupt gzip
            raise InvalidInputError(f"{path}: cannot read the file ({error})") from None


def _parse_json_line(path: Path, number: int, raw: bytes) -> ArticleRow | None:
    try:
        text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError:
        return InvalidArticleError(str(path), number, "not valid UTF-8")
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        return InvalidArticleError(str(path), number, f"not valid JSON ({error.msg})")
    except (ValueError, RecursionError) as error:  # huge integer literals, deep nesting
        return InvalidArticleError(str(path), number, f"not acceptable JSON ({error})")
    if not isinstance(value, dict):
        return InvalidArticleError(str(path), number, "expected a JSON object")
    try:
        # A "\ud800" escape is valid JSON but no valid text: it could not be stored.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return InvalidArticleError(str(path), number, "contains an unpaired surrogate escape")
    return _validated(path, number, value)


def _csv_rows(path: Path) -> Iterator[NumberedRow]:
    with _open_binary(path) as binary:
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
        reader = csv.DictReader(text)
        try:
            for row in reader:
                number = reader.line_num
                if None in row:
                    yield (
                        number,
                        InvalidArticleError(str(path), number, "more cells than header columns"),
                    )
                    continue
                yield number, _validated(path, number, _csv_values(row))
        except UnicodeDecodeError:
            raise InvalidInputError(f"{path}: not valid UTF-8") from None
        except csv.Error as error:
            raise InvalidInputError(f"{path}, line {reader.line_num}: {error}") from None


def _csv_values(row: dict[str, str | None]) -> dict[str, Any]:
    """A CSV cell is text: empty means absent, and `topics` is a ';'-separated list."""
    values: dict[str, Any] = {}
    for key, cell in row.items():
        if cell is None or cell == "":
            continue
        if key == "topics":
            values[key] = [part.strip() for part in cell.split(CSV_LIST_SEPARATOR) if part.strip()]
        else:
            values[key] = cell
    return values


def _parquet_rows(path: Path) -> Iterator[NumberedRow]:
    pyarrow = _import_pyarrow(path)
    number = 0
    try:
        parquet_file = pyarrow.parquet.ParquetFile(path)
        for record_batch in parquet_file.iter_batches(batch_size=PARQUET_BATCH_ROWS):
            for row in _batch_rows(pyarrow, _microsecond_timestamps(pyarrow, record_batch)):
                number += 1
                try:
                    values = _parquet_values(row)
                except ValueError as error:
                    yield number, InvalidArticleError(str(path), number, str(error), unit="row")
                    continue
                yield number, _validated(path, number, values, unit="row")
    # Not a Parquet file, a corrupt page, a type pyarrow cannot read.
    except (OSError, ValueError, pyarrow.ArrowException) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InvalidInputError(f"{path}: cannot read the Parquet file ({reason})") from None


def _batch_rows(pyarrow: Any, batch: Any) -> Iterator[dict[str, Any] | ValueError]:
    """A record batch's rows as Python values. If the batch as a whole cannot be converted
    (text that is not UTF-8, a value Python has no type for), row by row instead, so one bad
    cell is one bad row (the error names the field), as the same bytes are in JSONL."""
    try:
        rows = batch.to_pylist()
    except (ValueError, pyarrow.ArrowException):
        columns = list(zip(batch.schema.names, batch.columns, strict=True))
        for index in range(batch.num_rows):
            yield _row_or_error(pyarrow, columns, index)
        return
    yield from rows


def _row_or_error(
    pyarrow: Any, columns: list[tuple[str, Any]], index: int
) -> dict[str, Any] | ValueError:
    row: dict[str, Any] = {}
    for name, column in columns:
        try:
            row[name] = column[index].as_py()
        except UnicodeDecodeError:
            return ValueError(f"field '{name}': not valid UTF-8")
        except (ValueError, pyarrow.ArrowException) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            return ValueError(f"field '{name}': cannot be read ({reason})")
    return row


def _microsecond_timestamps(pyarrow: Any, batch: Any) -> Any:
    """The batch with nanosecond timestamps (pandas' default) at microseconds, the precision
    of a Python datetime and of newsrec's date check; the nanoseconds are dropped."""
    if not any(_has_nanoseconds(pyarrow, column.type) for column in batch.columns):
        return batch
    columns = [_floored_to_microseconds(pyarrow, column) for column in batch.columns]
    return pyarrow.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _floored_to_microseconds(pyarrow: Any, array: Any) -> Any:
    """`array` with its nanosecond timestamps, also those in a struct or list, floored to
    microseconds: a moment before 1970 keeps its second, as its text truncated would (arrow's
    cast rounds towards 1970 instead)."""
    kind = array.type
    if not _has_nanoseconds(pyarrow, kind):
        return array
    if pyarrow.types.is_timestamp(kind):
        compute = pyarrow.compute
        nanos = array.cast(pyarrow.int64())
        # Integer division truncates towards zero: shift a negative count to floor it.
        shifted = compute.if_else(compute.less(nanos, 0), compute.subtract(nanos, 999), nanos)
        return compute.divide(shifted, 1000).cast(pyarrow.timestamp("us", tz=kind.tz))
    if pyarrow.types.is_struct(kind):
        children = [_floored_to_microseconds(pyarrow, child) for child in array.flatten()]
        fields = [field.with_type(child.type) for field, child in zip(kind, children, strict=True)]
        return pyarrow.StructArray.from_arrays(children, fields=fields, mask=array.is_null())
    values = _floored_to_microseconds(pyarrow, array.values)
    build = pyarrow.list_ if pyarrow.types.is_list(kind) else pyarrow.large_list
    list_type = build(kind.value_field.with_type(values.type))
    return type(array).from_arrays(array.offsets, values, type=list_type, mask=array.is_null())


def _has_nanoseconds(pyarrow: Any, kind: Any) -> bool:
    if pyarrow.types.is_timestamp(kind):
        return bool(kind.unit == "ns")
    return any(_has_nanoseconds(pyarrow, child.type) for child in _children(pyarrow, kind))


def _children(pyarrow: Any, kind: Any) -> list[Any]:
    """The fields of a struct or a list's values; other types are left as they are."""
    if pyarrow.types.is_struct(kind):
        return list(kind)
    if pyarrow.types.is_list(kind) or pyarrow.types.is_large_list(kind):
        return [kind.value_field]
    return []


def _parquet_values(row: dict[str, Any] | ValueError) -> dict[str, Any]:
    """A Parquet row as the JSON object it stands for: null means absent (each row has every
    column), dates and timestamps are ISO 8601 text; a value JSON cannot hold, or a row that
    could not be converted (`row` is then why), is refused."""
    if isinstance(row, ValueError):
        raise row
    return {key: _json_value(key, value) for key, value in row.items() if value is not None}


def _json_value(key: str, value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, datetime | date | time):
        # A naive timestamp stays naive: newsrec reads it as UTC, as it does in JSONL.
        return value.isoformat()
    if isinstance(value, list | tuple):  # a list, or a map's (key, value) pairs
        return [_json_value(key, item) for item in value]
    if isinstance(value, dict):
        return {name: _json_value(key, item) for name, item in value.items()}
    raise ValueError(f"field '{key}': a {type(value).__name__} value has no JSON form")


def _import_pyarrow(path: Path) -> Any:
    """pyarrow, with pyarrow.parquet and pyarrow.compute loaded; only a Parquet file needs it."""
    try:
        import pyarrow
        import pyarrow.compute
        import pyarrow.parquet
    except ImportError:
        raise InvalidInputError(
            f"{path}: reading Parquet needs pyarrow: pip install -e '.[parquet]'"
        ) from None
    return pyarrow


def _validated(path: Path, number: int, value: dict[str, Any], *, unit: str = "line") -> ArticleRow:
    try:
        return article_from_mapping(value)
    except ValueError as error:
        return InvalidArticleError(str(path), number, str(error), unit=unit)
