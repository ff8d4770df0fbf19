"""Layers run one way: the core imports without the service, the CLI or the model."""

from __future__ import annotations

from tests.conftest import modules_imported_after

FORBIDDEN = ["fastapi", "typer", "torch", "sentence_transformers", "service"]


def test_core_imports_without_service_cli_or_model() -> None:
    assert modules_imported_after("import recommender, embeddings", FORBIDDEN) == []
