"""One article row: strict validation (null = absent, no coercion) and its JSON record."""

from __future__ import annotations

import contextlib
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender import Article, article_from_mapping
from recommender.articles import KNOWN_FIELDS, content_hash

# -- strategies ------------------------------------------------------------------------------

# Any JSON value, the odd ones included (non-BMP characters, control characters). Not NaN
# or infinities: JSON has neither, and an article holding one is refused (issue 18).
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8"), max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
odd_text = st.text(
    st.characters(codec="utf-8", categories=["L", "M", "N", "P", "S", "Z", "Cc", "Cf", "Co"]),
    max_size=40,
)
non_blank = odd_text.filter(lambda value: value.strip() != "")
iso_dates = st.dates().map(lambda day: day.isoformat())
iso_datetimes = st.datetimes().map(lambda moment: moment.isoformat() + "Z")
extra_keys = st.text(max_size=12).filter(lambda key: key not in KNOWN_FIELDS)


@st.composite
def valid_rows(draw: st.DrawFn) -> dict[str, Any]:
    row: dict[str, Any] = {"id": draw(non_blank), "title": draw(non_blank)}
    optional = {
        "body": odd_text,
        "published": iso_dates | iso_datetimes,
        "source": odd_text,
        "url": odd_text,
        "section": odd_text,
        "topics": st.lists(odd_text, max_size=4),
        "story": odd_text,
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            row[name] = draw(st.none() | strategy)
    row.update(draw(st.dictionaries(extra_keys, json_values, max_size=4)))
    return row


# -- validation --------------------------------------------------------------------------------


def test_a_full_row_becomes_an_article() -> None:
    article = article_from_mapping(
        {
            "id": "a1",
            "title": "Harbour strike",
            "body": "Dockworkers walked out.",
            "published": "2025-03-01T09:30:00Z",
            "source": "Coast Daily",
            "url": "https://example.org/a1",
            "section": "business",
            "topics": ["economy", "society"],
            "story": "harbour-strike",
        }
    )
    assert article == Article(
        id="a1",
        title="Harbour strike",
        body="Dockworkers walked out.",
        published="2025-03-01T09:30:00Z",
        source="Coast Daily",
        url="https://example.org/a1",
        section="business",
        topics=("economy", "society"),
        story="harbour-strike",
    )
    assert article.text == "Harbour strike\nDockworkers walked out."


def test_null_means_absent() -> None:
    optional = {name: None for name in KNOWN_FIELDS if name not in ("id", "title")}
    with_nulls = article_from_mapping({"id": "a", "title": "T", **optional})
    assert with_nulls == article_from_mapping({"id": "a", "title": "T"})
    assert with_nulls.body == ""
    assert with_nulls.published is None and with_nulls.published_time is None
    assert with_nulls.topics is None
    assert with_nulls.text == "T"


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"title": "T"}, "id"),
        ({"id": "a"}, "title"),
        ({"id": None, "title": "T"}, "id"),
        ({"id": "a", "title": None}, "title"),
    ],
)
def test_required_fields_missing_or_null(row: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=f"'{field}'"):
        article_from_mapping(row)


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"id": 12, "title": "T"}, "id"),
        ({"id": 1.5, "title": "T"}, "id"),
        ({"id": True, "title": "T"}, "id"),
        ({"id": ["a"], "title": "T"}, "id"),
        ({"id": "", "title": "T"}, "id"),
        ({"id": "   ", "title": "T"}, "id"),
        ({"id": "a", "title": 7}, "title"),
        ({"id": "a", "title": ""}, "title"),
        ({"id": "a", "title": "\t\n"}, "title"),
        ({"id": "a", "title": {"text": "T"}}, "title"),
        ({"id": "a", "title": "T", "body": 3}, "body"),
        ({"id": "a", "title": "T", "body": ["x"]}, "body"),
        ({"id": "a", "title": "T", "published": "20250301"}, "published"),
        ({"id": "a", "title": "T", "published": "yesterday"}, "published"),
        ({"id": "a", "title": "T", "published": "2025-13-01"}, "published"),
        ({"id": "a", "title": "T", "published": 1740821400}, "published"),
        ({"id": "a", "title": "T", "source": 1}, "source"),
        ({"id": "a", "title": "T", "url": False}, "url"),
        ({"id": "a", "title": "T", "section": 2}, "section"),
        ({"id": "a", "title": "T", "topics": "politics"}, "topics"),
        ({"id": "a", "title": "T", "topics": "politics;economy"}, "topics"),
        ({"id": "a", "title": "T", "topics": ["politics", 3]}, "topics"),
        ({"id": "a", "title": "T", "topics": {"politics": 1}}, "topics"),
        ({"id": "a", "title": "T", "story": 42}, "story"),
    ],
)
def test_no_type_coercion(row: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError) as raised:
        article_from_mapping(row)
    message = str(raised.value)
    assert f"'{field}" in message
    assert "\n" not in message


