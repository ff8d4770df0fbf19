"""Errors newsrec raises on purpose. Each message is one readable line for a person.

NewsrecError
├── InvalidInputError        bad rows, bad arguments, bad files
│   └── InvalidArticleError  one row that breaks the article format (file and line or row)
├── ArticleNotFoundError     an id that is not indexed
├── IndexMismatchError       the index was built with another embedder or schema
├── IndexCorruptError        the index directory cannot be read back
└── IndexBusyError           another process is writing the index
"""

from __future__ import annotations


class NewsrecError(Exception):
    """Base of every error newsrec raises deliberately."""


class InvalidInputError(NewsrecError, ValueError):
    """Input that newsrec cannot accept."""


class InvalidArticleError(InvalidInputError):
    """One article row is malformed. Carries where it came from."""

    def __init__(self, source: str, line: int, reason: str, *, unit: str = "line") -> None:
        """`line` counts `unit`s from 1: physical lines of a text file, rows of a Parquet file."""
        self.source = source
        self.line = line
        self.reason = reason
        self.unit = unit
        super().__init__(f"{source}, {unit} {line}: {reason}")


class ArticleNotFoundError(NewsrecError, KeyError):
    """No article with that id is indexed."""

    def __init__(self, article_id: str) -> None:
        self.article_id = article_id
        super().__init__(article_id)

    def __str__(self) -> str:
        return f"no article with id {self.article_id!r} in the index"


class IndexMismatchError(NewsrecError):
    """The index on disk was built with a different embedder or schema version."""


class IndexCorruptError(NewsrecError):
    """The index directory holds files newsrec cannot read back."""


class IndexBusyError(NewsrecError):
    """Another process holds the index's write lock."""
