"""Near-duplicate fingerprints: MinHash of word 3-shingles, stored on disk, so stable."""

from __future__ import annotations

import random

import numpy as np

from recommender.index import fingerprint
from recommender.index.fingerprint import (
    SIGNATURE_SIZE,
    estimated_similarity,
    text_signature,
    text_signatures,
)


def _text(seed: int, words: int = 200, vocabulary: str = "word") -> str:
    """Sentences of random words from a large vocabulary: few repeated 3-word sequences."""
    rng = random.Random(seed)
    chosen = [f"{vocabulary}{rng.randrange(5000)}" for _ in range(words)]
    sentences = [" ".join(chosen[i : i + 10]) for i in range(0, words, 10)]
    return ". ".join(sentence.capitalize() for sentence in sentences) + "."


def _similarity(a: str, b: str) -> float:
    return float(estimated_similarity(text_signature(a), text_signature(b)[None, :])[0])


def test_identical_texts_have_similarity_one() -> None:
    text = _text(1)
    assert _similarity(text, text) == 1.0


def test_case_and_punctuation_do_not_matter() -> None:
    text = _text(2)
    shouted = text.upper().replace(".", "!")
    assert _similarity(text, shouted) == 1.0


def test_one_appended_sentence_keeps_a_200_word_text_a_near_duplicate() -> None:
    text = _text(3)
    assert len(text.split()) == 200
    updated = text + " Officials confirmed the figures late on Tuesday evening."
    assert _similarity(text, updated) >= 0.7


def test_unrelated_texts_are_far_apart() -> None:
    first = _text(4, vocabulary="harbour")
    second = _text(5, vocabulary="election")
    assert _similarity(first, second) < 0.2


def test_texts_sharing_words_but_not_sequences_are_not_near_duplicates() -> None:
    # Two reports of one story: the same vocabulary, shuffled into different sentences.
    words = _text(6).split()
    shuffled = words.copy()
    random.Random(7).shuffle(shuffled)
    assert _similarity(" ".join(words), " ".join(shuffled)) < 0.2


def test_signature_shape_dtype_and_determinism() -> None:
    text = _text(8)
    first = text_signature(text)
    second = text_signature(text)
    assert first.shape == (SIGNATURE_SIZE,)
    assert first.dtype == np.uint32
    np.testing.assert_array_equal(first, second)
    # Not a constant: another text gets another signature.
    assert not np.array_equal(first, text_signature(_text(9)))


def test_short_and_empty_texts_get_signatures() -> None:
    for text in ["", "one", "two words", "Ünïcødé  текст 東京"]:
        signature = text_signature(text)
        assert signature.shape == (SIGNATURE_SIZE,)
        assert signature.dtype == np.uint32
    assert _similarity("", "") == 1.0
    assert _similarity("two words", "Two, words!") == 1.0


def test_batched_signatures_equal_one_at_a_time() -> None:
    # More than one internal group, texts of very different lengths, empty ones included.
    texts = [_text(seed, words=1 + seed % 40) for seed in range(300)]
    texts[5] = ""
    texts[299] = "x"
    batch = text_signatures(texts)
    assert batch.shape == (len(texts), SIGNATURE_SIZE)
    assert batch.dtype == np.uint32
    for position in (0, 5, 100, 255, 256, 257, 299):
        np.testing.assert_array_equal(batch[position], text_signature(texts[position]))
    np.testing.assert_array_equal(text_signatures(texts), batch)


def test_estimated_similarity_compares_against_many() -> None:
    base = _text(10)
    others = np.stack([text_signature(base), text_signature(_text(11))])
    scores = estimated_similarity(text_signature(base), others)
    assert scores.shape == (2,)
    assert scores[0] == 1.0 and scores[1] < 0.2


def test_signatures_are_pinned_across_processes_and_versions() -> None:
    # Signatures are stored in the index: a new process, or a new version of this code,
    # must compute the same values (no salted hash(), fixed seeds). Changing them means
    # existing indexes hold incomparable fingerprints and must be rebuilt.
    signature = text_signature("The quick brown fox jumps over the lazy dog near the harbour wall.")
    assert signature[:8].tolist() == [
        721136058,
        594627503,
        7132991,
        702577261,
        801300124,
        273429421,
        94564834,
        187322794,
    ]
    assert int(signature.astype(np.uint64).sum()) == 21327029330


def test_blocked_signatures_equal_the_minhash_formula_text_by_text() -> None:
    # Blocks end at text boundaries: texts far longer than a block (5,000 distinct shingles
    # against _BLOCK_HASHES), texts that fill one exactly, and empty ones between them.
    texts = [_text(seed, words=words) for seed, words in enumerate([5002, 3, 4096, 60, 4098])]
    texts.insert(2, "")
    texts.append(_text(99, words=fingerprint._BLOCK_HASHES + 2))
    oracle = []
    for text in texts:
        hashes = fingerprint._shingle_hashes(text)
        permuted = (fingerprint._A[:, None] * hashes[None, :] + fingerprint._B[:, None]) % (
            fingerprint._PRIME
        )
        oracle.append(permuted.min(axis=1).astype(np.uint32))
    assert len(fingerprint._shingle_hashes(texts[0])) > fingerprint._BLOCK_HASHES
    np.testing.assert_array_equal(text_signatures(texts), np.stack(oracle))
    # And one text at a time (a block of its own) gives the same rows.
    for position, text in enumerate(texts):
        np.testing.assert_array_equal(text_signature(text), oracle[position])
