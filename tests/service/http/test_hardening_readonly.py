"""A read-only index directory (issue 18): served read-only (NEWSREC_READ_ONLY=true) from
it, refused for writing with one line that says "read-only directory", never a loader that
dies and leaves /readyz at "still loading".

A read-only bind mount where this process may mount (root in a container: permissions do
not stop root), else a directory without write permission."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.cli.main import main
from service.http.app import create_app
from service.settings import ServiceSettings
from tests.service_support import app_client, build_index, hashing_settings


def _run(*command: str) -> bool:
    return subprocess.run(command, capture_output=True).returncode == 0


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    source = tmp_path / "index"
    build_index(source)
    assert not list(source.glob("*-wal")), "the index was not closed cleanly"
    if os.geteuid() != 0:
        source.chmod(stat.S_IRUSR | stat.S_IXUSR)
        yield source
        source.chmod(stat.S_IRWXU)
        return
    target = tmp_path / "mounted"
    target.mkdir()
    if shutil.which("mount") is None or not _run("mount", "--bind", str(source), str(target)):
        pytest.skip("root without permission to mount: cannot make a read-only directory")
    try:
        if not _run("mount", "-o", "remount,ro,bind", str(target)):
            pytest.skip("cannot remount read-only")
        yield target
    finally:
        _run("umount", "-l", str(target))


def test_it_is_served_read_only(read_only_dir: Path) -> None:
    with pytest.raises(OSError):
        (read_only_dir / "probe").write_text("x")  # the directory really is read-only
    with app_client(hashing_settings(read_only_dir), ServiceSettings(read_only=True)) as client:
        assert client.get("/readyz").json()["articles"] > 0
        assert client.get("/articles/libya-1").status_code == 200
        assert client.get("/articles/libya-1/related").json()["related"]
        assert client.put("/articles/n", json={"title": "t"}).status_code == 403


def test_a_writable_service_says_read_only_directory_on_readyz(read_only_dir: Path) -> None:
    app = create_app(hashing_settings(read_only_dir), ServiceSettings())
    with TestClient(app, raise_server_exceptions=False) as client:
        deadline = time.monotonic() + 30
        answer = client.get("/readyz")
        while not answer.json().get("error") and time.monotonic() < deadline:
            time.sleep(0.05)
            answer = client.get("/readyz")
    assert answer.status_code == 503
    assert "read-only directory" in answer.json()["detail"]


def test_write_commands_say_read_only_directory_in_one_line(
    read_only_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NEWSREC_EMBEDDER", "hashing")
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"id": "n1", "title": "New"}) + "\n", encoding="utf-8")
    code = main(["index", str(rows), "--index-dir", str(read_only_dir)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "read-only directory" in err
    # Reading commands still work there.
    assert main(["related", "libya-1", "--index-dir", str(read_only_dir)]) == 0
