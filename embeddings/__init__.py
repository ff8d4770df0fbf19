"""Text to vectors. Knows nothing of articles, indexes or HTTP."""

from embeddings.base import Embedder, ProgressCallback, WrappedEmbedder, l2_normalise
from embeddings.hashing import HashingEmbedder
from embeddings.minilm import MiniLMEmbedder, ModelNotInstalledError, bundled_model_path
from embeddings.registry import EMBEDDER_KINDS, EmbedderChoice, create_embedder

__all__ = [
    "EMBEDDER_KINDS",
    "Embedder",
    "EmbedderChoice",
    "HashingEmbedder",
    "MiniLMEmbedder",
    "ModelNotInstalledError",
    "ProgressCallback",
    "WrappedEmbedder",
    "bundled_model_path",
    "create_embedder",
    "l2_normalise",
]
