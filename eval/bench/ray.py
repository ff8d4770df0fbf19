"""Indexing throughput: the local engine against `--engine ray`, and the driver's share alone.

Each engine indexes the same first N items of a corpus into a fresh index, in a fresh
process, the way `newsrec index` does (validate, plan, encode and write, stored related
lists, save), with the real model, model loads included:

- local: one process, torch on every core (`--local-threads N`: on N);
- ray: a local Ray instance started by the run (startup included), one embedder per actor
  on one CPU each (`--actors N`), each scoring its vectors' topics too; vectors and scores
  streamed into the same `ArticleIndex.apply`.

Write batches of 128 show when the first vectors arrived (model loads, Ray's start) and
the steady rate after. CPU seconds are summed over the whole process tree (Ray's GCS,
raylet and actors are children of the run), sampled every 0.25 s since Ray Data ends its
actors as soon as they are done, and machine-wide from /proc/stat, with the load average:
the machine may be shared. Last, the driver's half is timed alone:
the same articles written into a fresh index with every vector and its topic scores already
given (as the actors deliver them), which is what the driver still does per article however
many actors encode, and so what bounds the Ray path on a cluster.

    python -m eval.bench.ray ../shared/data/wcep/wcep_current_events.jsonl.gz --limit 1000
    python -m eval.bench.ray --limit 1000 --actors 1 --local-threads 1   # Ray's own cost
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.quality.shared_data import WCEP

if TYPE_CHECKING:
    from recommender import Settings

_CLOCK = os.sysconf("SC_CLK_TCK")
_MARK_EVERY = 128


def _sample(corpus: Path, limit: int, directory: Path) -> Path:
    opener = gzip.open if corpus.name.endswith(".gz") else open
    rows = []
    with opener(corpus, "rt", encoding="utf-8") as stream:
        for line in stream:
            if line.strip():
                rows.append(line if line.endswith("\n") else line + "\n")
            if len(rows) >= limit:
                break
    path = directory / "articles.jsonl"
    path.write_text("".join(rows), encoding="utf-8")
    return path


def _tree_cpu(root: int) -> dict[int, int]:
    """Clock ticks of user + system CPU of `root` and each live descendant, by pid."""
    parents: dict[int, int] = {}
    cpu: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        parents[int(entry)] = int(fields[1])
        cpu[int(entry)] = int(fields[11]) + int(fields[12])
    found = {}
    for pid, ticks in cpu.items():
        ancestor = pid
        while ancestor not in (root, 0, 1) and ancestor in parents:
            ancestor = parents[ancestor]
        if ancestor == root:
            found[pid] = ticks
    return found


class _TreeCpuSampler:
    """CPU seconds of this process tree, sampled often: Ray Data ends its actors as soon as
    the last batch is out, and a process that is gone can no longer be read."""

    def __init__(self, interval: float = 0.25) -> None:
        self._seen: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(interval,), daemon=True)

    def __enter__(self) -> _TreeCpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def seconds(self) -> float:
        return sum(self._seen.values()) / _CLOCK

    def _loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self._sample()

    def _sample(self) -> None:
        for pid, ticks in _tree_cpu(os.getpid()).items():
            self._seen[pid] = max(ticks, self._seen.get(pid, 0))


def _machine_busy_seconds() -> float:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / _CLOCK


def _load() -> float:
    return os.getloadavg()[0]


def run_engine(
    engine: str, articles: Path, index_dir: Path, actors: int | None, base: Settings
) -> dict[str, Any]:
    """One `newsrec index` run, as the CLI does it, timed by phase (in this process)."""
    from recommender import build_recommender, load_articles, open_index
    from recommender.batch.job_texts import plan_texts
    from recommender.batch.ray_engine import RayBatch
    from recommender.ranking.list_refresh import refresh_lists_after_write
    from recommender.system import index_tagger

    started, busy, load = time.perf_counter(), _machine_busy_seconds(), _load()
    # Small write batches: the times they complete show when the first vectors arrived.
    settings = base.model_copy(update={"index_dir": index_dir, "write_batch_size": _MARK_EVERY})
    job = (
        RayBatch(settings, tagger=index_tagger(settings), actors=actors)
        if engine == "ray"
        else None
    )
    marks: list[float] = []
    with _TreeCpuSampler() as sampler:
        batch = load_articles([articles])
        embedder, tagger = (job.embedder, job.tagger) if job else (None, None)
        with open_index(settings, writable=True, embedder=embedder, tagger=tagger) as index:
            plan = index.plan_upsert(batch.articles)
            planned = time.perf_counter()
            encoding = job.encoding(plan_texts(index, plan)) if job else nullcontext()
            with encoding:
                report = index.apply(plan, progress=lambda _: marks.append(time.perf_counter()))
            applied = time.perf_counter()
            changed = [item.article.id for item in plan.changed]
            refresh_lists_after_write(build_recommender(settings, index), changed)
            listed = time.perf_counter()
            index.save()
        ended = time.perf_counter()
    first = marks[0] if marks else applied
    return {
        "engine": engine,
        "articles": len(batch.articles),
        "encoded": report.encoded,
        "actors": job.actors_used if job else 0,
        "seconds": ended - started,
        "plan_seconds": planned - started,
        "encode_write_seconds": applied - planned,
        "lists_seconds": listed - applied,
        "tree_cpu_seconds": sampler.seconds,
        # Until the first write batch had its vectors (model loads, Ray's start), then on.
        "first_batch_seconds": first - planned,
        "steady_rate": (report.encoded - _MARK_EVERY) / (applied - first)
        if report.encoded > 2 * _MARK_EVERY
        else None,
        "machine_busy_seconds": _machine_busy_seconds() - busy,
        "load": [load, _load()],
        "driver_encoded": job.embedder.encoded_here if job else None,
        "driver_scored": job.tagger().scored_here if job else None,
        "threads": _torch_threads(),
    }


def _torch_threads() -> int | None:
    torch = sys.modules.get("torch")
    return None if torch is None else int(torch.get_num_threads())


def run_driver_half(
    articles: Path, vectors_from: Path, index_dir: Path, base: Settings
) -> dict[str, Any]:
    """The driver's work alone: every vector (from `vectors_from`) and its scores given."""
    import numpy as np

    from recommender import ArticleIndex, build_recommender, load_articles, open_index
    from recommender.batch.streamed import StreamedEmbedder, StreamedTagger
    from recommender.ranking.list_refresh import refresh_lists_after_write
    from recommender.system import build_embedder
    from recommender.topics import build_tagger

    settings = base.model_copy(update={"index_dir": index_dir})
    embedder = StreamedEmbedder(build_embedder(settings))
    # The taxonomy prompts: the model loads here, untimed; the scores are the actors' work.
    tagger = StreamedTagger(build_tagger(embedder))
    with open_index(base.model_copy(update={"index_dir": vectors_from})) as source:
        hashes = [source.article(i).content_hash for i in source.ids()]
        given = source.vectors_by_hash(hashes)
    embedder.attach(iter([given]), given)
    vectors = np.stack(list(given.values()))
    tagger.remember(vectors, tagger.inner.scores(vectors))

    batch = load_articles([articles])
    with ArticleIndex.open(index_dir / "warm-up", embedder, writable=True) as warm_up:
        warm_up.plan_upsert(batch.articles[:8])  # first-call imports (fingerprints, terms)
    started, busy = time.perf_counter(), _machine_busy_seconds()
    batch = load_articles([articles])
    with ArticleIndex.open(index_dir, embedder, writable=True, tagger=lambda: tagger) as index:
        loaded = time.perf_counter()
        plan = index.plan_upsert(batch.articles)
        planned = time.perf_counter()
        index.apply(plan)
        applied = time.perf_counter()
        refresh_lists_after_write(
            build_recommender(settings, index), [i.article.id for i in plan.changed]
        )
        listed = time.perf_counter()
        index.save()
    ended = time.perf_counter()
    return {
        "articles": len(batch.articles),
        "seconds": ended - started,
        "read_seconds": loaded - started,
        "plan_seconds": planned - loaded,
        "write_seconds": applied - planned,
        "lists_seconds": listed - applied,
        "save_seconds": ended - listed,
        "machine_busy_seconds": _machine_busy_seconds() - busy,
        "load": _load(),
    }


