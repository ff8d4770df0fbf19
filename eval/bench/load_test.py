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
import asyncio
import gzip
import json
import os
import random
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from eval.quality.shared_data import WCEP

HOT_SET = 1000
_BUILD_SLICE = 50_000
_WORD = re.compile(r"[A-Za-z]{3,}")


# -- build ---------------------------------------------------------------------------------


def build(
    index_dir: Path,
    total: int,
    wcep: Path,
    seed: int,
    vectors: str = "minilm",
    *,
    stored_lists: bool = True,
) -> float:
    """Index WCEP + synthetic articles up to `total` and (`stored_lists`) rank every
    article's related list ahead; returns the seconds the indexing took."""
    # Imported here so `run` does not pay for the core's imports in the client process.
    from recommender import Settings, build_recommender, open_index
    from recommender.ranking.list_refresh import owners_to_rank, store_lists_of

    articles = corpus(total, wcep, seed)
    settings = Settings(
        index_dir=index_dir, embedder="hashing" if vectors == "hashing" else "minilm"
    )
    embedder = None if vectors == "hashing" else _cached_embedder(articles, wcep, seed)
    started = time.perf_counter()
    added = updated = unchanged = 0
    with open_index(settings, writable=True, embedder=embedder) as index:
        # Slices bound the memory of term vectors and fingerprints computed per upsert.
        for start in range(0, len(articles), _BUILD_SLICE):
            report = index.upsert(articles[start : start + _BUILD_SLICE])
            added, updated = added + report.added, updated + report.updated
            unchanged += report.unchanged
            written = min(start + _BUILD_SLICE, len(articles))
            elapsed = time.perf_counter() - started
            print(f"  {written:>9,} written, {elapsed:.0f} s", flush=True)
        index.save()
        count = len(index)
        kind = index.info().index_type
        seconds = time.perf_counter() - started
        print(
            f"{count:,} articles in {index_dir} ({added:,} added, {updated:,} updated,"
            f" {unchanged:,} unchanged; {kind} vectors) in {seconds:.0f} s"
        )
        if not stored_lists:
            return seconds
        ranking_started = time.perf_counter()
        recommender = build_recommender(settings, index)
        stored = store_lists_of(recommender, owners_to_rank(recommender))
        ranking = time.perf_counter() - ranking_started
        print(f"{stored:,} related lists ranked and stored in {ranking:.0f} s")
    return seconds


def _cached_embedder(articles: list[Any], wcep: Path, seed: int) -> Any:
    """Real MiniLM vectors for WCEP's texts, story-clustered ones for synthetic texts."""
    import numpy as np

    from embeddings import MiniLMEmbedder
    from eval.bench.vectors import CachedEmbedder, story_vectors, wcep_vectors

    known: dict[str, Any] = {}
    real = [article for article in articles if article.source != "synthetic"]
    if real:
        known.update(zip((a.text for a in real), wcep_vectors(wcep)[: len(real)], strict=True))
    synthetic = [article for article in articles if article.source == "synthetic"]
    stories = np.asarray([int(a.story.rsplit("-", 1)[1]) for a in synthetic], dtype=np.int64)
    vectors = story_vectors(stories, seed=seed)
    known.update(zip((a.text for a in synthetic), vectors, strict=True))
    return CachedEmbedder(known, MiniLMEmbedder())


