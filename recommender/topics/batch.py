"""Tag an article file in a stream: read a batch, encode what is new, score, append, flush.

Memory holds one batch of rows and vectors plus the set of ids already written (for resume
and duplicate detection), whatever the size of the input.

Resuming: a run to a file writes through a partial file beside it, renamed to the output
once complete (see tag_output); rows whose id is already in it are skipped, so re-running
the same command after a crash or an interruption finishes the job. Each batch is flushed
and fsynced before the next is read, so at most the batch in flight is lost.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO, Any

from embeddings import Embedder
from recommender.articles import Article
from recommender.errors import InvalidArticleError, InvalidInputError
from recommender.ingest.loaders import NumberedRow, position_unit, read_article_rows
from recommender.topics.assignment import TopicTagger
from recommender.topics.errors import TopicModelMismatchError
from recommender.topics.tag_output import opened_output, sync
from recommender.topics.vectors import VectorLookup, article_terms, article_vectors

RowProgress = Callable[[int], None]
"""Called with the number of input rows just handled (written, skipped or invalid)."""

DEFAULT_BATCH_SIZE = 1024
TRIM_GROWTH = 64 * 1024 * 1024
"""Resident growth (bytes) after which freed memory is handed back to the OS."""
INPUT_TOPICS_FIELD = "input_topics"
"""Where an input row's own `topics` go, since `topics` is taken by the tagger's output."""


@dataclass(frozen=True)
class TagReport:
    written: int = 0
    resumed: int = 0  # rows skipped because the output already had their id
    invalid: int = 0
    encoded: int = 0  # distinct texts that went through the embedder
    reused: int = 0  # texts whose vector came from `vectors_for`
    first_invalid: InvalidArticleError | None = None


@dataclass
class _Counts:
    written: int = 0
    resumed: int = 0
    invalid: int = 0
    encoded: int = 0
    reused: int = 0
    first_invalid: InvalidArticleError | None = None


def tag_file(
    source: Path,
    output: Path | IO[str],
    tagger: TopicTagger,
    embedder: Embedder,
    *,
    threshold: float | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    vectors_for: VectorLookup | None = None,
    skip_invalid: bool = False,
    progress: RowProgress | None = None,
) -> TagReport:
    """Tag every article of `source` (JSONL, JSONL.gz, CSV or Parquet) into JSON Lines.

    Each output row is the article's record plus `topics` (those at or above the threshold,
    best first, as {"label", "score", "iptc"}) and `primary_topic`. With a path as `output`
    the run is resumable; with an open text stream (stdout) it is not.
    A bad row raises InvalidArticleError naming its line (a Parquet file: its row; rows of
    earlier batches are already written; re-running after the fix resumes), or with
    `skip_invalid` is counted and skipped.
    """
    if batch_size < 1:
        raise InvalidInputError(f"batch size must be at least 1, got {batch_size}")
    check_tagger_fits(tagger, embedder)
    if isinstance(output, Path) and output.exists() and output.resolve() == Path(source).resolve():
        raise InvalidInputError(f"{output}: the output must not be the input file")
    counts = _Counts()
    release_freed_memory = _MemoryReleaser()
    with _opened_output(output) as (stream, done):
        first_line: dict[str, int] = {}
        for batch in _batches(read_article_rows(Path(source)), batch_size):
            articles = _admit(batch, done, first_line, counts, skip_invalid, str(source))
            if articles:
                found = article_vectors(articles, embedder, vectors_for=vectors_for)
                counts.encoded += found.encoded
                counts.reused += found.reused
                # Only a model with a lexical head reads terms: zero-shot never tokenises.
                terms = article_terms(articles) if tagger.reads_terms else None
                assignments = tagger.tag(found.vectors, threshold=threshold, terms=terms)
                stream.writelines(
                    json.dumps(_output_row(article, assignment.to_fields()), ensure_ascii=False)
                    + "\n"
                    for article, assignment in zip(articles, assignments, strict=True)
                )
                sync(stream)
                counts.written += len(articles)
                release_freed_memory()
            if progress is not None:
                progress(len(batch))
    return TagReport(**vars(counts))


def check_tagger_fits(tagger: TopicTagger, embedder: Embedder) -> None:
    """Raises TopicModelMismatchError if `tagger` scores another embedder's vectors."""
    if tagger.embedder_name != embedder.name or tagger.dimension != embedder.dimension:
        raise TopicModelMismatchError(
            f"the topic model works on {tagger.embedder_name!r} vectors "
            f"({tagger.dimension} dimensions), but the embedder is {embedder.name!r} "
            f"({embedder.dimension}); use the embedder the model was trained with"
        )


def _batches(rows: Iterator[NumberedRow], size: int) -> Iterator[list[NumberedRow]]:
    batch: list[NumberedRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _admit(
    batch: list[NumberedRow],
    done: set[str],
    first_line: dict[str, int],
    counts: _Counts,
    skip_invalid: bool,
    source: str,
) -> list[Article]:
    """The batch's rows still to tag; bad rows raise or are counted."""
    articles = []
    for number, row in batch:
        if isinstance(row, Article):
            if row.id in first_line:
                unit = position_unit(source)
                row = InvalidArticleError(
                    source,
                    number,
                    f"duplicate id {row.id!r} (first at {unit} {first_line[row.id]})",
                    unit=unit,
                )
            elif row.id in done:
                counts.resumed += 1
                continue
        if isinstance(row, InvalidArticleError):
            if not skip_invalid:
                raise row
            counts.invalid += 1
            counts.first_invalid = counts.first_invalid or row
            continue
        first_line[row.id] = number
        articles.append(row)
    return articles


def _output_row(article: Article, topic_fields: dict[str, Any]) -> dict[str, Any]:
    record = article.to_record()
    given = record.pop("topics")
    if given is not None:
        record[INPUT_TOPICS_FIELD] = given
    record.update(topic_fields)
    return record


@contextmanager
def _opened_output(output: Path | IO[str]) -> Iterator[tuple[IO[str], set[str]]]:
    if not isinstance(output, Path):
        yield output, set()
        return
    with opened_output(output) as opened:
        yield opened


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to trim
        return None
    return trim


class _MemoryReleaser:
    """Hands the memory the encoder freed back to the operating system once it piles up.

    Every batch makes tensors of new shapes (texts differ in length); glibc keeps the freed
    blocks, fragmented, and the process grows batch after batch: tagging all of WCEP went
    from 650 MB to 1,060 MB. `malloc_trim` returns them, but trimming after every batch
    makes the encoder fault the pages back in; trimming only once the process has grown by
    TRIM_GROWTH since the last trim keeps memory flat at a fraction of the cost.
    """

    def __init__(self) -> None:
        self._trim = _malloc_trim()
        self._after_last_trim: int | None = None

    def __call__(self) -> None:
        resident = _resident_bytes()
        if self._trim is None or resident is None:
            return
        if self._after_last_trim is None or resident - self._after_last_trim > TRIM_GROWTH:
            self._trim(0)
            self._after_last_trim = _resident_bytes()


def _resident_bytes() -> int | None:
    try:
        with open("/proc/self/statm", "rb") as stream:
            return int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # not Linux
        return None
