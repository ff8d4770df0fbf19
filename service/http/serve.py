"""Running the service: one process by default, or N reader workers and one writer.

- `workers == 1`: one process reads and writes; a write is visible to the next request.
- `workers > 1`: a writer process (the only one that opens the index for writing) listens
  on a Unix socket in a private temporary directory; N uvicorn workers share the TCP port,
  each with a read-only copy of the index that it reloads when the writer publishes a new
  version. A worker forwards each write to the writer, so clients see one address.

Request logs go to stdout, one line per request; uvicorn's own access log is off.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import uvicorn

from recommender import Settings
from service.http.app import create_app
from service.http.protocol import uvicorn_options
from service.settings import ServiceSettings, set_for_worker_processes

_WRITER_START_SECONDS = 120.0


def serve(
    settings: Settings,
    service: ServiceSettings,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
) -> None:
    """Serve until interrupted."""
    # Reader and writer processes build their settings from the environment (the same
    # variables these were read from), with the index directory the caller chose.
    set_for_worker_processes(index_dir=settings.index_dir)
    # One URL, the one to open: uvicorn's own start-up lines (with another spelling of the
    # address) are left out by running it at log level "warning".
    print(
        f"newsrec: serving {settings.index_dir} at {browsable_url(host, port)} "
        f"(demo page; API docs at /docs), {workers} worker(s)",
        flush=True,
    )
    if workers == 1:
        uvicorn.run(
            create_app(settings, service),
            host=host,
            port=port,
            access_log=False,
            log_level="warning",
            **uvicorn_options(service),
        )
        return
    # The writer and the reader workers exit when this process is gone, even killed with
    # SIGKILL: orphans would keep the port and the index's write lock (see LiveIndex).
    set_for_worker_processes(parent_pid=os.getpid())
    if service.read_only:
        _run_readers(service, host, port, workers, writer_socket=None)
        return
    private = Path(tempfile.mkdtemp(prefix="newsrec-writer-"))
    socket = private / "writer.sock"
    writer = _start_writer(socket)
    try:
        _run_readers(service, host, port, workers, writer_socket=socket)
    finally:
        writer.terminate()
        try:
            writer.wait(timeout=30)
        except subprocess.TimeoutExpired:
            writer.kill()
        shutil.rmtree(private, ignore_errors=True)


def browsable_url(host: str, port: int) -> str:
    """The address a browser on this machine opens: a wildcard host listens on every
    interface, loopback included; an IPv6 address goes in brackets."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(host, host)
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def _start_writer(socket: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "service.http.app:app_from_environment",
        "--uds",
        str(socket),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    # The writer logs its own requests too: they are the forwarded writes.
    writer = subprocess.Popen(command, env={**os.environ, "NEWSREC_ROLE": "single"})
    deadline = time.monotonic() + _WRITER_START_SECONDS
    transport = httpx.HTTPTransport(uds=str(socket))
    with httpx.Client(transport=transport, base_url="http://newsrec-writer") as client:
        while time.monotonic() < deadline:
            if writer.poll() is not None:
                raise SystemExit(f"newsrec: the writer process exited ({writer.returncode})")
            try:
                if client.get("/healthz", timeout=2.0).status_code == 200:
                    return writer
            except httpx.TransportError:
                time.sleep(0.1)
    writer.terminate()
    raise SystemExit("newsrec: the writer process did not start")


def _run_readers(
    service: ServiceSettings, host: str, port: int, workers: int, writer_socket: Path | None
) -> None:
    set_for_worker_processes(role="reader", writer_socket=writer_socket)
    uvicorn.run(
        "service.http.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level="warning",
        **uvicorn_options(service),
    )
