"""The files of a tagging run: checked before the model loads, written through a partial file.

- `check_tag_run` reads the input once (every row through the loader's checks, and repeated
  ids) and checks the output's place, before anything is loaded or written: a run that
  fails it has written nothing, and an existing output is untouched.
- A run writes `OUT.partial` beside `OUT` and renames it to `OUT` once every row is in it,
  so `OUT` is only ever absent, a previous complete output, or this run's complete output.
  A re-run resumes from the partial file (a crash may have torn its last line: cut off
  first); a re-run after a complete run carries on in a copy of the output, so rows added
  to the input since are appended without the output ever being half-written.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

from recommender.errors import InvalidArticleError, InvalidInputError
from recommender.index.publish import publish_file
from recommender.ingest.loaders import position_unit, read_article_rows
from recommender.topics.batch_shares import shares_file

PARTIAL_SUFFIX = ".partial"


def partial_output(output: Path) -> Path:
    """Where a run writes until it is complete."""
    return output.with_name(output.name + PARTIAL_SUFFIX)


def resume_source(output: Path) -> Path | None:
    """The file a run to `output` resumes from: its partial file, else a complete output."""
    partial = partial_output(output)
    if partial.is_file():
        return partial
    return output if output.is_file() else None


def check_tag_run(source: Path, output: Path | None, *, skip_invalid: bool) -> int:
    """Rows in `source`, once everything a run can check without the model is checked.

    Raises InvalidInputError for an input that cannot be read, an output that cannot be
    written or that is not a previous run's, and InvalidArticleError for the first bad row
    or repeated id (unless `skip_invalid`, which counts them as rows).
    """
    source = Path(source)
    if output is not None:
        _check_output_place(source, output)
    rows = 0
    first_line: dict[str, int] = {}
    for number, row in read_article_rows(source):
        rows += 1
        if isinstance(row, InvalidArticleError):
            if not skip_invalid:
                raise row
            continue
        if row.id in first_line and not skip_invalid:
            unit = position_unit(source)
            raise InvalidArticleError(
                str(source),
                number,
                f"duplicate id {row.id!r} (first at {unit} {first_line[row.id]})",
                unit=unit,
            )
        first_line.setdefault(row.id, number)
    if output is not None:
        resumed = resume_source(output)
        if resumed is not None:
            _read_ids(resumed, torn_tail_allowed=resumed != output)
    return rows


def _check_output_place(source: Path, output: Path) -> None:
    # The topic shares' file too: a run writes it after the model loads and rows are held.
    for path in (output, partial_output(output), shares_file(output)):
        if path.exists() and not path.is_file():
            raise InvalidInputError(f"{path}: exists and is not a file")
    if output.exists() and source.exists() and output.resolve() == source.resolve():
        raise InvalidInputError(f"{output}: the output must not be the input file")
    folder = output.parent
    if not folder.is_dir():
        raise InvalidInputError(f"{output}: no such directory {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InvalidInputError(f"{output}: cannot write in {folder}")


@contextmanager
def opened_output(output: Path) -> Iterator[tuple[IO[str], set[str]]]:
    """The partial file open for appending, and the ids already in it; renamed to `output`
    when the block completes (not when it raises: the partial file stays to resume from)."""
    partial = partial_output(output)
    if not partial.exists() and output.is_file():
        shutil.copyfile(output, partial)
    done = repair_and_read_ids(partial)
    try:
        stream = partial.open("a", encoding="utf-8")
    except OSError as error:
        raise InvalidInputError(f"{partial}: cannot write ({error.strerror})") from None
    with stream:
        yield stream, done
        sync(stream)
    publish_file(partial, output)


def repair_and_read_ids(path: Path) -> set[str]:
    """Ids already in a previous run's output; a torn last line (a crash) is cut off first."""
    if not path.exists():
        return set()
    if not path.is_file():
        raise InvalidInputError(f"{path}: exists and is not a file")
    _truncate_torn_tail(path)
    return _read_ids(path, torn_tail_allowed=False)


def _read_ids(path: Path, *, torn_tail_allowed: bool) -> set[str]:
    """Every row's id; a line that is not a tagging output's row is an error, except an
    unfinished last line where a crash may have left one."""
    done: set[str] = set()
    with path.open("rb") as stream:
        for number, raw in enumerate(stream, start=1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw)
                done.add(value["id"])
            except (ValueError, KeyError, TypeError):
                if torn_tail_allowed and not raw.endswith(b"\n"):
                    break
                raise InvalidInputError(
                    f"{path}, line {number}: not a row of a tagging output; choose another -o"
                ) from None
    return done


def _truncate_torn_tail(path: Path) -> None:
    size = path.stat().st_size
    if size == 0:
        return
    with path.open("rb+") as stream:
        stream.seek(size - 1)
        if stream.read(1) == b"\n":
            return
        # Walk back to the last complete line; the tail after it is a half-written row.
        position = size
        chunk = 1 << 16
        while position > 0:
            start = max(0, position - chunk)
            stream.seek(start)
            newline = stream.read(position - start).rfind(b"\n")
            if newline >= 0:
                stream.truncate(start + newline + 1)
                break
            position = start
        else:
            stream.truncate(0)
        stream.flush()
        os.fsync(stream.fileno())


def sync(stream: IO[str]) -> None:
    stream.flush()
    # A pipe or an in-memory stream has nothing to fsync.
    with suppress(OSError, ValueError, AttributeError):
        os.fsync(stream.fileno())
