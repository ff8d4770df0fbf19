"""`newsrec serve` prints one URL at start: the one to open."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from service.http.serve import browsable_url
from tests.conftest import PROJECT_ROOT
from tests.service_support import build_index, free_port


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000/"),
        ("0.0.0.0", "http://127.0.0.1:8000/"),
        ("::", "http://[::1]:8000/"),
        ("::1", "http://[::1]:8000/"),
        ("news.example", "http://news.example:8000/"),
    ],
)
def test_the_url_shown_is_one_a_browser_opens(host: str, url: str) -> None:
    assert browsable_url(host, 8000) == url


@pytest.mark.slow  # starts `newsrec serve` processes
@pytest.mark.parametrize("workers", [1, 2])
def test_serve_prints_one_url(tmp_path: Path, workers: int) -> None:
    settings = build_index(tmp_path / "index")
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "service.cli.main",
        "serve",
        "--index-dir",
        str(tmp_path / "index"),
    ]
    command += ["--port", str(port), "--workers", str(workers)]
    environment = {**os.environ, "NEWSREC_EMBEDDER": "hashing", "NEWSREC_ACCESS_LOG": "false"}
    server = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 180  # worker processes start slowly on a busy machine
    ready = False
    try:
        while time.monotonic() < deadline and not ready and server.poll() is None:
            time.sleep(0.2)
            with contextlib.suppress(httpx.TransportError):
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
    finally:
        server.terminate()
        printed, _ = server.communicate(timeout=60)
    assert ready, printed
    urls = re.findall(r"https?://\S+", printed)
    assert urls == [f"http://127.0.0.1:{port}/"], printed
    assert str(settings.index_dir) in printed
