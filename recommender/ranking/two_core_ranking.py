"""Ranking the stored lists on two cores: half the rows in a forked child process.

Ranking a list is mostly Python between small numpy/scipy calls, so threads queue on the
GIL (two threads ranked Wikinews' 295 lists in 1.03-1.12 s against 0.82-0.85 s on one).
A forked child reaches the idle core with nothing to load or send but row ids in and lists
out: it starts from the parent's index as it is. The child only reads the index, and the
caller stores nothing until the child's lists are back, so no write happens while the
child reads the store (an SQLite connection carried across a fork is safe only so).

Any failure of the child (no fork on this platform, a crash, a result that does not come
back in time) leaves its rows to the parent: the lists are the same either way, as
ranking one list reads nothing another list's ranking writes.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Result = TypeVar("Result")

# Below this many rows, a fork (tens of ms for a process holding the model) costs more
# than half the ranking saves (~3 ms a list).
MIN_FORKED_ROWS = 128
# How long the parent waits for the child past its own half, relative to that half's time:
# the halves are the same work, so a child this late is stuck, not slow.
_PATIENCE = 4.0
_MIN_WAIT_SECONDS = 30.0


def second_core_available() -> bool:
    """Whether this process may run on two cores and can fork a child to use the second."""
    if not hasattr(os, "fork"):
        return False
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cores or 1) >= 2


def rank_on_two_cores(
    rank: Callable[[list[int]], Result],
    rows: Sequence[int],
) -> list[Result]:
    """`rank` of the first half of `rows` here and of the second in a forked child; one
    result per half, in row order (a single result when the rows are few or no second core
    is there). `rank` must only read, and its result must pickle."""
    rows = list(rows)
    if len(rows) < MIN_FORKED_ROWS or not second_core_available():
        return [rank(rows)]
    half = len(rows) // 2
    mine, theirs = rows[:half], rows[half:]
    child = _ForkedRank(rank, theirs)
    try:
        started = time.monotonic()
        first = rank(mine)
        wait = max(_MIN_WAIT_SECONDS, _PATIENCE * (time.monotonic() - started))
        second = child.result(wait)
    finally:
        child.end()
    return [first, rank(theirs) if second is None else second]


class _ForkedRank(Generic[Result]):
    """A child process ranking some rows; its result comes back pickled through a pipe."""

    def __init__(self, rank: Callable[[list[int]], Result], rows: list[int]) -> None:
        self._read, write = os.pipe()
        self._pid: int | None = os.fork()
        if self._pid == 0:
            os.close(self._read)
            _run_child(rank, rows, write)  # never returns
        os.close(write)

    def result(self, wait_seconds: float) -> Result | None:
        """The child's result, or None if it failed or is not back within `wait_seconds`."""
        deadline = time.monotonic() + wait_seconds
        chunks: list[bytes] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._read], [], [], remaining)[0]:
                return None
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        if self._reap() != 0:
            return None
        try:
            result: Result = pickle.loads(b"".join(chunks))
        except (pickle.UnpicklingError, EOFError, AttributeError, ValueError):
            return None
        return result

    def end(self) -> None:
        """Close the pipe and make sure the child is gone (killed if it is still ranking)."""
        os.close(self._read)
        if self._pid is not None:
            os.kill(self._pid, signal.SIGKILL)
            self._reap()

    def _reap(self) -> int:
        assert self._pid is not None
        _, status = os.waitpid(self._pid, 0)
        self._pid = None
        return os.waitstatus_to_exitcode(status)


def _run_child(rank: Callable[[list[int]], object], rows: list[int], write: int) -> None:
    """In the child: rank, send the result, leave at once. `os._exit` skips the parent's
    exit handlers and buffered output, which are the parent's to run and print."""
    code = 1
    try:
        payload = pickle.dumps(rank(rows), protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write, "wb") as out:
            out.write(payload)
        code = 0
    finally:
        os._exit(code)
