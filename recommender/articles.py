"""The article: its validated input record and the domain object the core works with."""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from recommender.dates import PublishedTime, parse_published

KNOWN_FIELDS = ("id", "title", "body", "published", "source", "url", "section", "topics", "story")
# How deep lists and objects may nest inside one extra field ({"a": [1]} is 2 levels). Deeper
# values could be stored but not returned (JSON encoders stop near 255 levels), so they are
# refused when written, by the CLI and the API alike.
MAX_FIELD_DEPTH = 32
# A lone surrogate (a "\ud800" escape with no pair) parses from JSON but is no text: it
# cannot be encoded as UTF-8, so it could neither be hashed, stored nor returned.
_SURROGATE = re.compile("[\ud800-\udfff]")


class ArticleRecord(BaseModel):
    """One input row. Strict: no coercion, so `"id": 12` is an error, not "12"."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)

    id: str = Field(min_length=1)
    title: str
    body: str | None = None
    published: str | None = None
    source: str | None = None
    url: str | None = None
    section: str | None = None
    topics: list[str] | None = None
    story: str | None = None

    @field_validator("id", "title")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("published")
    @classmethod
    def _iso_8601(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_published(value)
            except ValueError:
                raise ValueError(
                    "must be an ISO 8601 date or datetime (e.g. 2025-03-01T09:30:00Z)"
                ) from None
        return value


@dataclass(frozen=True, slots=True)
class Article:
    """A news article as newsrec stores it. `extra` keeps unknown input fields verbatim."""

    id: str
    title: str
    body: str = ""
    published: str | None = None
    source: str | None = None
    url: str | None = None
    section: str | None = None
    topics: tuple[str, ...] | None = None
    story: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """What the embedder reads: the title, then the body."""
        return f"{self.title}\n{self.body}" if self.body else self.title

    @property
    def content_hash(self) -> str:
        """Key of the stored vector: the same text is never encoded twice."""
        return content_hash(self.text)

    @property
    def published_time(self) -> PublishedTime | None:
        return parse_published(self.published) if self.published is not None else None

    def to_record(self) -> dict[str, Any]:
        """The article as a JSON-ready row, extra fields included."""
        record: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "body": self.body,
            "published": self.published,
            "source": self.source,
            "url": self.url,
            "section": self.section,
            "topics": list(self.topics) if self.topics is not None else None,
            "story": self.story,
        }
        record.update(self.extra)
        return record


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def article_from_mapping(row: dict[str, Any]) -> Article:
    """Validate a raw row; raise ValueError with a one-line reason naming the field."""
    for name, value in row.items():
        problem = json_value_problem(value, max_depth=MAX_FIELD_DEPTH)
        if problem is None and isinstance(name, str) and _SURROGATE.search(name):
            problem = "an unpaired surrogate escape in its name, which is not text"
        if problem is not None:
            raise ValueError(f"field {_shown_name(name)}: holds {problem}")
    try:
        record = ArticleRecord.model_validate(row)
    except ValidationError as error:
        raise ValueError(_describe(error)) from None
    return Article(
        id=record.id,
        title=record.title,
        body=record.body or "",
        published=record.published,
        source=record.source,
        url=record.url,
        section=record.section,
        topics=tuple(record.topics) if record.topics is not None else None,
        story=record.story,
        extra=dict(record.model_extra or {}),
    )


def json_value_problem(value: Any, *, max_depth: int | None = None) -> str | None:
    """What a parsed JSON value holds that cannot be kept (a phrase to follow "holds"), or
    None: a string or key with an unpaired surrogate, a number that is NaN or infinite (JSON
    has neither; Python's parser lets them in), lists and objects deeper than `max_depth`.

    Iterative, so a hostile nesting depth cannot exhaust the stack.
    """
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return "an unpaired surrogate escape, which is not text"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"the number {item}, which JSON does not have"
        elif isinstance(item, dict | list):
            if max_depth is not None and depth >= max_depth:
                return f"lists or objects nested deeper than {max_depth} levels (the limit)"
            if isinstance(item, dict):
                for key in item:
                    if isinstance(key, str) and _SURROGATE.search(key):
                        return "an unpaired surrogate escape in a key, which is not text"
                pending.extend((child, depth + 1) for child in item.values())
            else:
                pending.extend((child, depth + 1) for child in item)
    return None


def _shown_name(name: object) -> str:
    text = repr(name) if isinstance(name, str) and _SURROGATE.search(name) else f"'{name}'"
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"]) or "row"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "missing":
        return f"field '{location}' is required"
    shown = repr(first.get("input"))
    if len(shown) > 60:
        shown = shown[:57] + "..."
    more = error.error_count() - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''} in this row)" if more else ""
    return f"field '{location}': {message}, got {shown}{suffix}"
