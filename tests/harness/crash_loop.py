"""Crash loop: kill -9 newsrec at random points while it writes, then check the index.

    python -m tests.harness.crash_loop --runs 20 [--articles N] [--mode both|all|index|http|workers]

Each run starts a writer, sends it SIGKILL after a random delay, and checks what is left:

- `index` runs `newsrec index` (the CLI, in a subprocess) on a corpus whose texts change
  from run to run, so a kill lands among additions and updates. A write counts as
  acknowledged once another process can read it from the store (a committed batch).
- `http` runs `newsrec serve` and one client sends PUTs, bulk POSTs and DELETEs; a write is
  acknowledged when its 2xx answer arrives. Runs share one directory, so writes
  acknowledged in earlier runs must survive every later kill too.
- `workers` (in `--mode all`) is `http` against `newsrec serve --workers 2`: the client
  writes through the reader workers, which forward to the writer process; SIGKILL reaches
  only the serve process, and its writer and readers must exit by themselves.

After each kill the index must open; every acknowledged write must be there (the version
acknowledged, or the one in flight at the kill); no article may be half-present: the
store's ids, its vectors table, the vector index, the catalog and the lexical index agree,
and each article's vector is the encoding of its stored text. Then the next run must
complete: `newsrec index` re-run to the end (all articles, this run's texts), or the server
restarted and accepting writes. The hashing embedder makes every run deterministic.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

from recommender import (
    ArticleIndex,
    InvalidInputError,
    NewsrecError,
    Settings,
    build_embedder,
    build_recommender,
)
from recommender.index.files import STORE_FILE

# Small transactions: many commits for a kill to land between (and inside).
_ENVIRONMENT = {
    "NEWSREC_EMBEDDER": "hashing",
    "NEWSREC_WRITE_BATCH_SIZE": "25",
    "NEWSREC_ACCESS_LOG": "false",
}
_READY_SECONDS = 60.0


@dataclass
class RunResult:
    mode: str
    killed_after: float  # seconds after the writer started (http: after it was ready)
    landed: bool  # the writer was still running when the kill came
    acknowledged: int  # distinct ids whose latest acknowledged write was checked
    stored: int
    lost: int  # acknowledged articles missing, or holding an older version
    problems: list[str] = field(default_factory=list)

    @property
    def recovered(self) -> bool:
        return not self.problems


@dataclass
class LoopReport:
    runs: list[RunResult] = field(default_factory=list)

    @property
    def killed(self) -> int:
        """Kills that landed on a running writer (a kill after it finished is no crash)."""
        return sum(run.landed for run in self.runs)

    @property
    def recovered(self) -> int:
        return sum(run.recovered for run in self.runs)

    @property
    def lost(self) -> int:
        return sum(run.lost for run in self.runs)

    @property
    def problems(self) -> list[str]:
        return [f"run {n} ({r.mode}): {p}" for n, r in enumerate(self.runs) for p in r.problems]


# -- checking an index after a kill ------------------------------------------------------


def check_index(
    directory: Path, allowed: dict[str, set[str | None]], settings: Settings
) -> tuple[int, int, list[str]]:
    """Open the index read-only and check it; returns (stored, lost, problems).

    `allowed` maps each acknowledged id to the titles it may hold (None: it may be absent).
    """
    problems: list[str] = []
    embedder = build_embedder(settings)
    try:
        index = ArticleIndex.open(directory, embedder)
    except InvalidInputError as error:
        # Killed before the store was initialised: fine as long as nothing was acknowledged.
        required = [i for i, titles in allowed.items() if None not in titles]
        if required:
            return 0, len(required), [f"the index does not open: {error}"]
        return 0, 0, []
    except NewsrecError as error:
        return 0, 0, [f"the index does not open: {error}"]
    with index:
        try:
            stored, titles = _check_consistency(index, embedder, settings, problems)
        except NewsrecError as error:
            return 0, 0, [f"the index does not load: {error}"]
    lost = 0
    for article_id, titles_allowed in allowed.items():
        title = titles.get(article_id)
        if title not in titles_allowed:
            lost += title is None or None not in titles_allowed
            problems.append(
                f"{article_id!r}: holds {title!r}, acknowledged {sorted(map(str, titles_allowed))}"
            )
    return stored, lost, problems


def _check_consistency(
    index: ArticleIndex, embedder: object, settings: Settings, problems: list[str]
) -> tuple[int, dict[str, str]]:
    ids = list(index.ids())
    stored = len(ids)
    if len(set(ids)) != stored:
        problems.append("the store holds a repeated id")
    for name, size in (
        ("vector index", len(index.vectors)),
        ("catalog", len(index.catalog)),
        ("lexical index", len(index.lexical)),
    ):
        if size != stored:
            problems.append(f"{name} holds {size} articles, the store {stored}")
    titles: dict[str, str] = {}
    row_ids: list[int] = []
    texts: list[str] = []
    hashes: list[str] = []
    for article_id in ids:
        article = index.article(article_id)
        titles[article_id] = article.title
        row_ids.append(index.row_id(article_id))
        texts.append(article.text)
        hashes.append(article.content_hash)
    if not stored:
        return 0, titles
    with_vectors = index.store.hashes_with_vectors(hashes)
    if len(with_vectors) != len(set(hashes)):
        problems.append(f"{len(set(hashes)) - len(with_vectors)} stored texts have no vector")
    try:
        held = index.vectors.vectors_of(np.asarray(row_ids, dtype=np.int64))
    except KeyError as missing:
        problems.append(f"row {missing} is in the store but not in the vector index")
        return stored, titles
    expected = embedder.encode(texts)  # type: ignore[attr-defined]
    stale = np.flatnonzero(np.abs(held - expected).max(axis=1) > 1e-5)
    if len(stale):
        problems.append(
            f"{len(stale)} vectors are not their article's text, e.g. {ids[stale[0]]!r}"
        )
    # Stories: a story row never outlives its article (pending ones, whose assignment the
    # kill interrupted, are assigned by the next write).
    orphaned = index.store.stories.orphaned()
    if orphaned:
        problems.append(f"{orphaned} story rows name articles that are gone")
    recommender = build_recommender(settings, index)
    known = set(ids)
    for article_id in random.Random(stored).sample(ids, min(5, stored)):
        for hit in recommender.related(article_id, 5):
            if hit.id not in known:
                problems.append(f"related to {article_id!r} lists {hit.id!r}, not in the store")
    return stored, titles


# -- index mode: `newsrec index` killed mid-run -------------------------------------------


def write_corpus(path: Path, articles: int, version: int) -> dict[str, str]:
    """A corpus whose texts change with `version`, but every fifth; returns id -> title."""
    titles: dict[str, str] = {}
    with path.open("w", encoding="utf-8") as stream:
        for n in range(articles):
            edition = version if n % 5 else 0
            title = f"story {n % 40} update {n} edition {edition}"
            row = {
                "id": f"a{n}",
                "title": title,
                "body": f"topic{n % 40} detail{n} edition{edition} " * 6,
                "published": f"2024-{1 + n % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:00:00Z",
            }
            stream.write(json.dumps(row) + "\n")
            titles[row["id"]] = title
    return titles


def index_command(corpus: Path, directory: Path) -> list[str]:
    """`newsrec index CORPUS --index-dir DIRECTORY` as a child process runs it."""
    return [
        sys.executable,
        "-m",
        "service.cli.main",
        "index",
        str(corpus),
        "--index-dir",
        str(directory),
    ]


def _committed_titles(directory: Path) -> dict[str, str]:
    """What another process reads from the store right now: the committed writes."""
    store = directory / STORE_FILE
    if not store.exists():
        return {}
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5) as db:
            return dict(db.execute("SELECT id, title FROM articles").fetchall())
    except sqlite3.Error:  # not created yet
        return {}


def _committed_of_version(directory: Path, version: int) -> int:
    try:
        with sqlite3.connect(f"file:{directory / STORE_FILE}?mode=ro", uri=True, timeout=5) as db:
            query = "SELECT COUNT(*) FROM articles WHERE title LIKE ?"
            return int(db.execute(query, (f"% edition {version}",)).fetchone()[0])
    except sqlite3.Error:  # not created yet
        return 0


def index_run(
    directory: Path,
    corpus: Path,
    version: int,
    articles: int,
    env: dict[str, str],
    *,
    delay: float | None = None,
    after_rows: int | None = None,
) -> RunResult:
    """Kill `delay` seconds after the start, or once `after_rows` of this run's writes
    are committed (a kill certain to land mid-write)."""
    previous = _committed_titles(directory)
    titles = write_corpus(corpus, articles, version)
    process = subprocess.Popen(
        index_command(corpus, directory),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started = time.monotonic()
    while process.poll() is None and time.monotonic() - started < _READY_SECONDS:
        if delay is not None and time.monotonic() - started >= delay:
            break
        if after_rows is not None and _committed_of_version(directory, version) >= after_rows:
            break
        time.sleep(0.005)
    acknowledged = _committed_titles(directory)  # read just before the kill
    landed = process.poll() is None
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_after = time.monotonic() - started
    # An id committed in this run holds this run's text from then on; one not seen yet may
    # hold the previous run's text or this run's (committed between the read and the kill).
    allowed: dict[str, set[str | None]] = {}
    for article_id, title in titles.items():
        if acknowledged.get(article_id) == title:
            allowed[article_id] = {title}
        elif article_id in previous:
            allowed[article_id] = {previous[article_id], title}
        else:
            allowed[article_id] = {None, title}
    settings = _settings(directory, env)
    stored, lost, problems = check_index(directory, allowed, settings)
    # Writes of this run: new ids and changed texts, committed before the kill.
    this_run = sum(acknowledged.get(i) == t != previous.get(i) for i, t in titles.items())
    result = RunResult("index", killed_after, landed, this_run, stored, lost, problems)
    # The next run completes and leaves every article at this run's text.
    finished = subprocess.run(
        index_command(corpus, directory), env=env, capture_output=True, text=True
    )
    if finished.returncode != 0:
        problems.append(f"the next run failed ({finished.returncode}): {finished.stderr[-300:]}")
    else:
        _, _, after = check_index(directory, {i: {t} for i, t in titles.items()}, settings)
        problems.extend(f"after the next run: {problem}" for problem in after + _strays(directory))
    return result


# -- http mode: `newsrec serve` killed while a client writes ------------------------------


class Ledger:
    """The client's record: the last acknowledged title of each id, and the write in flight."""

    def __init__(self) -> None:
        self.acknowledged: dict[str, str | None] = {}  # None: deleted
        self.in_flight: dict[str, str | None] = {}
        self.writes = 0
        self.refused: list[str] = []
        self._lock = threading.Lock()

    def allowed(self) -> dict[str, set[str | None]]:
        with self._lock:
            allowed = {i: {t} for i, t in self.acknowledged.items()}
            for article_id, title in self.in_flight.items():
                allowed.setdefault(article_id, {None}).add(title)
            return allowed

    def begin(self, changes: dict[str, str | None]) -> None:
        with self._lock:
            self.in_flight = dict(changes)

    def acknowledge(self) -> None:
        with self._lock:
            self.acknowledged.update(self.in_flight)
            self.in_flight = {}
            self.writes += 1

    def settle(self, titles: dict[str, str]) -> None:
        """After a check: the write in flight at the kill either landed or did not."""
        with self._lock:
            for article_id in self.in_flight:
                self.acknowledged[article_id] = titles.get(article_id)
            self.in_flight = {}


