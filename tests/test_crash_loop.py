"""The short crash loop: newsrec killed with SIGKILL while it writes, three times.

The full loop (20+ kills) is `python -m eval.crash_loop --runs 20`; this runs a short one
in the suite: `newsrec index` killed mid-run, `newsrec serve` killed while a client writes,
then `newsrec index` again on the index the first kill left.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.crash_loop import crash_loop

pytestmark = pytest.mark.crash


def test_three_kills_lose_no_acknowledged_write_and_leave_a_consistent_index(
    tmp_path: Path,
) -> None:
    report = crash_loop(tmp_path, runs=3, articles=300, seed=7, http_window=1.5, log=False)
    assert len(report.runs) == 3
    assert [run.mode for run in report.runs] == ["index", "http", "index"]
    assert report.problems == []
    assert report.recovered == 3
    assert report.lost == 0
    assert any(run.acknowledged for run in report.runs)
