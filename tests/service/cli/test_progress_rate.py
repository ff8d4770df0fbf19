"""Progress bars show a rate once there is one, never `-/s`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from rich.progress import Progress
from typer.testing import CliRunner

from service.cli.main import app
from service.cli.output import _RateColumn
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow


def test_one_large_step_has_a_rate() -> None:
    progress = Progress(_RateColumn(), auto_refresh=False)
    task_id = progress.add_task("work", total=100)
    task = progress.tasks[0]
    assert str(_RateColumn().render(task)) == ""  # nothing done yet: no rate, no "-/s"
    progress.start_task(task_id)
    time.sleep(0.01)
    progress.advance(task_id, 100)  # one batch: rich's own estimate has a single sample
    shown = str(_RateColumn().render(task))
    assert shown.endswith("/s") and shown != "-/s"
    assert float(shown[:-2].replace(",", "")) > 0


def test_newsrec_index_bars_show_no_unknown_rate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSREC_EMBEDDER", "hashing")
    result = CliRunner().invoke(
        app,
        ["index", str(PROJECT_ROOT / "seeds" / "articles.jsonl"), "--index-dir", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    assert "encoding" in result.stderr and "storing related lists" in result.stderr
    assert "-/s" not in result.stderr
    assert "/s" in result.stderr
