"""Options shared by the `newsrec` commands, declared once so they read the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

IndexDir = Annotated[
    Path | None,
    typer.Option(
        "--index-dir",
        help="Index directory [default: $NEWSREC_HOME, else ./newsrec-data].",
        show_default=False,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="One JSON object per line on stdout.")]
