"""Load test of the HTTP service: related-by-id against `/healthz`, same client, same run.

Two steps:

    python -m eval.bench.load_test build /tmp/newsrec-100k            # once: WCEP + synthetic
    python -m eval.bench.load_test run /tmp/newsrec-100k --duration 20

`build` indexes WCEP (read from ../shared/data, never copied) and tops it up with synthetic
articles to 100,000 (or `--total`). Encoding 100k texts with MiniLM would take an hour on two
cores, and related-by-id never runs the model, so the vectors are precomputed
(`--vectors minilm`, the default): WCEP's real MiniLM vectors (encoded once, cached in /tmp)
and, for each synthetic story, unit vectors clustered around a random centre, all under the
real model's identity, so the index is a MiniLM index (384 dimensions) that serves
related-for-text with the real model. `--vectors hashing` uses the hashing test embedder
instead (256 dimensions, no model needed at all).

`run` starts `newsrec serve` (one worker, unless --workers) on 127.0.0.1 with a free port,
then loads it with `wrk` when installed (Debian's package), else with a Python asyncio
client (httpx): `/healthz` first (the HTTP floor), then related-by-id. Two id mixes:

- cold: every request asks for a different article, so no response is cached: answered
        from the stored related lists (`build` ranks them; `newsrec precompute`);
- hot:  ids drawn Zipf-like from 1,000 articles, as a news site's traffic is (a few stories
        take most reads); repeated requests are answered from the response cache.

When the index has stored lists, a second server with NEWSREC_RELATED_LIST_DEPTH=0 then
measures the cold phase ranked live, every request, next to its own /healthz.

A third step takes no prepared index, as a new user would:

    python -m eval.bench.load_test index-serve FILE [--embedder minilm|hashing]

runs `newsrec index FILE` into a fresh directory, then `newsrec serve` on it (no other
step), and asks related-by-id for every id of the file once (no answer cached), against
`/healthz` asked as many times by the same client (the Python one: wrk would cycle the ids
into the response cache).

Every phase is bounded in time (`--duration`) and the Python client also in count. Only
127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from eval.bench.load_client import Figures, measure_phase
from eval.bench.load_index import build
from eval.bench.load_server import (
    check_exist,
    free_port,
    process_memory,
    sample_ids,
    start_server,
    stored_list_count,
    wait_ready,
)
from eval.quality.shared_data import WCEP

HOT_SET = 1000


@dataclass(frozen=True)
class LoadResult:
    healthz: Figures
    related_cold: Figures  # from the stored lists when the index has them
    related_hot: Figures
    slots: Figures
    related_live: Figures | None  # every request ranked (a second server, lists off)
    rss_bytes: int  # the server's resident memory after the load (all its processes)
    peak_rss_bytes: int  # their high-water marks, summed


def run(options: argparse.Namespace) -> LoadResult:
    lists = stored_list_count(options.index_dir)
    result = _run_server(options, stored_lists=lists > 0, label_lists=lists > 0)
    if not lists:
        return result
    print("again with NEWSREC_RELATED_LIST_DEPTH=0: every request ranked live", flush=True)
    live = _run_server(options, stored_lists=False, label_lists=False)
    print(
        f"{live.related_cold.label}: {live.related_cold.per_second / live.healthz.per_second:.2f}x"
        " the /healthz rate of its own run"
    )
    return LoadResult(
        result.healthz,
        result.related_cold,
        result.related_hot,
        result.slots,
        live.related_cold,
        result.rss_bytes,
        result.peak_rss_bytes,
    )


def _run_server(
    options: argparse.Namespace, *, stored_lists: bool, label_lists: bool
) -> LoadResult:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(options.index_dir, port, options.workers, stored_lists=stored_lists)
    how = "stored lists" if label_lists else "ranked live"
    try:
        wait_ready(base, timeout=600)
        cold = sample_ids(base, options.wcep, 60_000, options.seed)
        check_exist(base, cold[:50])
        random_state = random.Random(options.seed)
        hot_ids = cold[-HOT_SET:]
        weights = [1.0 / (rank + 1) for rank in range(len(hot_ids))]
        hot = random_state.choices(hot_ids, weights=weights, k=20_000)
        print(
            f"index {options.index_dir}: {httpx.get(f'{base}/readyz').json()}; client "
            f"{options.client}, {options.connections} connections, {options.duration:.0f} s per "
            f"phase, {options.workers} worker(s)",
            flush=True,
        )
        # Warm-up: first touches of each code path (imports, caches of numpy/scipy).
        for article_id in cold[:20]:
            httpx.get(f"{base}/articles/{quote(article_id, safe='')}/related", timeout=30)
        half = len(cold) // 2
        # The hot set is asked once before its phase: a news site's cache is warm.
        with httpx.Client(base_url=base, timeout=60) as client:
            for article_id in hot_ids:
                client.get(f"/articles/{quote(article_id, safe='')}/related?k=10")
        related = [f"/articles/{quote(i, safe='')}/related?k=10" for i in cold[:half]]
        floor = measure_phase("GET /healthz", ["/healthz"], base, options)
        cold_figures = measure_phase(f"related, cold, {how}", related, base, options)
        hot_figures = measure_phase(
            "related, hot (Zipf, cached)",
            [f"/articles/{quote(i, safe='')}/related?k=10" for i in hot],
            base,
            options,
        )
        slots = measure_phase(
            f"slots, cold, {how}",
            [f"/articles/{quote(i, safe='')}/slots" for i in cold[half:]],
            base,
            options,
        )
        for figures in (cold_figures, hot_figures, slots):
            print(
                f"{figures.label}: {figures.per_second / floor.per_second:.2f}x the /healthz rate"
            )
        rss, peak = process_memory(server.pid)
        print(f"server memory: {rss / 2**20:,.0f} MiB resident, peak {peak / 2**20:,.0f} MiB")
        return LoadResult(floor, cold_figures, hot_figures, slots, None, rss, peak)
    finally:
        server.terminate()
        server.wait(timeout=30)


@dataclass(frozen=True)
class IndexThenServe:
    articles: int
    index_seconds: float  # `newsrec index FILE`, model load and stored lists included
    healthz: Figures
    related: Figures  # every id of the file once, in a shuffled order
    # The same, from a second server on the same index with NEWSREC_RELATED_LIST_DEPTH=0:
    # every request ranked live, as `newsrec serve` answered before the lists were stored.
    live: tuple[Figures, Figures] | None = None

    @property
    def ratio(self) -> float:
        return self.related.per_second / self.healthz.per_second

    @property
    def live_ratio(self) -> float | None:
        if self.live is None:
            return None
        healthz, related = self.live
        return related.per_second / healthz.per_second


def index_then_serve(source: Path, options: argparse.Namespace) -> IndexThenServe:
    """`newsrec index FILE` then `newsrec serve`, nothing in between; related-by-id for every
    id of FILE once against as many `/healthz` requests from the same client. With
    `options.live`, then the same on the same index ranked live (lists off)."""
    from recommender.ingest.loaders import read_article_rows

    ids = [row.id for _, row in read_article_rows(source) if not isinstance(row, Exception)]
    random.Random(options.seed).shuffle(ids)
    environment = {**os.environ, "NEWSREC_EMBEDDER": options.embedder}
    with tempfile.TemporaryDirectory(prefix="newsrec-index-serve-") as scratch:
        index_dir = Path(scratch) / "index"
        command = [sys.executable, "-m", "service.cli.main", "index", str(source)]
        started = time.perf_counter()
        indexed = subprocess.run(
            [*command, "--index-dir", str(index_dir)],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        index_seconds = time.perf_counter() - started
        if indexed.returncode != 0:
            raise SystemExit(f"newsrec index failed: {indexed.stderr.strip()[-2000:]}")
        print(f"newsrec index: {len(ids):,} articles in {index_seconds:.1f} s", flush=True)
        floor, related = _every_id_once(index_dir, ids, options, stored_lists=True)
        live = None
        if options.live:
            print("the same index served with NEWSREC_RELATED_LIST_DEPTH=0 (ranked live)")
            live = _every_id_once(index_dir, ids, options, stored_lists=False)
    result = IndexThenServe(len(ids), index_seconds, floor, related, live)
    print(f"related, every id once: {result.ratio:.2f}x the /healthz rate", flush=True)
    if result.live_ratio is not None:
        print(f"ranked live: {result.live_ratio:.2f}x the /healthz rate of its run", flush=True)
    return result


def _every_id_once(
    index_dir: Path, ids: list[str], options: argparse.Namespace, *, stored_lists: bool
) -> tuple[Figures, Figures]:
    """(/healthz, related-by-id) from one server, as many requests each."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(index_dir, port, options.workers, stored_lists=stored_lists)
    try:
        wait_ready(base, timeout=600)
        # Warm-up on a few ids, left out of the measured phase (their answers are cached).
        warm, measured = ids[:20], ids[20:]
        with httpx.Client(base_url=base, timeout=30) as client:
            for article_id in warm:
                client.get(f"/articles/{quote(article_id, safe='')}/related")
        paths = [f"/articles/{quote(i, safe='')}/related" for i in measured]
        timed = argparse.Namespace(**{**vars(options), "max_requests": len(paths)})
        timed.client = "python"
        how = "stored lists" if stored_lists else "ranked live"
        floor = measure_phase("GET /healthz", ["/healthz"], base, timed)
        return floor, measure_phase(f"related, every id once, {how}", paths, base, timed)
    finally:
        server.terminate()
        server.wait(timeout=30)


