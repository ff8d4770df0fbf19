"""The service builds nothing at import time, and `newsrec serve` costs other commands nothing."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from service.cli import serve as cli_serve
from tests.conftest import modules_imported_after


@pytest.mark.slow
def test_importing_the_api_loads_no_model_and_builds_no_app() -> None:
    assert (
        modules_imported_after("import service.http.app", ["torch", "sentence_transformers"]) == []
    )
    import service.http.app

    assert not hasattr(service.http.app, "app")


def test_the_serve_command_module_does_not_import_the_web_stack() -> None:
    web_stack = ["fastapi", "uvicorn", "starlette"]
    assert modules_imported_after("import service.cli.serve", web_stack) == []


def test_register_adds_serve() -> None:
    app = typer.Typer()
    app.command("noop")(lambda: None)  # two commands, so typer keeps subcommand names
    cli_serve.register(app)
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--index-dir", "--host", "--port", "--workers"):
        assert option in result.output
    assert CliRunner().invoke(app, ["serve", "--workers", "0"]).exit_code == 2
