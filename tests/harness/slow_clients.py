"""Half-sent requests against a real `newsrec serve` (a slow-client attack).

    python -m tests.harness.slow_clients [--connections 400] [--hold 15] [--head-timeout 10]

Builds a small index (hashing embedder), starts `newsrec serve` on a free port, opens
`--connections` connections that each send half a request head and then nothing, and
meanwhile times ordinary requests from another client. After `--hold` seconds it counts
the held connections the server has closed. With the request-head deadline
(NEWSREC_REQUEST_HEAD_TIMEOUT) every one is closed after it; without one, none is.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from recommender import Settings, open_index
from tests.harness.fuzz_service import fuzz_corpus


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _closed_by_server(connection: socket.socket) -> bool:
    readable, _, _ = select.select([connection], [], [], 0)
    if not readable:
        return False
    try:
        return connection.recv(1) == b""
    except OSError:
        return True


def run(connections: int, hold: float, head_timeout: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="newsrec-slow-") as directory:
        index_dir = Path(directory) / "index"
        settings = Settings(index_dir=index_dir, embedder="hashing")
        with open_index(settings, writable=True) as index:
            index.upsert(fuzz_corpus())
            index.save()
        port = _free_port()
        environment = {
            **os.environ,
            "NEWSREC_EMBEDDER": "hashing",
            "NEWSREC_ACCESS_LOG": "false",
            "NEWSREC_REQUEST_HEAD_TIMEOUT": str(head_timeout),
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "service.cli.main",
                "serve",
                "--index-dir",
                str(index_dir),
                "--port",
                str(port),
            ],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=base, timeout=10) as client:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    try:
                        if client.get("/readyz").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    time.sleep(0.1)
                held = []
                for _ in range(connections):
                    connection = socket.create_connection(("127.0.0.1", port), timeout=10)
                    connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                    held.append(connection)
                latencies = []
                started = time.monotonic()
                while time.monotonic() - started < hold:
                    asked = time.perf_counter()
                    status = client.get("/articles/flood-1/related").status_code
                    latencies.append(time.perf_counter() - asked)
                    if status != 200:
                        raise RuntimeError(f"an ordinary request got {status}")
                    time.sleep(0.2)
                closed = sum(_closed_by_server(connection) for connection in held)
                for connection in held:
                    connection.close()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    latencies.sort()
    return {
        "held": connections,
        "closed_by_server": closed,
        "ordinary_requests": len(latencies),
        "ordinary_p50_ms": latencies[len(latencies) // 2] * 1000,
        "ordinary_max_ms": latencies[-1] * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=400)
    parser.add_argument("--hold", type=float, default=15.0, help="seconds")
    parser.add_argument("--head-timeout", type=float, default=10.0, help="seconds")
    args = parser.parse_args(argv)
    result = run(args.connections, args.hold, args.head_timeout)
    print(
        f"{result['closed_by_server']} of {result['held']} half-sent requests closed by the "
        f"server after {args.hold:g} s (head timeout {args.head_timeout:g} s); "
        f"{result['ordinary_requests']} ordinary requests meanwhile, all 200, "
        f"p50 {result['ordinary_p50_ms']:.1f} ms, max {result['ordinary_max_ms']:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
