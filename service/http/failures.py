"""One readable line for failures that are the operator's to fix, not newsrec's bugs: a
setting with a bad value, a store that cannot be read, a directory that cannot be written,
a full disk. The CLI answers them with exit code 2; the service shows them on /readyz.
"""

from __future__ import annotations

import errno
import sqlite3

from pydantic import ValidationError

from recommender import NewsrecError

# The settings objects whose fields are NEWSREC_* variables.
_SETTINGS_MODELS = frozenset({"Settings", "ServiceSettings"})
_ALIASES = {"index_dir": "NEWSREC_HOME"}
_OS_REASONS = {
    errno.EROFS: "read-only directory",
    errno.EACCES: "permission denied (a read-only directory?)",
    errno.EPERM: "permission denied (a read-only directory?)",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
}


def operator_failure(error: BaseException) -> str | None:
    """The line to show for `error`, or None when it is not one of these failures."""
    if isinstance(error, NewsrecError):
        return str(error)
    if isinstance(error, ValidationError) and error.title in _SETTINGS_MODELS:
        return settings_failure(error)
    if _disk_full(error):
        return f"the disk is full ({last_line(error)[-200:]}); free space and run again"
    if isinstance(error, sqlite3.DatabaseError):
        return f"the index store cannot be read ({error}): restore it or rebuild the index"
    if isinstance(error, OSError) and error.errno in _OS_REASONS:
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{_OS_REASONS[error.errno]} ({error.strerror})"
    return None


def _disk_full(error: BaseException) -> bool:
    """SQLite's SQLITE_FULL, or FAISS's failed write (a RuntimeError quoting strerror)."""
    if isinstance(error, sqlite3.OperationalError):
        return "database or disk is full" in str(error)
    return isinstance(error, RuntimeError) and "No space left on device" in str(error)


def load_failure(error: Exception) -> str:
    """One line saying why the index could not be loaded."""
    known = operator_failure(error)
    return known if known is not None else f"unexpected {type(error).__name__}: {last_line(error)}"


def last_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[-1] if lines else type(error).__name__


def settings_failure(error: ValidationError) -> str:
    """'invalid setting NEWSREC_X: why (got 'value')', for the first bad setting."""
    first = error.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else "?"
    name = field if field.startswith("NEWSREC_") else _ALIASES.get(field, f"NEWSREC_{field}")
    message = first["msg"].removeprefix("Value error, ")
    shown = "" if first["type"] == "missing" else f" (got {_shown(first.get('input'))})"
    more = error.error_count() - 1
    suffix = f"; and {more} more" if more else ""
    return f"invalid setting {name.upper()}: {message}{shown}{suffix}"


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