def test_a_non_iso_published_message_says_what_is_expected() -> None:
    with pytest.raises(ValueError, match="ISO 8601") as raised:
        article_from_mapping({"id": "a", "title": "T", "published": "1 March 2025"})
    assert "1 March 2025" in str(raised.value)


def test_a_long_bad_value_is_shortened_in_the_message() -> None:
    with pytest.raises(ValueError) as raised:
        article_from_mapping({"id": "a", "title": "T", "published": "x" * 10_000})
    assert len(str(raised.value)) < 300


def test_several_problems_in_a_row_are_counted() -> None:
    with pytest.raises(ValueError, match="more problem"):
        article_from_mapping({"id": 1, "title": 2, "body": 3})


def test_extra_fields_of_any_json_type_are_kept_verbatim() -> None:
    extras = {
        "author": "R. Reporter",
        "word_count": 512,
        "rating": 4.5,
        "paywalled": False,
        "corrections": None,
        "tags": ["port", 3, None, {"nested": [1, 2]}],
        "geo": {"lat": 51.5, "lon": -0.12, "places": ["Dover"]},
        "big": 10**30,
    }
    article = article_from_mapping({"id": "a", "title": "T", **extras})
    assert article.extra == extras
    record = article.to_record()
    for key, value in extras.items():
        assert record[key] == value
        assert type(record[key]) is type(value)


def test_string_fields_are_kept_verbatim_not_stripped() -> None:
    article = article_from_mapping({"id": " a ", "title": "  Title\u00a0", "body": "\n body "})
    assert (article.id, article.title, article.body) == (" a ", "  Title\u00a0", "\n body ")


def test_huge_strings_are_accepted() -> None:
    body = "word " * 200_000
    article = article_from_mapping({"id": "a", "title": "T" * 100_000, "body": body})
    assert len(article.text) == 100_000 + 1 + len(body)
    assert len(article.content_hash) == 64


@pytest.mark.parametrize(
    "published",
    ["0001-01-01", "9999-12-31", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-14:00"],
)
def test_dates_at_the_ends_of_the_calendar_are_valid(published: str) -> None:
    article = article_from_mapping({"id": "a", "title": "T", "published": published})
    assert article.published == published
    assert article.published_time is not None


def test_content_hash_depends_on_the_text_only() -> None:
    first = article_from_mapping({"id": "a", "title": "T", "body": "B", "source": "X"})
    second = article_from_mapping({"id": "b", "title": "T", "body": "B", "source": "Y"})
    third = article_from_mapping({"id": "a", "title": "T", "body": "B2"})
    assert first.content_hash == second.content_hash == content_hash("T\nB")
    assert first.content_hash != third.content_hash


# -- properties ----------------------------------------------------------------------------------


@settings(max_examples=75, deadline=None)
@given(st.dictionaries(st.sampled_from(KNOWN_FIELDS) | st.text(max_size=8), json_values))
def test_any_json_object_is_an_article_or_a_value_error(row: dict[str, Any]) -> None:
    try:
        article = article_from_mapping(row)
    except ValueError as error:
        message = str(error)
        assert message and "\n" not in message
        return
    assert isinstance(article.id, str) and article.id.strip()
    assert isinstance(article.title, str) and article.title.strip()


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from([*KNOWN_FIELDS]),
    json_values | st.binary(max_size=10) | st.tuples(st.integers()) | st.sets(st.integers()),
)
def test_a_wrong_value_in_a_known_field_is_only_ever_a_value_error(
    field: str, value: object
) -> None:
    row: dict[str, Any] = {"id": "a", "title": "T", field: value}
    with contextlib.suppress(ValueError):
        article_from_mapping(row)


@settings(max_examples=100, deadline=None)
@given(valid_rows())
def test_a_valid_row_round_trips_through_to_record(row: dict[str, Any]) -> None:
    article = article_from_mapping(row)
    record = article.to_record()
    assert article_from_mapping(record) == article
    # Every value given is in the record unchanged (lists for topics, "" for a null body).
    for key, value in row.items():
        if key == "body" and value is None:
            assert record[key] == ""
        else:
            assert record[key] == value
    # The record is JSON: what a JSONL file holds reads back as the same article.
    assert article_from_mapping(json.loads(json.dumps(record))) == article


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(
        st.dates().map(lambda day: day.isoformat()),
        st.datetimes().map(lambda moment: moment.isoformat()),
        st.datetimes().map(lambda moment: moment.isoformat(timespec="minutes") + "Z"),
    )
)
def test_any_calendar_date_or_datetime_is_valid(published: str) -> None:
    article = article_from_mapping({"id": "a", "title": "T", "published": published})
    moment = article.published_time
    assert moment is not None and math.isfinite(moment.start) and math.isfinite(moment.end)
