"""The service builds nothing at import time, and `newsrec serve` costs other commands nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import typer
from typer.testing import CliRunner

from service import cli_serve

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _imported_after(statement: str, names: list[str]) -> list[str]:
    listed = f"[n for n in {names!r} if n in sys.modules]"
    code = f"import json, sys; {statement}; print(json.dumps({listed}))"
    completed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=PROJECT_ROOT,
    )
    return list(json.loads(completed.stdout))


def test_importing_the_api_loads_no_model_and_builds_no_app() -> None:
    assert _imported_after("import service.api", ["torch", "sentence_transformers"]) == []
    import service.api

    assert not hasattr(service.api, "app")


def test_the_serve_command_module_does_not_import_the_web_stack() -> None:
    assert _imported_after("import service.cli_serve", ["fastapi", "uvicorn", "starlette"]) == []


def test_register_adds_serve() -> None:
    app = typer.Typer()
    app.command("noop")(lambda: None)  # two commands, so typer keeps subcommand names
    cli_serve.register(app)
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--index-dir", "--host", "--port", "--workers"):
        assert option in result.output
    assert CliRunner().invoke(app, ["serve", "--workers", "0"]).exit_code == 2
