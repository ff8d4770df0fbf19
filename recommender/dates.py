"""Publication times: strict ISO 8601 parsing and the ordering rule for slots.

A date without a time ("2025-03-01") is a whole day: it is neither before nor after a
datetime on that same day. Naive datetimes are taken as UTC.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

# fromisoformat alone also accepts forms such as "20250301" or "2025-W09"; articles use the
# extended calendar form, so anything else is rejected as a likely mistake.
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$"
)

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class PublishedTime:
    """A point (or, for a bare date, a day) on the UTC timeline."""

    start: float  # epoch seconds: the instant, or the day's first second
    end: float  # the same instant, or the day's last instant (exclusive end)

    @property
    def is_day(self) -> bool:
        return self.end > self.start

    def before(self, other: PublishedTime) -> bool:
        """Strictly earlier; a day is earlier only than what comes after its last instant."""
        if self.is_day:
            return self.end <= other.start
        return self.start < other.start

    def after(self, other: PublishedTime) -> bool:
        return other.before(self)


def parse_published(value: str) -> PublishedTime:
    """Parse an ISO 8601 date or datetime; raise ValueError with the reason otherwise."""
    text = value.strip()
    try:
        if _ISO_DATE.match(text):
            day = date.fromisoformat(text)
            start = datetime.combine(day, time(), tzinfo=UTC).timestamp()
            return PublishedTime(start, start + SECONDS_PER_DAY)
        moment = datetime.fromisoformat(text) if _ISO_DATETIME.match(text) else None
    except ValueError as error:  # the right shape but an impossible date, e.g. month 13
        raise ValueError(f"{value!r} is not a valid date ({error})") from None
    if moment is not None:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        instant = moment.timestamp()
        return PublishedTime(instant, instant)
    raise ValueError(f"{value!r} is not an ISO 8601 date or datetime (e.g. 2025-03-01T09:30:00Z)")


def parse_bound(value: str, *, upper: bool) -> float:
    """An inclusive filter bound in epoch seconds; a bare date as upper bound covers its day.

    The day's end is exclusive (it is the next midnight), so the inclusive bound is the
    largest float below it.
    """
    published = parse_published(value)
    if upper and published.is_day:
        return math.nextafter(published.end, -math.inf)
    return published.start
