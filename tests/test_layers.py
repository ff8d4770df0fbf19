"""Layers run one way: the core imports without the service, the CLI or the model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ["fastapi", "typer", "torch", "sentence_transformers", "service"]


def test_core_imports_without_service_cli_or_model() -> None:
    code = (
        "import json, sys; import recommender, embeddings; "
        f"print(json.dumps([name for name in {FORBIDDEN!r} if name in sys.modules]))"
    )

    completed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=PROJECT_ROOT,
    )

    assert json.loads(completed.stdout) == []
