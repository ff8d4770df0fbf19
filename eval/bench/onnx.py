"""The ONNX encoder backend against sentence-transformers: cosine and one-text latency.

Both embedders encode the same texts one at a time, alternated (related-for-text sends one
text per call); `--threads` sets torch's and onnxruntime's intra-op threads alike (default:
each its own, one per core). The backend itself is embeddings/minilm_onnx.py.

    python -m eval.bench.onnx [--threads 1]      # needs `pip install -e '.[onnx]'`
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from eval.bench.query import Latency
from eval.bench.text import SEEDS


@dataclass(frozen=True)
class OnnxFigures:
    texts: int
    min_cosine: float
    sentence_transformers: Latency
    onnx: Latency


def measure(texts: list[str], *, threads: int | None = None) -> OnnxFigures:
    from embeddings import MiniLMEmbedder, OnnxMiniLMEmbedder

    torch_embedder, onnx_embedder = MiniLMEmbedder(), OnnxMiniLMEmbedder(threads=threads)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    reference = torch_embedder.encode(texts)
    exported = onnx_embedder.encode(texts)
    cosine = float((exported * reference).sum(axis=1).min())
    plain, fast = [], []
    for text in texts:  # alternated, so drifting load hits both alike
        started = time.perf_counter()
        torch_embedder.encode([text])
        plain.append(time.perf_counter() - started)
        started = time.perf_counter()
        onnx_embedder.encode([text])
        fast.append(time.perf_counter() - started)
    return OnnxFigures(len(texts), cosine, Latency.of(plain), Latency.of(fast))


def main() -> None:
    import argparse

    from recommender import load_articles

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=None, help="for torch and onnxruntime")
    threads = parser.parse_args().threads
    articles = load_articles([SEEDS]).articles
    texts = [article.text for article in articles] + [article.title for article in articles]
    figures = measure(texts, threads=threads)
    print(f"{figures.texts} texts, lowest cosine to sentence-transformers {figures.min_cosine:.5f}")
    for label, latency in (
        ("sentence-transformers", figures.sentence_transformers),
        ("onnxruntime", figures.onnx),
    ):
        print(f"  {label:<22} p50 {latency.p50_ms:7.2f} ms   p99 {latency.p99_ms:7.2f} ms")
    print("  load average " + " / ".join(f"{load:.1f}" for load in os.getloadavg()))


if __name__ == "__main__":
    main()
