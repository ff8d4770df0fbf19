"""Stored lists ranked on two cores: half the rows in a forked child, the same lists stored."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from recommender import ArticleIndex, load_articles
from recommender.ranking import two_core_ranking
from recommender.ranking.list_refresh import owners_to_rank, store_lists_of
from recommender.ranking.recommender import Recommender
from recommender.ranking.two_core_ranking import rank_on_two_cores, second_core_available
from tests.conftest import SEEDS_DIR

OpenIndex = Callable[..., ArticleIndex]
SEEDS = load_articles([SEEDS_DIR / "articles.jsonl"]).articles

needs_two_cores = pytest.mark.skipif(
    not second_core_available(), reason="no second core, or no fork on this platform"
)


def _squares_with_pid(rows: list[int]) -> tuple[int, list[int]]:
    return os.getpid(), [row * row for row in rows]


@needs_two_cores
def test_the_second_half_is_ranked_in_another_process() -> None:
    rows = list(range(300))
    (first_pid, first), (second_pid, second) = rank_on_two_cores(_squares_with_pid, rows)
    assert first_pid == os.getpid() != second_pid
    assert first + second == [row * row for row in rows]


def test_few_rows_are_ranked_here_in_one_piece() -> None:
    rows = list(range(two_core_ranking.MIN_FORKED_ROWS - 1))
    [(pid, squares)] = rank_on_two_cores(_squares_with_pid, rows)
    assert pid == os.getpid()
    assert squares == [row * row for row in rows]


@needs_two_cores
def test_a_child_that_fails_leaves_its_rows_to_the_parent() -> None:
    parent = os.getpid()

    def fails_in_child(rows: list[int]) -> tuple[int, list[int]]:
        if os.getpid() != parent:
            raise RuntimeError("the child's ranking failed")
        return _squares_with_pid(rows)

    results = rank_on_two_cores(fails_in_child, list(range(200)))
    assert [pid for pid, _ in results] == [parent, parent]
    assert results[0][1] + results[1][1] == [row * row for row in range(200)]


@needs_two_cores
def test_a_stuck_child_is_killed_and_its_rows_ranked_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parent = os.getpid()
    monkeypatch.setattr(two_core_ranking, "_MIN_WAIT_SECONDS", 0.5)

    def stuck_in_child(rows: list[int]) -> tuple[int, list[int]]:
        if os.getpid() != parent:
            time.sleep(600)
        return _squares_with_pid(rows)

    forks = _recorded_forks(monkeypatch)
    results = rank_on_two_cores(stuck_in_child, list(range(200)))
    assert [pid for pid, _ in results] == [parent, parent]
    [child] = forks
    with pytest.raises(ChildProcessError):  # killed and reaped: no zombie left behind
        os.waitpid(child, os.WNOHANG)


def _stored_rows(directory: Path) -> list[tuple[object, ...]]:
    """The stored lists and their member index, byte for byte, and the lists' version."""
    with sqlite3.connect(directory / "newsrec-store.sqlite") as db:
        return [
            *db.execute("SELECT owner, related, slots FROM related_lists ORDER BY owner"),
            *db.execute("SELECT member, owner FROM related_members ORDER BY member, owner"),
            *db.execute("SELECT value FROM meta WHERE key = 'related_lists_version'"),
        ]


@needs_two_cores
@pytest.mark.slow
def test_lists_ranked_on_two_cores_are_stored_as_on_one(
    open_test_index: OpenIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = {}
    for name, min_rows, cores in (("one", 10**9, False), ("two", 2, True)):
        monkeypatch.setattr(two_core_ranking, "MIN_FORKED_ROWS", min_rows)
        index = open_test_index(tmp_path / name)
        index.upsert(SEEDS)
        recommender = Recommender(index)
        forks = _recorded_forks(monkeypatch)
        assert store_lists_of(recommender, owners_to_rank(recommender)) == len(SEEDS)
        assert bool(forks) is cores
        stored[name] = _stored_rows(tmp_path / name)
    assert stored["two"] == stored["one"]
    assert len(stored["one"]) > 2 * len(SEEDS)


def _recorded_forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids of the children forked from now on (in this process)."""
    children: list[int] = []
    fork = os.fork

    def recorded() -> int:
        pid = fork()
        if pid != 0:
            children.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", recorded)
    return children
