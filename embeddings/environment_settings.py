"""The process environment as the model libraries see it: the one place `embeddings` reads
or sets environment variables (the project's own settings are `recommender.Settings`).

These are not newsrec's settings but the libraries' and the platform's: Hugging Face's
offline switches, the tokenizers' fork warning, OpenMP's thread count (Ray sets it for an
actor), the XDG cache directory.
"""

from __future__ import annotations

import os
from pathlib import Path


def keep_model_libraries_offline() -> None:
    """Never reach for a hub (the weights are on disk, and a newsroom server may have no
    internet), and no tokenizers warning after a fork. A value the user set is kept."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def omp_threads() -> int | None:
    """OMP_NUM_THREADS when it is a positive whole number, else None."""
    configured = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(configured) if configured.isdigit() and int(configured) >= 1 else None


def user_cache_root() -> Path:
    """`$XDG_CACHE_HOME`, else `~/.cache`."""
    return Path(os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache"))
