"""The service's protections (issue 18, weaknesses): request deadlines and a connection cap,
uvicorn's own 400s in the JSON error shape, a response cache bounded by bytes, secrets kept
out of the access log, settings refused in one line, and /readyz without directories."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from service.cli.main import main
from service.http import serve
from service.http.app import create_app
from service.http.protocol import uvicorn_options
from service.http.response_cache import ResponseCache
from service.settings import ServiceSettings
from tests.service_support import app_client, build_index, free_port, hashing_settings


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    build_index(tmp_path / "index")
    return tmp_path / "index"


@pytest.fixture
def head_timeout(monkeypatch: pytest.MonkeyPatch) -> Iterator[float]:
    """A short request-head deadline, read by the protocol from the settings."""
    monkeypatch.setenv("NEWSREC_REQUEST_HEAD_TIMEOUT", "0.5")
    yield 0.5
    monkeypatch.delenv("NEWSREC_REQUEST_HEAD_TIMEOUT")


class _Server:
    """The app under uvicorn with the options `newsrec serve` gives it."""

    def __init__(self, index_dir: Path, service: ServiceSettings) -> None:
        app = create_app(hashing_settings(index_dir), service)
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="error", **uvicorn_options(service)
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def connect(self) -> socket.socket:
        connection = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return connection

    def exchange(self, raw: bytes, timeout: float = 10.0) -> bytes:
        with self.connect() as connection:
            connection.settimeout(timeout)
            connection.sendall(raw)
            return _read_all(connection)


def _read_all(connection: socket.socket) -> bytes:
    answer = b""
    try:
        while chunk := connection.recv(65536):
            answer += chunk
    except TimeoutError:
        answer += b"<no answer>"
    return answer


def _json_body(answer: bytes) -> dict[str, object]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower(), head
    return json.loads(body)  # type: ignore[no-any-return]


# -- deadlines and the connection cap --------------------------------------------------------


@pytest.mark.slow
def test_a_half_sent_request_head_is_cut_off(index_dir: Path, head_timeout: float) -> None:
    with _Server(index_dir, ServiceSettings(access_log=False)) as server:
        held = server.connect()
        held.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # no blank line: never ends
        held.settimeout(head_timeout * 10)
        started = time.monotonic()
        assert _read_all(held) == b""  # closed by the server, not by our own timeout
        assert time.monotonic() - started < head_timeout * 10
        held.close()
        # A whole request, even sent in two parts, is answered.
        with server.connect() as connection:
            connection.sendall(b"GET /healthz HTTP/1.1\r\n")
            time.sleep(head_timeout / 5)
            connection.sendall(b"Host: x\r\nConnection: close\r\n\r\n")
            assert _read_all(connection).startswith(b"HTTP/1.1 200")


@pytest.mark.slow
def test_a_stalled_body_is_a_408(index_dir: Path) -> None:
    service = ServiceSettings(access_log=False, request_body_timeout=0.5)
    with _Server(index_dir, service) as server:
        answer = server.exchange(
            b"POST /related HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\nConnection: close\r\n\r\n" + b'{"title": "fl'
        )
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert "did not arrive" in str(_json_body(answer)["detail"])


def test_clients_are_served_while_hundreds_of_half_open_connections_are_held(
    index_dir: Path,
) -> None:
    assert ServiceSettings().max_connections >= 1000
    assert uvicorn_options(ServiceSettings())["limit_concurrency"] >= 1000
    with _Server(index_dir, ServiceSettings(access_log=False)) as server:
        # Ready first: what is tested is being served beside held connections, not loading
        # (a 503 while the index still loads is the right answer, and came under load).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not server.exchange(
            b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        ).startswith(b"HTTP/1.1 200"):
            time.sleep(0.05)
        held = [server.connect() for _ in range(400)]
        for connection in held:
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        try:
            answer = server.exchange(
                b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        finally:
            for connection in held:
                connection.close()


def test_over_the_connection_cap_a_request_gets_503_at_once(index_dir: Path) -> None:
    with _Server(index_dir, ServiceSettings(access_log=False, max_connections=20)) as server:
        held = [server.connect() for _ in range(20)]
        try:
            time.sleep(0.2)  # let the server accept them all
            answer = server.exchange(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
            assert answer.startswith(b"HTTP/1.1 503"), answer[:200]
        finally:
            for connection in held:
                connection.close()


# -- uvicorn's own 400s ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_line",
    [
        b"GET /articles/" + b"a" * 100_000 + b" HTTP/1.1",
        "GET /articles/caf\u00e9 HTTP/1.1".encode(),
    ],
    ids=["100k-character id", "raw non-ASCII path"],
)
def test_requests_uvicorn_cannot_parse_get_the_json_error_shape(
    index_dir: Path, request_line: bytes
) -> None:
    with _Server(index_dir, ServiceSettings(access_log=False)) as server:
        answer = server.exchange(request_line + b"\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert "malformed HTTP request" in str(_json_body(answer)["detail"])


# -- the response cache ----------------------------------------------------------------------


def test_the_response_cache_is_bounded_by_bytes() -> None:
    cache = ResponseCache(size=10_000, max_bytes=20_000)
    for number in range(200):
        cache.put(("related", str(number)), b"x" * 1000)
    assert cache.cached_bytes <= 20_000
    assert cache.get(("related", "199")) is not None  # the most recent stay
    assert cache.get(("related", "0")) is None
    cache.put(("huge",), b"x" * 50_000)  # larger than the whole cache: not kept
    assert cache.get(("huge",)) is None and cache.cached_bytes <= 20_000


def test_the_service_cache_stays_within_its_byte_setting(index_dir: Path) -> None:
    service = ServiceSettings(access_log=False, response_cache_bytes=8_000)
    with app_client(hashing_settings(index_dir), service) as client:
        for k in range(1, 40):
            assert client.get(f"/articles/libya-1/related?k={k}").status_code == 200
        assert 0 < client.app.state.live.cache.cached_bytes <= 8_000  # type: ignore[attr-defined]


# -- secrets and settings --------------------------------------------------------------------


def test_secret_named_query_values_are_redacted_in_the_access_log(
    index_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with app_client(hashing_settings(index_dir), ServiceSettings(access_log=True)) as client:
        capsys.readouterr()
        client.get("/articles/libya-1/related?k=3&token=s3cr3t-t0k3n&api_key=s3cr3t-k3y")
        client.put("/articles/x?password=s3cr3t-pw", json={"title": "t"})
    out = capsys.readouterr().out
    assert "k=3&token=***&api_key=***" in out and "password=***" in out
    assert "s3cr3t" not in out


def test_a_blank_api_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for blank in ("", "   ", "\t"):
        with pytest.raises(ValidationError, match="must not be empty"):
            ServiceSettings(api_token=SecretStr(blank))


def _serve_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> tuple[int, str]:
    def started(*args: object, **kwargs: object) -> None:
        raise AssertionError("the server started despite the bad setting")

    monkeypatch.setattr(serve.uvicorn, "run", started)
    monkeypatch.setenv("NEWSREC_EMBEDDER", "hashing")
    code = main(["serve", "--index-dir", str(tmp_path / "index")])
    return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("NEWSREC_API_TOKEN", "  "),
        ("NEWSREC_READ_ONLY", "maybe"),
        ("NEWSREC_MAX_CONNECTIONS", "0"),
        ("NEWSREC_MAX_CHUNKS", "0"),
    ],
)
def test_a_bad_setting_stops_serve_in_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    variable: str,
    value: str,
) -> None:
    monkeypatch.setenv(variable, value)
    code, err = _serve_refused(monkeypatch, capsys, tmp_path)
    assert code == 2
    assert len(err.splitlines()) == 1 and f"invalid setting {variable}" in err, err


# -- /readyz ----------------------------------------------------------------------------------


def test_readyz_keeps_directories_for_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="newsrec.service")
    empty = tmp_path / "nowhere" / "index"
    empty.mkdir(parents=True)
    app = create_app(hashing_settings(empty), ServiceSettings(read_only=True))
    with TestClient(app, raise_server_exceptions=False) as client:
        deadline = time.monotonic() + 30
        answer = client.get("/readyz")
        while not answer.json().get("error") and time.monotonic() < deadline:
            time.sleep(0.05)
            answer = client.get("/readyz")
    body = answer.json()
    assert answer.status_code == 503 and "no newsrec index" in body["detail"]
    assert str(tmp_path) not in answer.text
    assert {"articles", "generation", "error"} <= body.keys()
    assert str(empty) in "\n".join(record.getMessage() for record in caplog.records)
