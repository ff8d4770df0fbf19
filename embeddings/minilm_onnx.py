"""all-MiniLM-L6-v2 run by onnxruntime: sentence-transformers' vectors without torch.

Same function as MiniLMEmbedder, step by step: the model's own WordPiece tokenizer reading
the first 256 tokens, the transformer (exported once, see onnx_export.py), mean pooling
over the attention mask, L2 normalisation. So it carries the same `name`, and an index
built by either backend is opened and extended by the other: the integration tests hold
the two to cosine >= 0.999 on every seeds text (measured: 1.00000).

The bundled tokenizer.json pads and truncates to 128 tokens when used directly; both are
switched off here: texts are cut at 256 tokens, as sentence-transformers reads them, and
each batch is padded only to its own longest text (texts are sorted by length first, so
a short text rarely pays for a long one).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.base import ProgressCallback, l2_normalise
from embeddings.environment_settings import omp_threads
from embeddings.minilm import (
    MODEL_DIMENSION,
    MODEL_MAX_TOKENS,
    ModelNotInstalledError,
    bundled_model_path,
    check_reading,
    reader_name,
    windows_of,
)
from embeddings.onnx_export import EncoderExportError, exported_model
from embeddings.onnx_inputs import load_tokenizer, mean_pooled, padded_batch

# Texts per progress step; within one, texts are sorted by length before batching.
_SLICE = 256


class OnnxMiniLMEmbedder:
    """MiniLM through onnxruntime. Arguments as MiniLMEmbedder's, plus:

    ``cache_dir``: where exports are kept (default ``~/.cache/newsrec/onnx``); ``threads``:
    onnxruntime's intra-op threads (default: OMP_NUM_THREADS if set, else one per core this
    process may run on).
    """

    def __init__(
        self,
        *,
        batch_size: int = 16,
        max_chunks: int = 1,
        cache_dir: Path | None = None,
        threads: int | None = None,
        model_dir: Path | None = None,
    ) -> None:
        check_reading(batch_size, max_chunks)
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self._batch_size = batch_size
        self._max_chunks = max_chunks
        self._cache_dir = cache_dir
        self._threads = threads
        self._model_dir = model_dir
        self._lock = threading.Lock()
        self._session: Any = None
        self._path: Path | None = None
        self._reader: Any = None  # the tokenizer as the model reads: special tokens, 256 max
        self._splitter: Any = None  # no special tokens, no limit: cuts windows (max_chunks > 1)

    @property
    def name(self) -> str:
        return reader_name(self._max_chunks)

    @property
    def dimension(self) -> int:
        return MODEL_DIMENSION

    @property
    def model_path(self) -> Path:
        """The exported ONNX file in use (exports it first if needed)."""
        self._load()
        assert self._path is not None
        return self._path

    def encode(
        self, texts: Sequence[str], *, progress: ProgressCallback | None = None
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, MODEL_DIMENSION), dtype=np.float32)
        self._load()
        parts = []
        for start in range(0, len(texts), _SLICE):
            batch = list(texts[start : start + _SLICE])
            if self._max_chunks == 1:
                parts.append(self._encode_read(batch))
            else:
                parts.append(self._encode_chunked(batch))
            if progress is not None:
                progress(len(batch))
        return np.vstack(parts)

    def _encode_read(self, texts: list[str]) -> np.ndarray:
        """Each text's first 256 tokens, batched by length: (len(texts), 384) float32."""
        encodings = self._reader.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda row: -len(encodings[row].ids))
        result = np.empty((len(texts), MODEL_DIMENSION), dtype=np.float32)
        for start in range(0, len(order), self._batch_size):
            rows = order[start : start + self._batch_size]
            feed = padded_batch([encodings[row] for row in rows])
            (hidden,) = self._session.run(["last_hidden_state"], feed)
            result[rows] = l2_normalise(mean_pooled(hidden, feed["attention_mask"]))
        return result

    def _encode_chunked(self, texts: list[str]) -> np.ndarray:
        """Up to max_chunks 256-token windows per text, averaged by window length, as
        MiniLMEmbedder does (the windows are cut from the text and read again)."""
        windows, owners, weights = self._windows(texts)
        vectors = self._encode_read(windows)
        pooled = np.zeros((len(texts), MODEL_DIMENSION), dtype=np.float32)
        np.add.at(pooled, owners, vectors * weights[:, None])
        return l2_normalise(pooled)

    def _windows(self, texts: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
        window_tokens = MODEL_MAX_TOKENS - 2  # room for [CLS] and [SEP]
        encoded = self._splitter.encode_batch(texts, add_special_tokens=False)
        offsets = [encoding.offsets for encoding in encoded]
        return windows_of(texts, offsets, window_tokens, self._max_chunks)

    def _load(self) -> None:
        # A lock, because the service may send its first two texts from two threads at once.
        with self._lock:
            if self._session is not None:
                return
            model_dir = self._model_dir or bundled_model_path()
            path = exported_model(self._cache_dir, model_dir)
            self._path = path
            self._reader = load_tokenizer(model_dir)
            self._splitter = load_tokenizer(model_dir, limit=None)
            self._session = _open_session(path, self._threads or _cores())


def _cores() -> int:
    """Threads for onnxruntime: OMP_NUM_THREADS when set to a positive number, else the cores
    this process may run on. A Ray actor given one CPU gets OMP_NUM_THREADS=1 but no pinning:
    one thread per core in each of several actors would oversubscribe every core."""
    configured = omp_threads()
    if configured is not None:
        return configured
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _open_session(path: Path, threads: int) -> Any:
    try:
        import onnxruntime
    except ImportError as error:
        raise ModelNotInstalledError(
            "the ONNX encoder needs onnxruntime: run `pip install -e '.[onnx]'`"
        ) from error
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # warnings about unused initialisers are not actionable
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own Fail/InvalidGraph types
        raise EncoderExportError(
            f"onnxruntime cannot load {path} ({type(error).__name__}: {error}); delete "
            f"{path.parent} to export it again"
        ) from error