def corpus(total: int, wcep: Path, seed: int) -> list[Any]:
    """WCEP's articles (up to `total`), then synthetic stories up to `total` articles."""
    from recommender import Article, load_articles

    articles: list[Article] = []
    if wcep.is_file():
        articles = load_articles([wcep]).articles[:total]
    vocabulary = sorted({w.lower() for a in articles[:20_000] for w in _WORD.findall(a.title)})
    if not vocabulary:
        vocabulary = [f"word{i}" for i in range(5_000)]
    random_state = random.Random(seed)
    start = time.mktime((2002, 1, 1, 0, 0, 0, 0, 0, 0))
    for number in range(total - len(articles)):
        # A synthetic story: words from a small per-story pool, so stories have neighbours.
        story = random_state.randrange(max(1, (total - len(articles)) // 8))
        pool = random.Random(story).sample(vocabulary, 40)
        words = random_state.choices(pool, k=random_state.randint(60, 160))
        moment = time.gmtime(start + random_state.randrange(19 * 365 * 86_400))
        articles.append(
            Article(
                id=f"synthetic-{number:06d}",
                title=" ".join(words[:10]).capitalize(),
                body=" ".join(words[10:]),
                published=time.strftime("%Y-%m-%dT%H:%M:%SZ", moment),
                source="synthetic",
                story=f"synthetic-story-{story}",
            )
        )
    return articles


# -- run -----------------------------------------------------------------------------------


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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _index_embedder(index_dir: Path) -> str:
    """The NEWSREC_EMBEDDER value the index was built with (from its manifest)."""
    manifest = json.loads((index_dir / "newsrec-manifest.json").read_text(encoding="utf-8"))
    return "hashing" if str(manifest["embedder"]).startswith("hashing") else "minilm"


def start_server(
    index_dir: Path, port: int, workers: int, *, stored_lists: bool | None = None
) -> subprocess.Popen[bytes]:
    """`newsrec serve` on the index. `stored_lists` None: as the index has them. An index
    built without lists (the 1M bench index) is served with list depth 0, or the service
    would spend the measurement ranking them all in the background."""
    env = {
        **os.environ,
        "NEWSREC_EMBEDDER": _index_embedder(index_dir),
        "NEWSREC_READ_ONLY": "false",
    }
    if stored_lists is None:
        stored_lists = stored_list_count(index_dir) > 0
    if not stored_lists:
        env["NEWSREC_RELATED_LIST_DEPTH"] = "0"
    command = [
        sys.executable,
        "-m",
        "service.cli.serve",
        "--index-dir",
        str(index_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    # Request logs go to stdout; a load test would only measure the terminal.
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)


def wait_ready(base: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"the service at {base} was not ready within {timeout:.0f} s")


def sample_ids(base: str, wcep: Path, count: int, seed: int) -> list[str]:
    """Ids to ask for: WCEP's and the synthetic ones `build` made, shuffled.

    Enough distinct ids that the cold phase never asks for the same article twice.
    """
    total = httpx.get(f"{base}/readyz", timeout=10).json()["articles"]
    wcep_ids: list[str] = []
    if wcep.is_file():
        with gzip.open(wcep, "rt", encoding="utf-8") as lines:
            wcep_ids = [json.loads(line)["id"] for line in lines if line.strip()]
    synthetic = [f"synthetic-{n:06d}" for n in range(max(0, total - len(wcep_ids)))]
    ids = wcep_ids + synthetic
    random.Random(seed).shuffle(ids)
    return ids[:count]


def _check_exist(base: str, ids: list[str]) -> None:
    with httpx.Client(base_url=base, timeout=10) as client:
        for article_id in ids:
            if client.get(f"/articles/{quote(article_id, safe='')}").status_code != 200:
                raise SystemExit(f"{article_id!r} is not in the served index: run `build` first")


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


def _measure(label: str, paths: list[str], base: str, options: argparse.Namespace) -> Figures:
    if options.client == "wrk":
        figures = _wrk(paths, base, options.duration, options.connections)
    else:
        figures = asyncio.run(
            _python_client(paths, base, options.duration, options.connections, options.max_requests)
        )
    figures = Figures(label, *list(figures.__dict__.values())[1:])
    print(figures.line(), flush=True)
    return figures


@dataclass(frozen=True)
class LoadResult:
    healthz: Figures
    related_cold: Figures  # from the stored lists when the index has them
    related_hot: Figures
    slots: Figures
    related_live: Figures | None  # every request ranked (a second server, lists off)
    rss_bytes: int  # the server's resident memory after the load (all its processes)
    peak_rss_bytes: int  # their high-water marks, summed


def process_memory(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in bytes of a process and its children, from /proc."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.is_file():
        pids += [int(child) for child in children.read_text().split()]
    rss = peak = 0
    for each in pids:
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        rss += int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
        peak += int(fields.get("VmHWM", "0 kB").split()[0]) * 1024
    return rss, peak


def stored_list_count(index_dir: Path) -> int:
    """How many related lists the index has stored (`newsrec precompute`)."""
    with sqlite3.connect(index_dir / "newsrec-store.sqlite") as db:
        try:
            return int(db.execute("SELECT COUNT(*) FROM related_lists").fetchone()[0])
        except sqlite3.OperationalError:  # an index from before stored lists
            return 0


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
        _check_exist(base, cold[:50])
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
        floor = _measure("GET /healthz", ["/healthz"], base, options)
        cold_figures = _measure(f"related, cold, {how}", related, base, options)
        hot_figures = _measure(
            "related, hot (Zipf, cached)",
            [f"/articles/{quote(i, safe='')}/related?k=10" for i in hot],
            base,
            options,
        )
        slots = _measure(
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
        floor = _measure("GET /healthz", ["/healthz"], base, timed)
        return floor, _measure(f"related, every id once, {how}", paths, base, timed)
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
        build(
            options.index_dir,
            options.total,
            options.wcep,
            options.seed,
            options.vectors,
            stored_lists=options.stored_lists,
        )
    elif options.command == "index-serve":
        index_then_serve(options.file, options)
    else:
        run(options)


if __name__ == "__main__":
    main()
