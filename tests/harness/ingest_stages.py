"""Where `newsrec index` spends its time beyond the encoder: one run, split into stages.

Runs `newsrec index FILE` in this process on a fresh index directory with a timer around
each stage (CPU seconds of the whole process, all threads, and wall seconds), not a
profiler: cProfile's own overhead doubles the cost of the Python-heavy stages and leaves
torch's as it is, which skews exactly the split this is for. Stages nest (the encoder's
calls include the model load and the taxonomy's prompts); `beyond the encoder` is the
process's CPU time less the articles' encoding and the model load, which a raw
`SentenceTransformer.encode` pays too.

    python -m tests.harness.ingest_stages ../shared/data/wikinews/wikinews_2019_2020.jsonl.gz
"""

from __future__ import annotations

import argparse
import functools
import importlib
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# (module, attribute path, label): the stages, in the order they run.
STAGES = [
    ("service.cli.main", "load_articles", "reading the file"),
    ("recommender.index.article_index", "ArticleIndex.plan_upsert", "planning the upsert"),
    ("recommender.index.upsert_plan", "text_signatures", "  MinHash fingerprints"),
    ("recommender.index.upsert_plan", "term_vectors", "  term vectors"),
    ("recommender.index.lexical", "_vectorizer", "    of which scikit-learn's import"),
    ("embeddings.minilm", "_load_model", "model load (torch, sentence-transformers)"),
    ("embeddings.minilm", "MiniLMEmbedder.encode", "encoder calls (with load and prompts)"),
    ("recommender.topics.zero_shot", "ZeroShotTagger.from_taxonomy", "  taxonomy prompts"),
    ("recommender.index.article_index", "ArticleIndex._assign_topics", "topic tagging"),
    ("recommender.index.store", "ArticleStore.write", "store writes"),
    ("recommender.stories.assigner", "StoryAssigner.assign_pending", "story assignment"),
    ("recommender.writer", "IndexWriter._refresh_lists", "stored related lists"),
    ("recommender.ranking.recommender", "Recommender.ranked_lists", "  ranking them"),
    ("recommender.index.saving", "IndexSaving.save", "saving (FAISS file, manifest)"),
]


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Stage:
    label: str
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    calls: int = 0


@contextmanager
def timed_stages() -> Iterator[dict[str, Stage]]:
    """Wrap every stage's function with a timer for the duration of the block."""
    stages: dict[str, Stage] = {}
    restore: list[Callable[[], None]] = []
    for module_name, path, label in STAGES:
        owner: Any = importlib.import_module(module_name)
        *parents, name = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent)
        stage = stages.setdefault(label, Stage(label))
        original = owner.__dict__[name]
        setattr(owner, name, _timer(original, stage))
        restore.append(functools.partial(setattr, owner, name, original))
    try:
        yield stages
    finally:
        for undo in reversed(restore):
            undo()


def _timer(original: Any, stage: Stage) -> Any:
    if isinstance(original, classmethod):
        return classmethod(_timer(original.__func__, stage))

    @functools.wraps(original)
    def timed(*arguments: Any, **keywords: Any) -> Any:
        cpu, wall = _cpu_seconds(), time.perf_counter()
        try:
            return original(*arguments, **keywords)
        finally:
            stage.cpu_seconds += _cpu_seconds() - cpu
            stage.wall_seconds += time.perf_counter() - wall
            stage.calls += 1

    return timed


def measure(corpus: Path) -> tuple[dict[str, Stage], Stage]:
    """`newsrec index corpus` into a fresh directory; the stages and the whole process."""
    cpu, wall = _cpu_seconds(), time.perf_counter()
    from service.cli.main import main as newsrec  # its imports count as a stage

    imports = Stage("importing newsrec's CLI", _cpu_seconds() - cpu, time.perf_counter() - wall, 1)
    with tempfile.TemporaryDirectory() as scratch, timed_stages() as stages:
        code = newsrec(["index", str(corpus), "--index-dir", str(Path(scratch) / "index")])
        if code:
            raise SystemExit(f"newsrec index failed with exit code {code}")
    # The whole process, interpreter start included, as eval.bench.ingest measures it.
    whole = Stage("the whole process", _cpu_seconds(), time.perf_counter() - wall, 1)
    return {imports.label: imports, **stages}, whole


def main() -> None:
    parser = argparse.ArgumentParser(description="newsrec index, split into stages")
    parser.add_argument("corpus", type=Path)
    corpus = parser.parse_args().corpus
    stages, whole = measure(corpus)
    print(f"{'stage':<44}{'CPU s':>8}{'wall s':>9}{'calls':>7}")
    for stage in [*stages.values(), whole]:
        print(f"{stage.label:<44}{stage.cpu_seconds:8.2f}{stage.wall_seconds:9.2f}{stage.calls:7}")
    encoder = stages["encoder calls (with load and prompts)"].cpu_seconds
    articles = encoder - stages["  taxonomy prompts"].cpu_seconds
    beyond = whole.cpu_seconds - articles
    print(
        f"beyond encoding the articles and loading the model: {beyond:.2f} CPU s "
        f"of {whole.cpu_seconds:.2f} ({beyond / whole.cpu_seconds:.1%})"
    )


if __name__ == "__main__":
    main()
