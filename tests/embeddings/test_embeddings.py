"""The embedding stage: the hashing embedder's contract and the lazy model import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from embeddings import Embedder, HashingEmbedder, l2_normalise

TEXTS = [
    "Ministers sign a security cooperation pact in the capital",
    "The security pact covers border patrols and intelligence sharing",
    "Local football club wins the regional cup after extra time",
]


def _run_python(code: str, **env: str) -> str:
    """Run `code` in a fresh interpreter (so sys.modules starts clean); return its stdout."""
    completed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
        timeout=120,
    )
    return completed.stdout


def test_hashing_embedder_meets_the_embedder_protocol() -> None:
    assert isinstance(HashingEmbedder(), Embedder)


def test_encode_returns_unit_norm_float32_rows() -> None:
    embedder = HashingEmbedder(dimension=64)

    vectors = embedder.encode(TEXTS)

    assert vectors.shape == (len(TEXTS), 64)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)


def test_encode_is_deterministic_across_calls_and_instances() -> None:
    first = HashingEmbedder(dimension=128).encode(TEXTS)
    again = HashingEmbedder(dimension=128).encode(TEXTS)
    one_by_one = np.vstack([HashingEmbedder(dimension=128).encode([text]) for text in TEXTS])

    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, one_by_one)


def test_encode_is_deterministic_across_processes() -> None:
    # Stored vectors are reused by later runs, so the hash must not be salted per process.
    code = (
        "import json; from embeddings import HashingEmbedder; "
        f"print(json.dumps(HashingEmbedder(dimension=32).encode({TEXTS!r}).tolist()))"
    )
    one = np.asarray(json.loads(_run_python(code, PYTHONHASHSEED="1")), dtype=np.float32)
    two = np.asarray(json.loads(_run_python(code, PYTHONHASHSEED="2")), dtype=np.float32)
    here = HashingEmbedder(dimension=32).encode(TEXTS)

    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(one, here)


@pytest.mark.parametrize("text", ["", "   ", "!!! ... ---"])
def test_text_without_words_gives_a_zero_row_not_nan(text: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a 0/0 division would warn before giving NaN
        vectors = HashingEmbedder(dimension=32).encode([text, "some words"])

    assert not np.isnan(vectors).any()
    np.testing.assert_array_equal(vectors[0], np.zeros(32, dtype=np.float32))
    assert np.linalg.norm(vectors[1]) == pytest.approx(1.0, abs=1e-6)


def test_encode_of_no_texts_has_the_right_shape() -> None:
    vectors = HashingEmbedder(dimension=16).encode([])

    assert vectors.shape == (0, 16)
    assert vectors.dtype == np.float32


def test_texts_sharing_words_have_positive_cosine_and_more_sharing_ranks_higher() -> None:
    embedder = HashingEmbedder(dimension=256)
    query, shares_three, shares_one = embedder.encode(
        [
            "harbour crane strike halts shipping",
            "crane strike halts the harbour again",
            "shipping prices in the spring",
        ]
    )

    assert float(query @ shares_three) > 0.0
    assert float(query @ shares_one) > 0.0
    assert float(query @ shares_three) > float(query @ shares_one)


def test_encode_ignores_case_and_punctuation() -> None:
    embedder = HashingEmbedder(dimension=64)
    plain, shouted = embedder.encode(["storm hits the coast", "STORM hits, the coast!"])

    np.testing.assert_allclose(plain, shouted, atol=1e-7)


def test_encode_reports_progress_with_the_number_of_texts() -> None:
    seen: list[int] = []

    HashingEmbedder(dimension=16).encode(TEXTS, progress=seen.append)

    assert sum(seen) == len(TEXTS)


def test_name_identifies_the_dimension() -> None:
    # The index refuses another embedder by name, so two dimensions must not share one.
    assert HashingEmbedder(dimension=64).name != HashingEmbedder(dimension=128).name
    assert HashingEmbedder(dimension=64).dimension == 64


def test_too_small_dimension_is_rejected_with_the_value() -> None:
    with pytest.raises(ValueError, match="4"):
        HashingEmbedder(dimension=4)


def test_l2_normalise_scales_rows_to_unit_length() -> None:
    vectors = np.array([[3.0, 4.0], [0.0, -2.0], [1.0, 1.0]], dtype=np.float64)

    normalised = l2_normalise(vectors)

    assert normalised.dtype == np.float32
    np.testing.assert_allclose(normalised, [[0.6, 0.8], [0.0, -1.0], [2**-0.5, 2**-0.5]], atol=1e-6)


def test_l2_normalise_keeps_a_zero_row_zero_without_warnings() -> None:
    vectors = np.array([[0.0, 0.0, 0.0], [0.0, 2.0, 0.0]], dtype=np.float32)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        normalised = l2_normalise(vectors)

    np.testing.assert_array_equal(normalised, [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def test_l2_normalise_is_idempotent_on_random_rows() -> None:
    rows = np.random.default_rng(7).normal(size=(20, 12)).astype(np.float32)

    once = l2_normalise(rows)

    np.testing.assert_allclose(np.linalg.norm(once, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(l2_normalise(once), once, atol=1e-7)


def test_importing_embeddings_does_not_import_torch() -> None:
    heavy = ["torch", "sentence_transformers", "transformers"]
    code = (
        "import json, sys; import embeddings; "
        "from embeddings import HashingEmbedder; HashingEmbedder().encode(['a b c']); "
        f"print(json.dumps([name for name in {heavy!r} if name in sys.modules]))"
    )

    assert json.loads(_run_python(code)) == []
