"""New text: related-for-text latency, in-process, with the real model (model-bound).

Each query is a full article from seeds/ (about 650 word-pieces, truncated to 256 by the
model) that the index does not hold; the time of the encoding alone is measured on the
same texts in the same run, so the share of the model in the latency shows. With several
encoder backends, one index is opened per backend and the queries alternate between them,
so drifting machine load hits each alike; process CPU time per call is kept beside the
wall time (it includes onnxruntime's and torch's pool threads).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.bench.query import Latency

if TYPE_CHECKING:
    from recommender import Settings

SEEDS = Path(__file__).resolve().parents[2] / "seeds" / "articles.jsonl"


@dataclass(frozen=True)
class TextFigures:
    backend: str
    articles: int
    encode: Latency  # the embedder alone, one text per call
    related: Latency  # Recommender.related_to_text, encode included
    related_cpu_ms: float  # mean process CPU time per related call, all threads


@dataclass
class _Timings:
    backend: str
    recommender: Any
    embedder: Any
    encode: list[float] = field(default_factory=list)
    related: list[float] = field(default_factory=list)
    related_cpu: list[float] = field(default_factory=list)

    def time_query(self, title: str, body: str) -> None:
        begun = time.perf_counter()
        self.embedder.encode([f"{title}\n{body}"])
        self.encode.append(time.perf_counter() - begun)
        begun, cpu = time.perf_counter(), time.process_time()
        self.recommender.related_to_text(title, body, k=10)
        self.related.append(time.perf_counter() - begun)
        self.related_cpu.append(time.process_time() - cpu)


def measure(
    index_dir: Path,
    *,
    base: Settings,
    queries: int = 100,
    corpus: Path = SEEDS,
    torch_threads: int | None = None,
    backends: Sequence[str] = ("torch",),
) -> list[TextFigures]:
    """One TextFigures per encoder backend, measured alternately on the same queries.
    `torch_threads`: torch's intra-op threads (default: torch's own choice, one per core);
    onnxruntime uses one per core."""
    from recommender import build_recommender, load_articles, open_index

    if torch_threads is not None:
        import torch

        torch.set_num_threads(torch_threads)

    texts = [(a.title, a.body) for a in load_articles([corpus]).articles]
    texts = (texts * (queries // len(texts) + 1))[:queries]
    with ExitStack() as stack:
        runs = []
        for backend in backends:
            settings = base.model_copy(
                update={"index_dir": index_dir, "embedder": "minilm", "encoder_backend": backend}
            )
            index = stack.enter_context(open_index(settings))
            run = _Timings(backend, build_recommender(settings, index), index.embedder)
            run.recommender.related_to_text(*texts[0])  # loads the model and the index's parts
            runs.append(run)
        for title, body in texts:
            for run in runs:
                run.time_query(title, body)
        return [
            TextFigures(
                run.backend,
                len(index),
                Latency.of(run.encode),
                Latency.of(run.related),
                1e3 * sum(run.related_cpu) / len(run.related_cpu),
            )
            for run in runs
        ]


@dataclass(frozen=True)
class FirstCall:
    """A fresh process's first related-for-text: imports, model, index parts."""

    backend: str
    seconds: float  # from the start of the process to the first result
    peak_rss_bytes: int


_FIRST_CALL = """
import json, resource, sys, time
from pathlib import Path
from recommender import Settings, build_recommender, load_articles, open_index
article = load_articles([Path(sys.argv[3])]).articles[0]
settings = Settings(index_dir=Path(sys.argv[1]), embedder="minilm", encoder_backend=sys.argv[2])
with open_index(settings) as index:
    build_recommender(settings, index).related_to_text(article.title, article.body, k=10)
print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024))
"""


def first_call(index_dir: Path, backend: str, corpus: Path = SEEDS) -> FirstCall:
    """Run in a fresh interpreter, so neither backend finds the other's imports loaded."""
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", _FIRST_CALL, str(index_dir), backend, str(corpus)],
        capture_output=True,
        text=True,
        check=True,
    )
    return FirstCall(backend, time.perf_counter() - started, int(completed.stdout.split()[-1]))


def export_seconds(scratch: Path) -> float:
    """One ONNX export of the installed model into an empty cache, in a fresh interpreter
    (torch's import included)."""
    code = "import sys; from pathlib import Path; from embeddings.onnx_export import "
    code += "exported_model; exported_model(Path(sys.argv[1]))"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(scratch)], check=True)
    return time.perf_counter() - started
