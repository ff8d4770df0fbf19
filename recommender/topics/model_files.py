"""A topic model on disk: plain .npy arrays plus a JSON manifest, never a pickle.

    <dir>/newsrec-topic-model.json    format, kind, labels, embedder, arrays and their SHA-256
    <dir>/newsrec-topic-<name>.npy    one file per array (allow_pickle=False both ways)

Each array is written to a temporary file, fsynced and published with `os.replace`; the
manifest goes last and records every array's SHA-256, so a crash part-way through a save
(new arrays, old manifest) is caught on load rather than silently mixing two models.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recommender.index.publish import publish_file, write_json_atomically
from recommender.topics.errors import InvalidTopicModelError, TopicModelMismatchError

MODEL_FORMAT = "newsrec-topic-model"
FORMAT_VERSION = 1
MANIFEST_FILE = "newsrec-topic-model.json"
_ARRAY_PREFIX = "newsrec-topic-"


@dataclass(frozen=True)
class StoredModel:
    """What a model directory holds once read back and verified."""

    kind: str
    labels: tuple[str, ...]
    embedder_name: str
    dimension: int
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]


def save_model(
    directory: Path,
    *,
    kind: str,
    labels: tuple[str, ...],
    embedder_name: str,
    dimension: int,
    arrays: dict[str, np.ndarray],
    meta: dict[str, Any],
) -> None:
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InvalidTopicModelError(f"{directory}: cannot create ({error.strerror})") from None
    digests = {}
    for name, array in arrays.items():
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
        data = buffer.getvalue()
        final = directory / f"{_ARRAY_PREFIX}{name}.npy"
        temporary = directory / f".{final.name}.tmp"
        with temporary.open("wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        publish_file(temporary, final)
        digests[name] = hashlib.sha256(data).hexdigest()
    write_json_atomically(
        directory / MANIFEST_FILE,
        {
            "format": MODEL_FORMAT,
            "format_version": FORMAT_VERSION,
            "kind": kind,
            "labels": list(labels),
            "embedder": embedder_name,
            "dimension": dimension,
            "arrays": digests,
            **meta,
        },
    )


def load_model(directory: Path) -> StoredModel:
    directory = Path(directory)
    manifest_path = directory / MANIFEST_FILE
    if not manifest_path.is_file():
        raise InvalidTopicModelError(f"{directory}: no topic model here ({MANIFEST_FILE} missing)")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InvalidTopicModelError(f"{manifest_path}: unreadable ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MODEL_FORMAT:
        raise InvalidTopicModelError(f"{manifest_path}: not a newsrec topic model")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise InvalidTopicModelError(
            f"{manifest_path}: format version {manifest.get('format_version')} is not the "
            f"supported version {FORMAT_VERSION}; train the model again"
        )
    labels = manifest.get("labels")
    digests = manifest.get("arrays")
    if (
        not isinstance(labels, list)
        or not labels
        or not all(isinstance(label, str) for label in labels)
        or not isinstance(manifest.get("kind"), str)
        or not isinstance(manifest.get("embedder"), str)
        or not isinstance(manifest.get("dimension"), int)
        or not isinstance(digests, dict)
    ):
        raise InvalidTopicModelError(f"{manifest_path}: incomplete manifest")
    arrays = {name: _read_array(directory, name, digest) for name, digest in digests.items()}
    reserved = {"format", "format_version", "kind", "labels", "embedder", "dimension", "arrays"}
    return StoredModel(
        kind=manifest["kind"],
        labels=tuple(labels),
        embedder_name=manifest["embedder"],
        dimension=manifest["dimension"],
        meta={key: value for key, value in manifest.items() if key not in reserved},
        arrays=arrays,
    )


def check_embedder(
    directory: Path, stored: StoredModel, embedder_name: str | None, dimension: int | None
) -> None:
    """Refuse a model whose vectors came from another embedder than the one in use."""
    if embedder_name is None and dimension is None:
        return
    if (embedder_name is not None and stored.embedder_name != embedder_name) or (
        dimension is not None and stored.dimension != dimension
    ):
        raise TopicModelMismatchError(
            f"topic model in {directory} was trained on embedder {stored.embedder_name!r} "
            f"({stored.dimension} dimensions), not {embedder_name!r} ({dimension}); "
            "train it again with the embedder in use"
        )


def _read_array(directory: Path, name: str, digest: Any) -> np.ndarray:
    path = directory / f"{_ARRAY_PREFIX}{name}.npy"
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InvalidTopicModelError(f"{path}: cannot read ({error.strerror})") from None
    if hashlib.sha256(data).hexdigest() != digest:
        raise InvalidTopicModelError(
            f"{path}: does not match the model manifest (an interrupted save?); save it again"
        )
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as error:
        raise InvalidTopicModelError(f"{path}: unreadable ({error})") from None
