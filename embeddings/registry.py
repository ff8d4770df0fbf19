"""Embedders by name, with their dimension known without loading any model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from embeddings.base import Embedder
from embeddings.hashing import HashingEmbedder
from embeddings.minilm import MODEL_DIMENSION, MODEL_NAME, MiniLMEmbedder
from embeddings.minilm_onnx import OnnxMiniLMEmbedder


@dataclass(frozen=True)
class EmbedderChoice:
    """What an index needs to know about its embedder before (or without) loading it."""

    kind: str
    max_chunks: int = 1
    batch_size: int = 16
    hashing_dimension: int = 256
    # minilm only. Both backends compute the same function (cosine >= 0.999, tested), so
    # the backend is not part of `name`: an index built by one is opened by the other.
    backend: str = "torch"
    cache_dir: Path | None = None

    @property
    def name(self) -> str:
        if self.kind == "minilm":
            return MODEL_NAME if self.max_chunks == 1 else f"{MODEL_NAME}-chunks{self.max_chunks}"
        return f"hashing-bow-{self.hashing_dimension}"

    @property
    def dimension(self) -> int:
        return MODEL_DIMENSION if self.kind == "minilm" else self.hashing_dimension


EMBEDDER_KINDS = ("minilm", "hashing")
ENCODER_BACKENDS = ("torch", "onnx")


def create_embedder(choice: EmbedderChoice) -> Embedder:
    """Build the embedder; the model itself still loads lazily on first encode."""
    if choice.kind == "minilm" and choice.backend == "onnx":
        return OnnxMiniLMEmbedder(
            batch_size=choice.batch_size, max_chunks=choice.max_chunks, cache_dir=choice.cache_dir
        )
    if choice.kind == "minilm":
        if choice.backend != "torch":
            backends = ", ".join(ENCODER_BACKENDS)
            raise ValueError(f"unknown encoder backend {choice.backend!r}; choose {backends}")
        return MiniLMEmbedder(batch_size=choice.batch_size, max_chunks=choice.max_chunks)
    if choice.kind == "hashing":
        return HashingEmbedder(choice.hashing_dimension)
    raise ValueError(f"unknown embedder {choice.kind!r}; choose one of {', '.join(EMBEDDER_KINDS)}")
