"""The load test's clients: `wrk` (when installed) or a closed-loop asyncio client (httpx),
each giving one phase's rate and latency percentiles (`Figures`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True)
class Figures:
    label: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        return (
            f"{self.label:<28} {self.per_second:>9,.0f} req/s   p50 {self.p50_ms:7.2f} ms   "
            f"p99 {self.p99_ms:7.2f} ms   ({self.requests:,} requests, {self.errors} errors)"
        )


def _wrk(url_paths: list[str], base: str, duration: float, connections: int) -> Figures:
    """wrk with a Lua script cycling through the paths; latency percentiles from wrk."""
    with tempfile.TemporaryDirectory(prefix="newsrec-load-") as work:
        paths_file = Path(work) / "paths.txt"
        paths_file.write_text("\n".join(url_paths) + "\n", encoding="utf-8")
        script = Path(work) / "cycle.lua"
        script.write_text(
            f"local paths = {{}}\nfor line in io.lines({json.dumps(str(paths_file))}) do\n"
            "  paths[#paths + 1] = line\nend\nlocal n = 0\n"
            "request = function()\n  n = n + 1\n"
            "  return wrk.format('GET', paths[((n - 1) % #paths) + 1])\nend\n"
            "done = function(summary, latency, requests)\n"
            "  io.write(string.format('RESULT %d %d %d %f %f\\n', summary.requests,\n"
            "    summary.errors.status + summary.errors.connect + summary.errors.read\n"
            "    + summary.errors.write + summary.errors.timeout, summary.duration,\n"
            "    latency:percentile(50), latency:percentile(99)))\nend\n",
            encoding="utf-8",
        )
        command = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{duration:.0f}s"]
        command += ["--timeout", "10s", "-s", str(script), base]
        completed = subprocess.run(
            command, check=True, capture_output=True, text=True, timeout=duration + 60
        )
    result = next(line for line in completed.stdout.splitlines() if line.startswith("RESULT"))
    _, requests, errors, micros, p50, p99 = result.split()
    return Figures(
        "", int(requests), int(errors), int(micros) / 1e6, float(p50) / 1e3, float(p99) / 1e3
    )


async def _python_client(
    url_paths: list[str], base: str, duration: float, connections: int, max_requests: int
) -> Figures:
    """Closed-loop client: `connections` tasks, each sending its next request on reply."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration
    counter = iter(range(max_requests))
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        for n in counter:
            if time.perf_counter() > deadline:
                return
            sent = time.perf_counter()
            try:
                reply = await client.get(url_paths[n % len(url_paths)])
                failed = reply.status_code >= 400
            except httpx.TransportError:
                failed = True
            latencies.append(time.perf_counter() - sent)
            errors += failed

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10) as client:
        await asyncio.gather(*(worker(client) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return Figures("", len(latencies), errors, elapsed, cuts[49] * 1e3, cuts[98] * 1e3)


def measure_phase(label: str, paths: list[str], base: str, options: argparse.Namespace) -> Figures:
    if options.client == "wrk":
        figures = _wrk(paths, base, options.duration, options.connections)
    else:
        figures = asyncio.run(
            _python_client(paths, base, options.duration, options.connections, options.max_requests)
        )
    figures = Figures(label, *list(figures.__dict__.values())[1:])
    print(figures.line(), flush=True)
    return figures