def index_serve_options(**overrides: Any) -> argparse.Namespace:
    """The options `index_then_serve` takes, with the command line's defaults."""
    options = _parser().parse_args(["index-serve", "-"])
    return argparse.Namespace(**{**vars(options), **overrides})


def run_options(index_dir: Path, **overrides: Any) -> argparse.Namespace:
    """The options `run` takes, with the command line's defaults."""
    options = _parser().parse_args(["run", str(index_dir)])
    return argparse.Namespace(**{**vars(options), **overrides})


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="index WCEP + synthetic articles")
    build_parser.add_argument("index_dir", type=Path)
    build_parser.add_argument("--total", type=int, default=100_000)
    build_parser.add_argument("--wcep", type=Path, default=WCEP)
    build_parser.add_argument("--seed", type=int, default=7)
    build_parser.add_argument("--vectors", choices=("minilm", "hashing"), default="minilm")
    build_parser.add_argument(
        "--no-stored-lists",
        dest="stored_lists",
        action="store_false",
        help="do not rank the related lists ahead (newsrec precompute does it later)",
    )
    run_parser = commands.add_parser("run", help="serve the index and load it")
    run_parser.add_argument("index_dir", type=Path)
    run_parser.add_argument("--duration", type=float, default=15.0, help="seconds per phase")
    run_parser.add_argument("--connections", type=int, default=16)
    run_parser.add_argument("--workers", type=int, default=1)
    run_parser.add_argument(
        "--client", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python"
    )
    run_parser.add_argument("--max-requests", type=int, default=500_000, help="python client cap")
    run_parser.add_argument("--seed", type=int, default=7)
    run_parser.add_argument("--wcep", type=Path, default=WCEP)
    serve_parser = commands.add_parser(
        "index-serve", help="newsrec index FILE, then newsrec serve; every id once"
    )
    serve_parser.add_argument("file", type=Path)
    serve_parser.add_argument("--embedder", choices=("minilm", "hashing"), default="minilm")
    serve_parser.add_argument("--duration", type=float, default=60.0, help="cap per phase, s")
    serve_parser.add_argument("--connections", type=int, default=16)
    serve_parser.add_argument("--workers", type=int, default=1)
    serve_parser.add_argument("--seed", type=int, default=7)
    serve_parser.add_argument(
        "--live", action="store_true", help="then the same index ranked live (lists off)"
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    options = _parser().parse_args(argv)
    if options.command == "build":
        from recommender import Settings

        build(
            options.index_dir,
            options.total,
            options.wcep,
            options.seed,
            options.vectors,
            base=Settings(),
            stored_lists=options.stored_lists,
        )
    elif options.command == "index-serve":
        index_then_serve(options.file, options)
    else:
        run(options)


if __name__ == "__main__":
    main()
