"""all-MiniLM-L6-v2's transformer exported once to ONNX, cached by the model files' hash.

The export needs torch and transformers (the `model` extra); loading the exported file later
needs only onnxruntime and tokenizers, so a process on the ONNX backend never imports torch.
The export is the plain TorchScript `torch.onnx.export`: `optimum` and sentence-transformers'
`[onnx]` extra would pin an older transformers.

A cache entry is a directory named after the SHA-256 of the files that shape the graph
(config.json and the weights): a changed model gets a new entry, the same model is reused
by every later process. The entry is built in a scratch directory, checked against torch on
padded batches, fsynced and renamed into place, so a reader never sees half an export.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.environment_settings import keep_model_libraries_offline, user_cache_root
from embeddings.minilm import ModelNotInstalledError, bundled_model_path
from embeddings.onnx_inputs import INPUT_NAMES, load_tokenizer, mean_pooled, padded_batch

ONNX_FILE = "model.onnx"
# Bump when the exported graph changes shape (inputs, outputs, opset), so old entries are
# not loaded by code that expects another graph.
EXPORT_FORMAT = 1
OPSET = 17
# Files whose content decides the exported graph; the tokenizer is read from the model
# directory at run time, not from the cache.
_GRAPH_FILES = ("config.json", "model.safetensors", "pytorch_model.bin")
# The export must reproduce torch on these (padded together, one over 256 tokens) or it is
# not published.
_CHECK_TEXTS = (
    "an example",
    "Ministers sign a security pact in the capital after talks on border patrols.",
    "Storm " * 400,
)
_CHECK_COSINE = 0.9999


class EncoderExportError(ModelNotInstalledError):
    """The ONNX encoder could not be exported or loaded.

    A subclass of ModelNotInstalledError because callers already turn that into one line
    (the CLI, exit 1) or a 503 (the service): either way the configured encoder cannot run
    here, and the message says what to change.
    """


def default_cache_root() -> Path:
    """`$XDG_CACHE_HOME/newsrec/onnx`, else `~/.cache/newsrec/onnx`."""
    return user_cache_root() / "newsrec" / "onnx"


def model_version(model_dir: Path) -> str:
    """SHA-256 (hex, 16 characters) of the export format and the graph-shaping files.

    Reading the 87 MB of weights costs ~0.3 s per process; a key from sizes and mtimes
    would be cheaper but would miss a file replaced in place with its time kept.
    """
    digest = hashlib.sha256(f"format {EXPORT_FORMAT} opset {OPSET}\n".encode())
    found = False
    for name in _GRAPH_FILES:
        path = model_dir / name
        if not path.is_file():
            continue
        found = found or name != "config.json"
        digest.update(f"{name}\n".encode())
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    if not found:
        raise EncoderExportError(f"no model weights in {model_dir} to export to ONNX")
    return digest.hexdigest()[:16]


def exported_model(cache_root: Path | None = None, model_dir: Path | None = None) -> Path:
    """The ONNX file for the installed model, exported first if this version has none."""
    model_dir = model_dir or bundled_model_path()
    cache_root = cache_root or default_cache_root()
    entry = cache_root / model_version(model_dir)
    if (entry / ONNX_FILE).is_file():
        return entry / ONNX_FILE
    try:
        cache_root.mkdir(parents=True, exist_ok=True)
        root = os.open(cache_root, os.O_RDONLY)
    except OSError as error:
        raise _unwritable(cache_root, error) from error
    try:
        # Several processes starting on an empty cache (Ray actors, service workers) would
        # each load torch and export; one does, the others wait, then find its export. The
        # rename alone keeps the cache correct; the lock (on the directory itself, so the
        # cache holds only entries) just saves the duplicate work.
        fcntl.flock(root, fcntl.LOCK_EX)
        if not (entry / ONNX_FILE).is_file():
            _export_to(entry, cache_root, model_dir)
    finally:
        os.close(root)  # releases the lock
    return entry / ONNX_FILE


def _export_to(entry: Path, cache_root: Path, model_dir: Path) -> None:
    try:
        scratch = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=cache_root))
    except OSError as error:
        raise _unwritable(cache_root, error) from error
    try:
        _export_into(scratch, model_dir)
        _publish(scratch, entry)
    except EncoderExportError:
        raise
    except Exception as error:  # the exporter raises anything from RuntimeError to ImportError
        raise EncoderExportError(
            f"exporting {model_dir} to ONNX failed ({type(error).__name__}: {error}); "
            "set NEWSREC_ENCODER_BACKEND=torch to encode with torch instead"
        ) from error
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _unwritable(cache_root: Path, error: OSError) -> EncoderExportError:
    return EncoderExportError(
        f"cannot write the ONNX cache {cache_root}: {error.strerror or error}; "
        "set NEWSREC_ONNX_CACHE_DIR to a writable directory or NEWSREC_ENCODER_BACKEND=torch"
    )


def _publish(scratch: Path, entry: Path) -> None:
    """fsync the files, then rename the directory into place in one step."""
    scratch.chmod(0o755)  # mkdtemp's 0700 would hide a shared cache from other users
    for path in scratch.iterdir():
        with path.open("rb") as stream:
            os.fsync(stream.fileno())
    try:
        os.replace(scratch, entry)
    except OSError:
        # Another process published the same version first; its export is as good as ours.
        if not (entry / ONNX_FILE).is_file():
            raise
    descriptor = os.open(entry.parent, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _export_into(directory: Path, model_dir: Path) -> None:
    keep_model_libraries_offline()
    try:
        import torch
        import transformers
    except ImportError as error:
        raise EncoderExportError(
            "exporting the model to ONNX needs torch and transformers: run "
            "`pip install torch==2.13.0` and then `pip install -e '.[model,onnx]'`"
        ) from error
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    transformer = transformers.AutoModel.from_pretrained(str(model_dir), local_files_only=True)
    transformer.eval()

    class _Hidden(torch.nn.Module):
        """The three BERT inputs in, the last hidden state out: what the exporter traces."""

        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.transformer(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
                return_dict=True,
            ).last_hidden_state

    module = _Hidden().eval()
    sample = _check_batch(model_dir)
    # Traced on a padded batch: traced on one unpadded text, a "mask is all ones" shortcut in
    # the attention code could be frozen into the graph and padding would then be attended.
    traced = _check_batch(model_dir, _CHECK_TEXTS[:2])
    path = directory / ONNX_FILE
    axes = {name: {0: "batch", 1: "tokens"} for name in [*INPUT_NAMES, "last_hidden_state"]}
    # The TorchScript exporter warns about its own deprecation and about traced branches; the
    # check below is what says whether the graph is right, so the warnings are not shown.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            tuple(torch.from_numpy(traced[name]) for name in INPUT_NAMES),
            str(path),
            input_names=list(INPUT_NAMES),
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
        expected = module(*(torch.from_numpy(sample[name]) for name in INPUT_NAMES)).numpy()
    cosine = _check_export(path, sample, expected)
    (directory / "export.json").write_text(
        json.dumps(
            {
                "source": str(model_dir),
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "opset": OPSET,
                "format": EXPORT_FORMAT,
                "lowest_cosine_to_torch": cosine,
            },
            indent=2,
        ),
        encoding="utf-8",
    )


def _check_batch(model_dir: Path, texts: tuple[str, ...] = _CHECK_TEXTS) -> dict[str, np.ndarray]:
    """Texts tokenised as the embedder will: 256 tokens at most, padded together."""
    return padded_batch(load_tokenizer(model_dir).encode_batch(list(texts)))


def _check_export(path: Path, sample: dict[str, np.ndarray], expected: np.ndarray) -> float:
    """Lowest cosine of the exported model's pooled vectors to torch's; refuse it below 0.9999."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (hidden,) = session.run(["last_hidden_state"], sample)
    mask = sample["attention_mask"]
    cosine = float((mean_pooled(hidden, mask) * mean_pooled(expected, mask)).sum(axis=1).min())
    if not cosine >= _CHECK_COSINE:
        raise EncoderExportError(
            f"the ONNX export does not reproduce torch (lowest cosine {cosine:.5f} < "
            f"{_CHECK_COSINE}); set NEWSREC_ENCODER_BACKEND=torch"
        )
    return cosine
