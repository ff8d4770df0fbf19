"""Text to vectors. Knows nothing of articles, indexes or HTTP."""

from embeddings.base import Embedder, ProgressCallback, WrappedEmbedder, l2_normalise
from embeddings.hashing import HashingEmbedder
from embeddings.minilm import MiniLMEmbedder, ModelNotInstalledError, bundled_model_path
from embeddings.minilm_onnx import OnnxMiniLMEmbedder
from embeddings.onnx_export import EncoderExportError
from embeddings.registry import EMBEDDER_KINDS, ENCODER_BACKENDS, EmbedderChoice, create_embedder

__all__ = [
    "EMBEDDER_KINDS",
    "ENCODER_BACKENDS",
    "Embedder",
    "EmbedderChoice",
    "EncoderExportError",
    "HashingEmbedder",
    "MiniLMEmbedder",
    "ModelNotInstalledError",
    "OnnxMiniLMEmbedder",
    "ProgressCallback",
    "WrappedEmbedder",
    "bundled_model_path",
    "create_embedder",
    "l2_normalise",
]
