"""Where the development data lives: beside the project, in ../shared, never copied into it."""

from __future__ import annotations

from pathlib import Path

WCEP = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "wcep"
    / "wcep_current_events.jsonl.gz"
)
