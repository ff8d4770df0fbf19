"""Optional encoder backend: all-MiniLM-L6-v2 exported to ONNX, against sentence-transformers.

The transformer is exported with plain `torch.onnx.export` (not optimum) to /tmp, run with
onnxruntime, and mean-pooled and normalised as sentence-transformers does. It would only be
worth a backend if its vectors match (cosine >= 0.999 on every text) and it is measurably
faster on one text at a time, which is what related-for-text asks of the model.

    python -m eval.bench_onnx            # needs `pip install onnxruntime`
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.bench_query import Latency
from eval.bench_text import SEEDS
from eval.bench_vectors import CACHE_DIR


@dataclass(frozen=True)
class OnnxFigures:
    texts: int
    min_cosine: float
    sentence_transformers: Latency
    onnx: Latency


def _export(model: Any, path: Path) -> None:
    import torch

    tokenizer, transformer = model.tokenizer, model[0].auto_model.eval()
    sample = tokenizer(["an example"], return_tensors="pt")
    names = list(sample.keys())

    class _Hidden(torch.nn.Module):
        """Positional inputs in, last hidden state out: what the exporter traces."""

        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *inputs: Any) -> Any:
            named = dict(zip(names, inputs, strict=True))
            return self.transformer(**named, return_dict=True).last_hidden_state

    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]}
    with torch.no_grad():
        torch.onnx.export(
            _Hidden(),
            tuple(sample[name] for name in names),
            str(path),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )


def measure(
    texts: list[str], *, cache_dir: Path = CACHE_DIR, threads: int | None = None
) -> OnnxFigures:
    """`threads`: intra-op threads for both torch and onnxruntime (default: their own)."""
    import onnxruntime

    from embeddings import MiniLMEmbedder
    from embeddings.minilm import MODEL_MAX_TOKENS

    embedder = MiniLMEmbedder(batch_size=16)
    reference = embedder.encode(texts)
    model = embedder._loaded_model()
    path = cache_dir / "minilm.onnx"
    if not path.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        _export(model, path)
    options = onnxruntime.SessionOptions()
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
        options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    wanted = {item.name for item in session.get_inputs()}

    def onnx_encode(batch: list[str]) -> np.ndarray:
        tokens = model.tokenizer(
            batch, padding=True, truncation=True, max_length=MODEL_MAX_TOKENS, return_tensors="np"
        )
        feed = {name: value.astype(np.int64) for name, value in tokens.items() if name in wanted}
        hidden = session.run(None, feed)[0]
        mask = tokens["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    exported = np.vstack([onnx_encode([text]) for text in texts])
    cosine = float((exported * reference).sum(axis=1).min())
    plain, fast = [], []
    for text in texts:  # alternated, so drifting load hits both alike
        started = time.perf_counter()
        embedder.encode([text])
        plain.append(time.perf_counter() - started)
        started = time.perf_counter()
        onnx_encode([text])
        fast.append(time.perf_counter() - started)
    return OnnxFigures(len(texts), cosine, Latency.of(plain), Latency.of(fast))


def main() -> None:
    import argparse

    from recommender import load_articles

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=None, help="for torch and onnxruntime")
    threads = parser.parse_args().threads
    texts = [article.text for article in load_articles([SEEDS]).articles]
    figures = measure(texts * 2, threads=threads)
    print(f"{figures.texts} texts, lowest cosine to sentence-transformers {figures.min_cosine:.5f}")
    for label, latency in (
        ("sentence-transformers", figures.sentence_transformers),
        ("onnxruntime", figures.onnx),
    ):
        print(f"  {label:<22} p50 {latency.p50_ms:7.2f} ms   p99 {latency.p99_ms:7.2f} ms")


if __name__ == "__main__":
    main()
