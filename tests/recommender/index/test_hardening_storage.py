"""The disk and the index directory misbehaving (issue 18, defects 3 and 4 and the
snapshot weaknesses): a full disk answers what docs/service.md says (503 "committed but not
published" when the store committed, 507 when it did not) and writes resume once space is
back, without a restart; a load failure of any kind reaches /readyz and the log; a damaged
snapshot is rebuilt from the store.

Errors are raised at the call that fails on a real full disk (FAISS's write, SQLite's page
limit); where this process may mount a small tmpfs (root in a container), the same is
checked on a real full filesystem.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from recommender import open_index
from recommender.index.files import MANIFEST_FILE, STORE_FILE
from service.cli.main import main
from service.settings import ServiceSettings
from tests.service_support import app_client, build_index, hashing_settings

NEW = {"title": "Dam holds after the storm", "body": "flood river rain dam villages"}


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    build_index(tmp_path / "index")
    return tmp_path / "index"


def _live(client: TestClient) -> Any:
    return client.app.state.live  # type: ignore[attr-defined]


def _snapshot_file(index_dir: Path) -> Path:
    (snapshot,) = index_dir.glob("newsrec-vectors-*.faiss")
    return snapshot


# -- a full disk -----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_failed_snapshot_save_is_a_503_committed_and_the_next_write_publishes(
    index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import faiss

    real_write = faiss.write_index

    def full_disk(index: Any, path: str) -> None:
        Path(path).write_bytes(b"\0" * 4096)  # part-written, as when the disk fills up
        raise RuntimeError(
            "Error in void faiss::FileIOWriter::operator()(...) at faiss/impl/io.cpp:98: "
            "Error: 'ret == (nitems)' failed: write error: No space left on device"
        )

    with app_client(hashing_settings(index_dir), ServiceSettings()) as client:
        monkeypatch.setattr(faiss, "write_index", full_disk)
        reply = client.put("/articles/full-1", json=NEW)
        assert reply.status_code == 503
        assert "committed" in reply.json()["detail"] and "No space left" in reply.json()["detail"]
        assert client.get("/articles/full-1").status_code == 200  # it was committed
        assert not list(index_dir.glob(".newsrec-vectors-*.tmp"))  # the part-written file
        monkeypatch.setattr(faiss, "write_index", real_write)  # space is back
        assert client.put("/articles/full-2", json=NEW).status_code == 201
        generation = client.get("/readyz").json()["generation"]
    assert _snapshot_file(index_dir).name == f"newsrec-vectors-{generation}.faiss"
    with app_client(hashing_settings(index_dir), ServiceSettings()) as client:
        assert client.get("/articles/full-1").status_code == 200
        assert client.get("/articles/full-2").status_code == 200


def test_a_full_store_is_a_507_not_committed_and_writes_resume_when_space_is_back(
    index_dir: Path,
) -> None:
    with app_client(hashing_settings(index_dir), ServiceSettings()) as client:
        store = _live(client)._current.index.store._db
        pages = store.execute("PRAGMA page_count").fetchone()[0]
        store.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own "disk is full"
        before = client.get("/readyz").json()["generation"]
        big = {"title": "Long report", "body": "words " * 20_000}
        reply = client.put("/articles/big", json=big)
        assert reply.status_code == 507, reply.text
        assert "not committed" in reply.json()["detail"]
        assert client.get("/articles/big").status_code == 404
        assert client.delete("/articles/libya-1").status_code in (204, 507)
        store.execute("PRAGMA max_page_count = 1073741823")  # space is back
        assert client.put("/articles/big", json=big).status_code == 201
        assert client.get("/readyz").json()["generation"] > before
        assert client.get("/articles/big").status_code == 200


def _mount_tmpfs(target: Path, size: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    target.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)],
        capture_output=True,
    )
    return done.returncode == 0


def _unmount(target: Path) -> None:
    subprocess.run(["umount", "-l", str(target)], capture_output=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "3m"):
        pytest.skip("mounting a small tmpfs needs root (CAP_SYS_ADMIN)")
    try:
        yield disk
    finally:
        _unmount(disk)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as stream:
        try:
            while True:
                stream.write(b"\0" * 65536)
                stream.flush()
        except OSError:
            pass
    return filler


@pytest.mark.slow
def test_a_real_full_disk_answers_the_documented_codes_and_recovers(small_disk: Path) -> None:
    index_dir = small_disk / "index"
    build_index(index_dir)
    with app_client(hashing_settings(index_dir), ServiceSettings()) as client:
        filler = _fill(small_disk)
        answers = [
            client.put(f"/articles/disk-{n}", json={**NEW, "body": "flood " * 2000 + str(n)})
            for n in range(5)
        ]
        codes = {reply.status_code for reply in answers}
        assert codes <= {201, 503, 507} and codes & {503, 507}, [r.text for r in answers]
        for reply in answers:
            if reply.status_code == 503:
                assert "committed" in reply.json()["detail"]
            if reply.status_code == 507:
                assert "not committed" in reply.json()["detail"]
        filler.unlink()
        assert client.put("/articles/after", json=NEW).status_code == 201
        acknowledged = [
            f"disk-{n}" for n, reply in enumerate(answers) if reply.status_code in (201, 503)
        ]
    with app_client(hashing_settings(index_dir), ServiceSettings()) as client:
        for article_id in [*acknowledged, "after"]:
            assert client.get(f"/articles/{article_id}").status_code == 200


def test_newsrec_index_on_a_full_disk_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from recommender.index.store import ArticleStore

    def full(*args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setenv("NEWSREC_EMBEDDER", "hashing")
    monkeypatch.setattr(ArticleStore, "write", full)
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"id": "a", "title": "Flood"}\n', encoding="utf-8")
    code = main(["index", str(rows), "--index-dir", str(tmp_path / "index")])
    errors = [line for line in capsys.readouterr().err.splitlines() if "encoding" not in line]
    assert code == 2 and len(errors) == 1, errors  # the progress bar aside
    assert "the disk is full" in errors[0] and "cannot be read" not in errors[0]


# -- load failures ---------------------------------------------------------------------------


def _corrupt_store(index_dir: Path) -> None:
    store = index_dir / STORE_FILE
    size = store.stat().st_size
    with store.open("r+b") as stream:
        stream.seek(size // 2 // 4096 * 4096)
        stream.write(os.urandom(4096))


def test_a_corrupt_store_reaches_readyz_and_the_log_not_still_loading(
    index_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _corrupt_store(index_dir)
    with TestClient(
        __import__("service.http.app", fromlist=["create_app"]).create_app(
            hashing_settings(index_dir), ServiceSettings()
        ),
        raise_server_exceptions=False,
    ) as client:
        answer = _wait_for_error(client)
    assert answer.status_code == 503
    detail = answer.json()["detail"]
    assert "store" in detail and "still loading" not in detail
    assert answer.json()["error"] == detail


def _wait_for_error(client: TestClient) -> Any:
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answer = client.get("/readyz")
        if answer.status_code == 200 or answer.json().get("error"):
            return answer
        time.sleep(0.05)
    return client.get("/readyz")


def test_the_cli_says_a_corrupt_store_in_one_line_exit_2(
    index_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSREC_EMBEDDER", "hashing")
    _corrupt_store(index_dir)
    code = main(["related", "libya-1", "--index-dir", str(index_dir)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "store" in err and "unexpected" not in err


# -- the snapshot's checksum -----------------------------------------------------------------


def _stored_vectors(index_dir: Path) -> dict[int, np.ndarray]:
    with open_index(hashing_settings(index_dir)) as index:
        rows: dict[int, np.ndarray] = {}
        for row_ids, vectors in index.store.vector_rows(index.embedder.dimension):
            rows.update(zip(row_ids.tolist(), vectors, strict=True))
        return rows


def _served_vectors(index_dir: Path) -> dict[int, np.ndarray]:
    with open_index(hashing_settings(index_dir)) as index:
        row_ids = index.catalog.row_ids
        return dict(zip(row_ids.tolist(), index.vectors.vectors_of(row_ids), strict=True))


def test_the_manifest_keeps_the_snapshot_checksum(index_dir: Path) -> None:
    import hashlib
    import json

    manifest = json.loads((index_dir / MANIFEST_FILE).read_text())
    digest = hashlib.sha256(_snapshot_file(index_dir).read_bytes()).hexdigest()
    assert manifest["vectors_sha256"] == digest


def test_flipped_bytes_in_the_snapshot_are_rebuilt_from_the_store(
    index_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    snapshot = _snapshot_file(index_dir)
    data = bytearray(snapshot.read_bytes())
    for offset in range(len(data) // 2, len(data) // 2 + 64):
        data[offset] ^= 0x5A  # in the vectors, well inside the file: FAISS reads it happily
    snapshot.write_bytes(bytes(data))
    caplog.set_level(logging.WARNING, logger="newsrec.index")
    served, stored = _served_vectors(index_dir), _stored_vectors(index_dir)
    assert served.keys() == stored.keys()
    for row_id, vector in stored.items():
        np.testing.assert_allclose(served[row_id], vector, rtol=1e-6)
    assert "checksum mismatch" in caplog.text and "rebuilt from the store" in caplog.text


def test_a_truncated_snapshot_is_rebuilt_not_refused(
    index_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    snapshot = _snapshot_file(index_dir)
    snapshot.write_bytes(snapshot.read_bytes()[: snapshot.stat().st_size // 2])
    caplog.set_level(logging.WARNING, logger="newsrec.index")
    assert len(_served_vectors(index_dir)) == len(_stored_vectors(index_dir))
    assert "rebuilt from the store" in caplog.text
    with app_client(hashing_settings(index_dir), ServiceSettings()) as client:
        assert client.get("/articles/libya-1/related").status_code == 200