def _client_writes(base: str, ledger: Ledger, rng: random.Random, stop: threading.Event) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        while not stop.is_set():
            live = [i for i, t in ledger.acknowledged.items() if t is not None]
            choice = rng.random()
            serial = ledger.writes
            try:
                if choice < 0.15 and live:
                    victim = rng.choice(live)
                    ledger.begin({victim: None})
                    reply = client.delete(f"/articles/{victim}")
                elif choice < 0.5:
                    batch = {
                        f"h{rng.randrange(10 * len(live) + 50)}" for _ in range(rng.randint(2, 20))
                    }
                    changes = {i: f"bulk {serial} {i}" for i in sorted(batch)}
                    ledger.begin(dict(changes))
                    body = [
                        {"id": i, "title": t, "body": f"{t} flood river {serial % 17}"}
                        for i, t in changes.items()
                    ]
                    reply = client.post("/articles", json={"articles": body})
                else:
                    article_id = rng.choice(live) if live and rng.random() < 0.4 else f"h{serial}x"
                    title = f"put {serial} {article_id}"
                    ledger.begin({article_id: title})
                    payload = {"title": title, "body": f"{title} election vote {serial % 13}"}
                    reply = client.put(f"/articles/{article_id}", json=payload)
            except httpx.TransportError:
                return  # the server was killed: this write stays in flight
            if reply.status_code == 503:  # a reader whose writer is already gone
                return  # not acknowledged: this write stays in flight
            if reply.status_code >= 300:
                ledger.refused.append(f"write refused: {reply.status_code} {reply.text[:200]}")
                return
            ledger.acknowledge()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _server(
    directory: Path, env: dict[str, str], workers: int = 1
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = _free_port()
    command = [sys.executable, "-m", "service.cli.main", "serve", "--index-dir", str(directory)]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + _READY_SECONDS
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not become ready (exit {process.poll()})")
            with suppress(httpx.TransportError):
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            time.sleep(0.05)
        children = _children(process.pid)
        yield process, base
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # With workers, SIGKILL reaches only the `newsrec serve` process: its writer and
    # readers must notice and exit, or the next run finds the port and the lock taken.
    deadline = time.monotonic() + 15
    while [pid for pid in children if _alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.05)
    orphans = [pid for pid in children if _alive(pid)]
    for pid in orphans:
        os.kill(pid, signal.SIGKILL)
    if orphans:
        raise RuntimeError(f"processes of the killed server still ran 15 s later: {orphans}")


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(child) for child in found.stdout.split()]


