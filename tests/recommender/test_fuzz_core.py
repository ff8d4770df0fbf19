"""Hypothesis on the core's public functions with hostile input: odd unicode, empty and
huge fields, duplicate ids, dates at the ends of the calendar, garbage filters.

Every call either works or raises the core's own `InvalidInputError` (or
`ArticleNotFoundError`) with a one-line message; after any sequence of writes the index
is consistent (the store, the vector index and the catalog hold the same articles) and no
result names an article that is not in the index.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from embeddings import HashingEmbedder
from recommender import (
    Article,
    ArticleIndex,
    ArticleNotFoundError,
    InvalidArticleError,
    InvalidInputError,
    Recommender,
    RelatedFilters,
    article_from_mapping,
    load_articles,
)

pytestmark = pytest.mark.fuzz

# Text a newsroom's feed can hold: any printable or control character, astral planes,
# combining marks, right-to-left text, zero-width joiners; surrogates cannot be stored.
odd_text = st.text(
    st.characters(exclude_categories=("Cs",)) | st.sampled_from("\u200b\u200d\u202e\u0301\ufeff"),
    max_size=40,
)
ids = odd_text.filter(lambda value: bool(value.strip()))
calendar_ends = st.sampled_from(
    [
        "0001-01-01",
        "0001-01-01T00:00:00Z",
        "9999-12-31",
        "9999-12-31T23:59:59+14:00",
        "1970-01-01T00:00:00-12:00",
        "2025-02-28T23:59:59.999999Z",
    ]
)
published = st.none() | calendar_ends | st.dates().map(lambda day: day.isoformat())


@st.composite
def articles(draw: st.DrawFn, article_id: st.SearchStrategy[str] = ids) -> Article:
    return Article(
        id=draw(article_id),
        title=draw(ids),
        body=draw(odd_text | st.just("") | st.just("word " * 4_000)),
        published=draw(published),
        source=draw(st.none() | odd_text),
        extra=draw(st.dictionaries(st.sampled_from(["desk", "ünï", ""]), odd_text, max_size=2)),
    )


def _consistent(index: ArticleIndex) -> set[str]:
    stored = set(index.ids())
    assert len(index.vectors) == len(index.catalog) == len(index.lexical) == len(stored)
    if stored:
        row_ids = np.asarray([index.row_id(i) for i in stored], dtype=np.int64)
        vectors = index.vectors.vectors_of(row_ids)
        texts = [index.article(i).text for i in stored]
        assert np.allclose(vectors, index.embedder.encode(texts), atol=1e-5)
    return stored


def _one_line(error: Exception) -> None:
    assert str(error) and "\n" not in str(error)


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batches=st.lists(st.lists(articles(), max_size=6), min_size=1, max_size=3),
    deletes=st.lists(ids, max_size=3),
)
def test_any_writes_leave_a_consistent_index_that_reopens(
    batches: list[list[Article]], deletes: list[str]
) -> None:
    embedder = HashingEmbedder(dimension=64)
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder) / "index"
        expected: dict[str, Article] = {}
        with ArticleIndex.open(directory, embedder, writable=True) as index:
            for batch in batches:
                try:
                    index.upsert(batch)
                except InvalidInputError as error:  # duplicate ids in one batch
                    _one_line(error)
                    assert len({a.id for a in batch}) < len(batch)
                    continue
                expected.update((article.id, article) for article in batch)
            missing = index.delete(deletes)
            assert set(missing) == {i for i in deletes if i not in expected}
            for article_id in deletes:
                expected.pop(article_id, None)
            assert _consistent(index) == set(expected)
            index.save()
        with ArticleIndex.open(directory, embedder) as index:
            assert _consistent(index) == set(expected)
            for article_id, article in expected.items():
                assert index.article(article_id) == article  # stored in full, as given
            recommender = Recommender(index)
            for article_id in list(expected)[:3]:
                for hit in recommender.related(article_id, 5):
                    assert hit.id in expected and hit.id != article_id
                found = recommender.slots(article_id)
                for slot in (found.previous, found.next):
                    assert slot is None or slot.id in expected


@pytest.fixture(scope="module")
def small_index(tmp_path_factory: pytest.TempPathFactory) -> ArticleIndex:
    directory = tmp_path_factory.mktemp("fuzz") / "index"
    index = ArticleIndex.open(directory, HashingEmbedder(dimension=64), writable=True)
    words = ["flood river rain", "election vote ballot", "cup goal final", "talks Moscow pact"]
    index.upsert(
        [
            Article(
                id=f"a{n}",
                title=f"Report {n} {words[n % 4]}",
                body=f"{words[n % 4]} detail {n}",
                published=f"20{10 + n}-0{1 + n % 9}-1{n % 9}" if n % 5 else None,
            )
            for n in range(12)
        ]
    )
    yield index  # type: ignore[misc]
    index.close()


filter_values: dict[str, st.SearchStrategy[Any]] = {
    "since": st.none() | calendar_ends | odd_text,
    "until": st.none() | calendar_ends | odd_text,
    "max_age_days": st.none() | st.floats(allow_nan=True, allow_infinity=True),
    "min_score": st.none() | st.floats(allow_nan=True, allow_infinity=True),
    "topic": st.none() | odd_text,
    "exclude_ids": st.frozensets(st.sampled_from(["a1", "a2"]) | ids, max_size=3),
}


@settings(max_examples=150, deadline=None)
@given(
    query=st.sampled_from(["a0", "a3", "a7"]) | odd_text,
    k=st.integers(min_value=-3, max_value=1200),
    filters=st.fixed_dictionaries({}, optional=filter_values),
)
def test_related_and_slots_answer_or_raise_a_core_error(
    small_index: ArticleIndex, query: str, k: int, filters: dict[str, Any]
) -> None:
    recommender = Recommender(small_index)
    known = set(small_index.ids())
    try:
        built = RelatedFilters(**filters)
        hits = recommender.related(query, k, built)
    except (InvalidInputError, ArticleNotFoundError) as error:
        _one_line(error)
        return
    assert len(hits) <= k
    for hit in hits:
        assert hit.id in known and hit.id != query and hit.id not in built.exclude_ids
        assert math.isfinite(hit.score)
        if built.min_score is not None:
            assert hit.score >= built.min_score


@settings(max_examples=100, deadline=None)
@given(title=odd_text, body=odd_text | st.just("x" * 300_000), when=published | odd_text)
def test_related_to_any_text_answers_or_raises_a_core_error(
    small_index: ArticleIndex, title: str, body: str, when: str | None
) -> None:
    try:
        hits = Recommender(small_index).related_to_text(title, body, 5, published=when)
    except InvalidInputError as error:
        _one_line(error)
        return
    assert {hit.id for hit in hits} <= set(small_index.ids())


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(["id", "title", "body", "published"]), odd_text))
def test_odd_unicode_rows_are_articles_or_one_line_errors(row: dict[str, str]) -> None:
    try:
        article = article_from_mapping(row)
    except ValueError as error:
        _one_line(error)
        return
    assert article.to_record()["title"] == row["title"]


def test_a_duplicate_id_in_one_upsert_is_refused_naming_it(tmp_path: Path) -> None:
    with ArticleIndex.open(tmp_path / "index", HashingEmbedder(64), writable=True) as index:
        first, second = Article(id="x", title="one"), Article(id="x", title="two")
        with pytest.raises(InvalidInputError, match="duplicate id 'x'"):
            index.upsert([first, second])
        assert len(index) == 0 and len(index.vectors) == 0


csv_cells = odd_text | st.sampled_from(['"', '""', "\n", "\r\n", ",", ";", "\x00", "2025-13-01"])


@settings(max_examples=150, deadline=None)
@given(
    header=st.lists(st.sampled_from(["id", "title", "body", "published", "topics", "x", ""])),
    rows=st.lists(st.lists(csv_cells, max_size=6), max_size=6),
)
def test_any_csv_gives_articles_row_errors_or_one_file_error(
    header: list[str], rows: list[list[str]]
) -> None:
    raw = "\n".join(",".join(cells) for cells in [header, *rows])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "garbage.csv"
        path.write_text(raw, encoding="utf-8", errors="surrogatepass")
        try:
            batch = load_articles([path], skip_invalid=True)
        except InvalidInputError as error:  # the file as a whole is unreadable
            _one_line(error)
            assert str(error).startswith(str(path))
            return
    for error in batch.invalid:
        assert str(error).startswith(f"{path}, line ")
        _one_line(error)
    assert len({article.id for article in batch.articles}) == len(batch.articles)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "ç/é", " a"]), published), max_size=8))
def test_repeated_ids_keep_the_first_and_fail_a_strict_batch(
    rows: list[tuple[str, str | None]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.jsonl"
        lines = [{"id": i, "title": f"T{n}", "published": when} for n, (i, when) in enumerate(rows)]
        path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
        batch = load_articles([path], skip_invalid=True)
        first = {}
        for line in lines:
            first.setdefault(line["id"], line["title"])
        assert {a.id: a.title for a in batch.articles} == first
        assert len(batch.invalid) == len(lines) - len(first)
        if batch.invalid:
            with pytest.raises(InvalidArticleError, match="duplicate id"):
                load_articles([path])
