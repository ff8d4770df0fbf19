"""Tag an article file in a stream: read a batch, encode what is new, score, append, flush.

Memory holds one batch of rows and vectors plus the set of ids already written (for resume
and duplicate detection), whatever the size of the input.

Resuming: a run to a file writes through a partial file beside it, renamed to the output
once complete (see tag_output); rows whose id is already in it are skipped, so re-running
the same command after a crash or an interruption finishes the job. Each batch is flushed
and fsynced before the next is read, so at most the batch in flight is lost.

The file's own topic shares (`share_rows`, zero-shot only; recommender/topics/batch_shares.py):
the first `share_rows` rows are held back, their topic shares estimated and written
atomically to OUT.topic-shares.json before any row is, and every row's topic odds
re-weighted by them. A resumed run reads that file instead of estimating again, so its rows
are those of an uninterrupted run; memory holds at most `share_rows` plus one batch of rows.
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

import numpy as np

from embeddings import Embedder
from recommender.articles import Article
from recommender.errors import InvalidArticleError, InvalidInputError
from recommender.ingest.loaders import NumberedRow, position_unit, read_article_rows
from recommender.topics.assignment import TopicTagger
from recommender.topics.batch_shares import BatchShares, ShareAdjustedTagger, shares_file
from recommender.topics.errors import TopicModelMismatchError
from recommender.topics.tag_output import opened_output, resume_source, sync
from recommender.topics.vectors import VectorLookup, article_terms, article_vectors
from recommender.topics.zero_shot import ZeroShotTagger

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
    topic_shares: BatchShares | None = None  # the file's shares, when they re-weighted it


@dataclass
class _Counts:
    written: int = 0
    resumed: int = 0
    invalid: int = 0
    encoded: int = 0
    reused: int = 0
    first_invalid: InvalidArticleError | None = None
    topic_shares: BatchShares | None = None


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
    share_rows: int = 0,
) -> TagReport:
    """Tag every article of `source` (JSONL, JSONL.gz, CSV or Parquet) into JSON Lines.

    Each output row is the article's record plus `topics` (those at or above the threshold,
    best first, as {"label", "score", "iptc"}) and `primary_topic`. With a path as `output`
    the run is resumable; with an open text stream (stdout) it is not.
    A bad row raises InvalidArticleError naming its line (a Parquet file: its row; rows of
    earlier batches are already written; re-running after the fix resumes), or with
    `skip_invalid` is counted and skipped.
    With a zero-shot tagger and `share_rows` > 0, every row is re-weighted by the topic
    shares of the first `share_rows` rows to tag (see the module's docstring).
    """
    if batch_size < 1:
        raise InvalidInputError(f"batch size must be at least 1, got {batch_size}")
    check_tagger_fits(tagger, embedder)
    if isinstance(output, Path) and output.exists() and output.resolve() == Path(source).resolve():
        raise InvalidInputError(f"{output}: the output must not be the input file")
    counts = _Counts()
    release_freed_memory = _MemoryReleaser()
    shares = _FileShares(tagger, share_rows, output)
    with _opened_output(output) as (stream, done):

        def write(articles: list[Article], vectors: np.ndarray) -> None:
            scoring = shares.tagger
            # Only a model with a lexical head reads terms: zero-shot never tokenises.
            terms = article_terms(articles) if scoring.reads_terms else None
            assignments = scoring.tag(vectors, threshold=threshold, terms=terms)
            stream.writelines(
                json.dumps(_output_row(article, assignment.to_fields()), ensure_ascii=False) + "\n"
                for article, assignment in zip(articles, assignments, strict=True)
            )
            sync(stream)
            counts.written += len(articles)
            release_freed_memory()

        first_line: dict[str, int] = {}
        for batch in _batches(read_article_rows(Path(source)), batch_size):
            articles = _admit(batch, done, first_line, counts, skip_invalid, str(source))
            if articles:
                found = article_vectors(articles, embedder, vectors_for=vectors_for)
                counts.encoded += found.encoded
                counts.reused += found.reused
                for ready, vectors in shares.admit(articles, found.vectors):
                    write(ready, vectors)
            if progress is not None:
                progress(len(batch))
        for ready, vectors in shares.finish():
            write(ready, vectors)
    counts.topic_shares = shares.estimated
    return TagReport(**vars(counts))


class _FileShares:
    """The tagger rows are scored with, and the rows held back until the file's topic shares
    are known: none held when the shares are off, not for this tagger, or already on disk."""

    def __init__(self, tagger: TopicTagger, share_rows: int, output: Path | IO[str]) -> None:
        if share_rows < 0:
            raise InvalidInputError(f"share rows must be 0 or more, got {share_rows}")
        self.tagger: TopicTagger = tagger
        self.estimated: BatchShares | None = None
        self._rows = share_rows
        self._path = shares_file(output) if isinstance(output, Path) else None
        self._held: list[tuple[list[Article], np.ndarray]] = []
        self._zero_shot = tagger if isinstance(tagger, ZeroShotTagger) and share_rows else None
        # Shares are reused only by a run that resumes: beside no output, a shares file is
        # a deleted output's, maybe of another input.
        resuming = isinstance(output, Path) and resume_source(output) is not None
        stored = self._path
        if resuming and stored is not None and stored.is_file():
            if self._zero_shot is None:
                # Its rows so far are re-weighted: the rest must be too, or the file mixes two
                # taggers' answers without a word.
                raise InvalidInputError(
                    f"{output} was begun re-weighted by its file's topic shares ({stored.name});"
                    " resume it the same way (zero-shot, NEWSREC_TOPIC_SHARE_ROWS above 0), or"
                    " delete both files to start again"
                )
            self._adopt(self._zero_shot, BatchShares.load(stored, tagger.labels))

    def admit(
        self, articles: list[Article], vectors: np.ndarray
    ) -> list[tuple[list[Article], np.ndarray]]:
        """The rows ready to write: these, or, while the shares are unknown, none until
        `share_rows` are held (then all of them)."""
        if self._zero_shot is None:
            return [(articles, vectors)]
        self._held.append((articles, vectors))
        if sum(len(rows) for rows, _ in self._held) < self._rows:
            return []
        return self.finish()

    def finish(self) -> list[tuple[list[Article], np.ndarray]]:
        """Everything held (a file shorter than `share_rows` is estimated on all its rows)."""
        if self._zero_shot is None or not self._held:
            return []
        first = np.vstack([vectors for _, vectors in self._held])[: self._rows]
        estimated = BatchShares.estimate(self._zero_shot, first)
        if self._path is not None:  # before any row it re-weights is written
            estimated.save(self._path)
        self._adopt(self._zero_shot, estimated)
        held, self._held = self._held, []
        return held

    def _adopt(self, zero_shot: ZeroShotTagger, shares: BatchShares) -> None:
        self.tagger = ShareAdjustedTagger(zero_shot, shares)
        self.estimated = shares
        self._zero_shot = None


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
