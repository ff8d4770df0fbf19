"""New text: related-for-text latency, in-process, with the real model (model-bound).

Each query is a full article from seeds/ (about 650 word-pieces, truncated to 256 by the
model) that the index does not hold; the time of the encoding alone is measured on the
same texts in the same run, so the share of the model in the latency shows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from eval.bench_query import Latency

SEEDS = Path(__file__).resolve().parents[1] / "seeds" / "articles.jsonl"


@dataclass(frozen=True)
class TextFigures:
    articles: int
    model_load_seconds: float
    encode: Latency  # the embedder alone, one text per call
    related: Latency  # Recommender.related_to_text, encode included


def measure(
    index_dir: Path, *, queries: int = 100, corpus: Path = SEEDS, torch_threads: int | None = None
) -> TextFigures:
    """`torch_threads`: torch's intra-op threads for the run (default: torch's own choice,
    one per core)."""
    from recommender import Settings, build_recommender, load_articles, open_index

    if torch_threads is not None:
        import torch

        torch.set_num_threads(torch_threads)

    texts = [(a.title, a.body) for a in load_articles([corpus]).articles]
    texts = (texts * (queries // len(texts) + 1))[:queries]
    settings = Settings(index_dir=index_dir, embedder="minilm")
    with open_index(settings) as index:
        recommender = build_recommender(settings, index)
        started = time.perf_counter()
        recommender.related_to_text(*texts[0])  # loads the model and the index's parts
        loaded = time.perf_counter() - started
        embedder = index.embedder
        encode, related = [], []
        # Alternate the two measurements so drifting machine load hits both alike.
        for title, body in texts:
            begun = time.perf_counter()
            embedder.encode([f"{title}\n{body}"])
            encode.append(time.perf_counter() - begun)
            begun = time.perf_counter()
            recommender.related_to_text(title, body, k=10)
            related.append(time.perf_counter() - begun)
        return TextFigures(len(index), loaded, Latency.of(encode), Latency.of(related))
