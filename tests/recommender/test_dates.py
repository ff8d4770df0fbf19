"""Publication times: strict ISO 8601 parsing and the before/after rule the slots use.

A bare date is a whole day: it is on neither side of a datetime on that same day, and
before anything from the next midnight on. Naive datetimes are UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recommender.dates import SECONDS_PER_DAY, PublishedTime, parse_bound, parse_published


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def _neither(a: PublishedTime, b: PublishedTime) -> bool:
    return not (a.before(b) or a.after(b) or b.before(a) or b.after(a))


# -- parsing -------------------------------------------------------------------------------


def test_a_bare_date_is_the_whole_utc_day() -> None:
    day = parse_published("2025-03-01")
    assert day.is_day
    assert day.start == _epoch("2025-03-01T00:00:00")
    assert day.end == _epoch("2025-03-02T00:00:00")
    assert day.end - day.start == SECONDS_PER_DAY


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2025-03-01T09:30:00Z", "2025-03-01T09:30:00"),
        ("2025-03-01T09:30:00+00:00", "2025-03-01T09:30:00"),
        ("2025-03-01T09:30:00+02:00", "2025-03-01T07:30:00"),
        ("2025-03-01T09:30:00-05:00", "2025-03-01T14:30:00"),
        ("2025-03-01T09:30+0530", "2025-03-01T04:00:00"),
        ("2025-03-01T01:00:00+02:00", "2025-02-28T23:00:00"),
        ("2025-03-01 09:30:00", "2025-03-01T09:30:00"),
        ("2025-03-01T09:30", "2025-03-01T09:30:00"),
        ("2025-03-01T09:30:00.250000Z", "2025-03-01T09:30:00.250000"),
    ],
)
def test_datetimes_are_instants_on_the_utc_timeline(text: str, utc: str) -> None:
    moment = parse_published(text)
    assert not moment.is_day
    assert moment.start == moment.end == _epoch(utc)


def test_a_naive_datetime_is_taken_as_utc() -> None:
    assert parse_published("2025-03-01T09:30:00") == parse_published("2025-03-01T09:30:00Z")


def test_surrounding_whitespace_is_tolerated() -> None:
    assert parse_published(" 2025-03-01\n") == parse_published("2025-03-01")


@pytest.mark.parametrize(
    "text",
    [
        "2025-13-01",
        "2025-02-30",
        "2025-02-29",
        "2025-00-10",
        "2025-03-01T25:00:00Z",
        "2025-03-01T09:60Z",
        "2025-03-01T09:30:00+25:00",
    ],
)
def test_impossible_calendar_values_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        parse_published(text)


@pytest.mark.parametrize(
    "text",
    [
        "20250301",
        "yesterday",
        "2025-W09",
        "2025-060",
        "2025-3-1",
        "03/01/2025",
        "1 March 2025",
        "2025-03-01T",
        "2025-03",
        "",
        "   ",
        "1740821400",
    ],
)
def test_non_iso_shapes_are_rejected_with_the_value_in_the_message(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601") as raised:
        parse_published(text)
    assert repr(text) in str(raised.value)


# -- before / after ------------------------------------------------------------------------


def test_instant_against_instant() -> None:
    early = parse_published("2025-03-01T09:00:00Z")
    late = parse_published("2025-03-01T09:00:01Z")
    assert early.before(late) and late.after(early)
    assert not late.before(early) and not early.after(late)


def test_the_same_instant_written_differently_is_on_neither_side() -> None:
    a = parse_published("2025-03-01T09:00:00Z")
    b = parse_published("2025-03-01T11:00:00+02:00")
    assert _neither(a, b)
    assert _neither(a, a)


def test_an_offset_decides_the_order_not_the_wall_clock() -> None:
    # 10:00 in Paris (+01:00) is 09:00 UTC, before 09:30 UTC although "10:00" > "09:30".
    paris = parse_published("2025-03-01T10:00:00+01:00")
    utc = parse_published("2025-03-01T09:30:00Z")
    assert paris.before(utc) and utc.after(paris)


@pytest.mark.parametrize(
    "same_day",
    [
        "2025-03-01T00:00:00Z",  # midnight at the start of the day
        "2025-03-01T00:00:01Z",
        "2025-03-01T12:00:00Z",
        "2025-03-01T23:59:59.999999Z",
        "2025-03-01T12:00:00",
        "2025-03-01T23:30:00+01:00",  # 22:30 UTC, still the same UTC day
    ],
)
def test_a_date_and_a_datetime_on_the_same_day_are_on_neither_side(same_day: str) -> None:
    assert _neither(parse_published("2025-03-01"), parse_published(same_day))


@pytest.mark.parametrize(
    "next_day",
    ["2025-03-02T00:00:00Z", "2025-03-02T08:15:00Z", "2025-03-02T01:00:00+01:00"],
)
def test_a_date_is_before_any_datetime_from_the_next_midnight_on(next_day: str) -> None:
    day, later = parse_published("2025-03-01"), parse_published(next_day)
    assert day.before(later) and later.after(day)
    assert not later.before(day) and not day.after(later)


def test_a_datetime_on_the_previous_day_is_before_the_date() -> None:
    day = parse_published("2025-03-01")
    last_second = parse_published("2025-02-28T23:59:59Z")
    assert last_second.before(day) and day.after(last_second)
    assert not day.before(last_second)


def test_an_offset_can_move_a_datetime_onto_the_previous_utc_day() -> None:
    # 00:30 at +01:00 is 23:30 UTC on the day before.
    day = parse_published("2025-03-01")
    assert parse_published("2025-03-01T00:30:00+01:00").before(day)


def test_dates_against_dates() -> None:
    first, second = parse_published("2025-03-01"), parse_published("2025-03-02")
    assert first.before(second) and second.after(first)
    assert not second.before(first)
    assert _neither(first, parse_published("2025-03-01"))


# Times are float epoch seconds, exact to ~60 microseconds even in year 9999: a gap of a
# millisecond or more must always order correctly.
@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.timedeltas(min_value=timedelta(milliseconds=1), max_value=timedelta(days=3650)),
    st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59),
)
def test_order_of_instants_follows_the_real_timeline(
    moment: datetime, gap: timedelta, offset_minutes: int
) -> None:
    zone = timezone(timedelta(minutes=offset_minutes))
    early = moment.replace(tzinfo=UTC)
    # Compared as `early > last - gap`: `early + gap` itself can pass datetime.max.
    if early > datetime(9999, 12, 30, tzinfo=UTC) - gap:
        early -= gap
    late = (early + gap).astimezone(zone)
    a, b = parse_published(early.isoformat()), parse_published(late.isoformat())
    assert a.before(b) and b.after(a)
    assert not b.before(a) and not a.after(b)


# -- filter bounds -------------------------------------------------------------------------


def test_parse_bound_upper_bare_date_covers_the_whole_day_and_no_more() -> None:
    # Filters keep `start <= until`: the day's last instant is in, the next midnight is out.
    upper = parse_bound("2025-03-01", upper=True)
    assert parse_published("2025-03-01T23:59:59.999999Z").start <= upper
    assert parse_published("2025-03-01").start <= upper
    assert upper < parse_published("2025-03-02T00:00:00Z").start
    assert upper < parse_published("2025-03-02").start


def test_parse_bound_lower_bare_date_starts_at_midnight() -> None:
    assert parse_bound("2025-03-01", upper=False) == _epoch("2025-03-01T00:00:00")


@pytest.mark.parametrize("upper", [True, False])
def test_parse_bound_datetime_is_the_instant_either_way(upper: bool) -> None:
    assert parse_bound("2025-03-01T12:00:00+02:00", upper=upper) == _epoch("2025-03-01T10:00:00")


def test_parse_bound_rejects_non_iso() -> None:
    with pytest.raises(ValueError):
        parse_bound("last week", upper=True)
