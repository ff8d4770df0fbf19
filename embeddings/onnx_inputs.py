"""What goes into and comes out of the exported MiniLM graph: the tokenizer, padded
batches of its three inputs, and mean pooling of its last hidden state.

Shared by the encoder (minilm_onnx.py) and the export's check against torch
(onnx_export.py), so that neither imports the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.environment_settings import keep_model_libraries_offline
from embeddings.minilm import MODEL_MAX_TOKENS, ModelNotInstalledError

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


def load_tokenizer(model_dir: Path, *, limit: int | None = MODEL_MAX_TOKENS) -> Any:
    """The model's tokenizer.json without its fixed 128-token padding and truncation:
    truncated at `limit` tokens (None: not at all), never padded (see padded_batch)."""
    keep_model_libraries_offline()
    try:
        from tokenizers import Tokenizer
    except ImportError as error:
        raise ModelNotInstalledError(
            "the ONNX encoder needs tokenizers and onnxruntime: run `pip install -e '.[onnx]'`"
        ) from error
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    if limit is None:
        tokenizer.no_truncation()
    else:
        tokenizer.enable_truncation(max_length=limit)
    return tokenizer


def padded_batch(encodings: Sequence[Any]) -> dict[str, np.ndarray]:
    """Token ids, attention mask and token types, int64, padded with 0 to the longest row."""
    width = max(len(encoding.ids) for encoding in encodings)
    feed = {name: np.zeros((len(encodings), width), dtype=np.int64) for name in INPUT_NAMES}
    for row, encoding in enumerate(encodings):
        length = len(encoding.ids)
        feed["input_ids"][row, :length] = encoding.ids
        feed["attention_mask"][row, :length] = 1
        feed["token_type_ids"][row, :length] = encoding.type_ids
    return feed


def mean_pooled(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of the token states the mask keeps, as sentence-transformers' Pooling does.

    hidden: (n, tokens, d), mask: (n, tokens) -> (n, d) float32, not normalised
    """
    weights = mask[..., None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    return (summed / np.maximum(weights.sum(axis=1), 1e-9)).astype(np.float32)
