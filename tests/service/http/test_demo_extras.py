"""`make demo` installs only the `model` and `service` extras: the CLI and the service must
start without the others (Qdrant, Ray, pyarrow, ONNX, the test and eval tools)."""

from __future__ import annotations

import pytest

from tests.conftest import modules_imported_after

pytestmark = pytest.mark.slow

NOT_IN_THE_DEMO = [
    "qdrant_client",
    "ray",
    "pyarrow",
    "onnx",
    "onnxruntime",
    "playwright",
    "schemathesis",
    "hypothesis",
    "ranx",
    "bm25s",
    "matplotlib",
]


def test_the_cli_and_the_service_load_none_of_the_other_extras() -> None:
    statement = "import service.cli.main, service.http.app, service.http.serve, service.cli.serve"
    assert modules_imported_after(statement, NOT_IN_THE_DEMO) == []