def _alive(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def http_run(
    directory: Path,
    ledger: Ledger,
    delay: float,
    seed: int,
    env: dict[str, str],
    workers: int = 1,
) -> RunResult:
    """`newsrec serve` (with `workers` readers and a writer process when more than one)
    killed while one client writes through it."""
    mode = "http" if workers == 1 else "workers"
    stop = threading.Event()
    problems: list[str] = []
    try:
        with _server(directory, env, workers) as (process, base):
            writer = threading.Thread(
                target=_client_writes, args=(base, ledger, random.Random(seed), stop)
            )
            started = time.monotonic()
            writer.start()
            time.sleep(delay)
            landed = process.poll() is None and writer.is_alive()
            process.send_signal(signal.SIGKILL)
            process.wait()
            killed_after = time.monotonic() - started
            writer.join(timeout=60)
    except RuntimeError as error:  # a server that did not start, or outlived its kill
        return RunResult(mode, 0.0, False, 0, 0, 0, [str(error)])
    stop.set()
    settings = _settings(directory, env)
    allowed = ledger.allowed()
    stored, lost, found = check_index(directory, allowed, settings)
    problems.extend(found)
    problems.extend(ledger.refused)
    ledger.refused.clear()
    acknowledged = sum(1 for title in ledger.acknowledged.values() if title is not None)
    result = RunResult(mode, killed_after, landed, acknowledged, stored, lost, problems)
    with ArticleIndex.open(directory, build_embedder(settings)) as index:
        ledger.settle({i: index.article(i).title for i in ledger.in_flight if i in index})
    return result


def final_http_run(
    directory: Path, ledger: Ledger, env: dict[str, str], workers: int = 1
) -> list[str]:
    """The next run completes: the server restarts, takes a write, and stops cleanly."""
    with _server(directory, env, workers) as (process, base):
        ledger.begin({"final": "final check"})
        reply = httpx.put(f"{base}/articles/final", json={"title": "final check"}, timeout=30)
        if reply.status_code not in (200, 201):
            return [f"the restarted server refused a write: {reply.status_code}"]
        ledger.acknowledge()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    _, _, problems = check_index(directory, ledger.allowed(), _settings(directory, env))
    return problems + _strays(directory)


def _strays(directory: Path) -> list[str]:
    """Files a killed save left behind must be gone once a later save completes."""
    names = sorted(p.name for p in directory.iterdir())
    snapshots = [n for n in names if n.startswith("newsrec-vectors-")]
    leftovers = [n for n in names if n.endswith(".tmp")] + snapshots[1:]
    return [f"files left behind by a killed save: {leftovers}"] if leftovers else []


# -- the loop ------------------------------------------------------------------------------


def _settings(directory: Path, env: dict[str, str]) -> Settings:
    return Settings(
        index_dir=directory,
        embedder="hashing",
        tag_on_index=env.get("NEWSREC_TAG_ON_INDEX", "true") != "false",
    )


def crash_loop(
    workdir: Path,
    runs: int,
    articles: int = 2000,
    mode: str = "both",
    seed: int = 0,
    *,
    http_window: float = 4.0,
    log: bool = True,
) -> LoopReport:
    """Run `runs` kills (alternating modes when `mode` is "both") and check each one."""
    rng = random.Random(seed)
    env = {**os.environ, **_ENVIRONMENT}
    report = LoopReport()
    index_dir = workdir / "index-runs"
    corpus = workdir / "corpus.jsonl"
    served = {"http": 1, "workers": 2}  # reader processes of `newsrec serve` in each mode
    ledgers = {kind: Ledger() for kind in served}
    modes = {"both": ["index", "http"], "all": ["index", "http", "workers"]}.get(mode, [mode])
    index_window = _full_run_seconds(workdir / "calibration", corpus, articles, env)
    for number in range(runs):
        kind = modes[number % len(modes)]
        if kind == "index" and (number // len(modes)) % 2:
            # Half the index runs are killed after a random number of committed articles.
            rows = rng.randint(1, max(1, articles * 4 // 5 - 1))
            result = index_run(index_dir, corpus, number + 1, articles, env, after_rows=rows)
        elif kind == "index":  # the others at a random time, start-up and final save included
            delay = rng.uniform(0.0, 0.95 * index_window)
            result = index_run(index_dir, corpus, number + 1, articles, env, delay=delay)
        else:
            delay = rng.uniform(0.05, http_window)
            directory, seed_of_run = workdir / f"{kind}-runs", rng.randrange(2**32)
            result = http_run(directory, ledgers[kind], delay, seed_of_run, env, served[kind])
        report.runs.append(result)
        if log:
            verdict = "recovered" if result.recovered else "NOT RECOVERED: " + result.problems[0]
            if not result.landed:
                verdict = "(the writer had already stopped) " + verdict
            print(
                f"run {number + 1:>3} {kind:>5}: killed after {result.killed_after:5.2f} s, "
                f"{result.acknowledged:>5} acknowledged, {result.stored:>5} stored, "
                f"{result.lost} lost; {verdict}",
                flush=True,
            )
    for kind, workers in served.items():
        if any(run.mode == kind for run in report.runs):
            final = final_http_run(workdir / f"{kind}-runs", ledgers[kind], env, workers)
            report.runs[-1].problems.extend(f"final {kind} restart: {p}" for p in final)
    return report


def _full_run_seconds(directory: Path, corpus: Path, articles: int, env: dict[str, str]) -> float:
    """How long an uninterrupted `newsrec index` takes: the window a kill is drawn from."""
    write_corpus(corpus, articles, 0)
    started = time.monotonic()
    subprocess.run(index_command(corpus, directory), env=env, capture_output=True, check=True)
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="kills (default 20)")
    parser.add_argument("--articles", type=int, default=2000, help="corpus size (index mode)")
    parser.add_argument(
        "--mode",
        choices=("both", "all", "index", "http", "workers"),
        default="both",
        help="both = index and http; all = index, http and workers (serve --workers 2)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, help="keep the indexes here (default: temporary)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="newsrec-crash-") as temporary:
        workdir = args.workdir or Path(temporary)
        workdir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        report = crash_loop(workdir, args.runs, args.articles, args.mode, args.seed)
    print(
        f"runs: {len(report.runs)}; killed while running: {report.killed}; "
        f"recovered: {report.recovered}; "
        f"articles lost: {report.lost}; {time.monotonic() - started:.0f} s"
    )
    for problem in report.problems:
        print(f"  {problem}")
    return 0 if report.recovered == len(report.runs) and not report.lost else 1


if __name__ == "__main__":
    sys.exit(main())