def _child(*arguments: str, threads: int | None = None) -> dict[str, Any]:
    command = [sys.executable, "-m", "eval.bench.ray", "--child", *arguments]
    environment = dict(os.environ)
    if threads is not None:  # torch reads it at import: its intra-op threads
        environment["OMP_NUM_THREADS"] = str(threads)
    completed = subprocess.run(
        command, capture_output=True, text=True, check=False, env=environment
    )
    if completed.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{completed.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def _report(runs: list[dict[str, Any]], driver: dict[str, Any]) -> None:
    print(
        f"{'engine':<20}{'wall s':>8}{'items/s':>9}{'plan':>7}{'encode+write':>14}"
        f"{'lists':>7}{'tree CPU s':>12}{'machine CPU s':>15}  load start/end"
    )
    for run in runs:
        name = run["engine"] + (
            f" ({run['actors']} actors)" if run["actors"] else f" ({run['threads'] or '-'} threads)"
        )
        print(
            f"{name:<20}{run['seconds']:>8.1f}{run['articles'] / run['seconds']:>9.2f}"
            f"{run['plan_seconds']:>7.1f}{run['encode_write_seconds']:>14.1f}"
            f"{run['lists_seconds']:>7.1f}{run['tree_cpu_seconds']:>12.1f}"
            f"{run['machine_busy_seconds']:>15.1f}  {run['load'][0]:.2f} / {run['load'][1]:.2f}"
        )
    for run in runs:
        steady = run["steady_rate"]
        print(
            f"  {run['engine']}: first write batch ({_MARK_EVERY} texts) encoded after "
            f"{run['first_batch_seconds']:.1f} s (model load; Ray's start and actors), then "
            + (f"{steady:.1f} texts/s" if steady else "too few texts to tell")
        )
    local, on_ray = runs
    print(
        f"throughput ray / local: {local['seconds'] / on_ray['seconds']:.3f} "
        f"(overhead {on_ray['seconds'] / local['seconds'] - 1:+.1%} wall, "
        f"{on_ray['tree_cpu_seconds'] / local['tree_cpu_seconds'] - 1:+.1%} CPU); "
        f"texts the Ray driver encoded itself (taxonomy prompts): {on_ray['driver_encoded']}, "
        f"vectors it scored itself: {on_ray['driver_scored']}"
    )
    count = driver["articles"]
    print(
        f"driver half alone ({count} articles, vectors and scores given): "
        f"{driver['seconds']:.1f} s = {count / driver['seconds']:.0f} articles/s "
        f"(read {driver['read_seconds']:.1f}, "
        f"plan {driver['plan_seconds']:.1f}, write {driver['write_seconds']:.1f}, "
        f"stored lists {driver['lists_seconds']:.1f}, save {driver['save_seconds']:.1f} s; "
        f"load {driver['load']:.2f})"
    )
    per_actor = (on_ray["steady_rate"] or 0.0) / on_ray["actors"]
    print(
        f"per actor here (steady): {per_actor:.2f} texts/s; the driver keeps up with about "
        f"{count / driver['seconds'] / max(per_actor, 1e-9):.0f} such actors"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="local vs Ray indexing throughput")
    parser.add_argument("corpus", type=Path, nargs="?", default=WCEP)
    parser.add_argument("--limit", type=int, default=1000, help="first N items")
    parser.add_argument("--actors", type=int, default=None, help="default: the Ray CPUs")
    parser.add_argument(
        "--local-threads", type=int, default=None, help="torch threads of the local run"
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        from recommender import Settings

        kind, *paths = arguments.child
        settings = Settings()  # this child process's, from the environment it was given
        if kind == "driver":
            result = run_driver_half(*(Path(p) for p in paths), settings)
        else:
            result = run_engine(kind, Path(paths[0]), Path(paths[1]), arguments.actors, settings)
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        articles = _sample(arguments.corpus, arguments.limit, directory)
        actors = ["--actors", str(arguments.actors)] if arguments.actors else []
        runs = [
            _child(
                "local", str(articles), str(directory / "local"), threads=arguments.local_threads
            ),
            _child("ray", str(articles), str(directory / "ray"), *actors),
        ]
        driver = _child("driver", str(articles), str(directory / "local"), str(directory / "d"))
    _report(runs, driver)


if __name__ == "__main__":
    main()
