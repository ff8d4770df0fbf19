"""Near-duplicate detection: MinHash signatures of word 3-shingles.

A near-duplicate is (nearly) the same text: a wire story republished by another outlet, or an
updated version of an article. Two reports of the same story share words but few 3-word
sequences, so shingle overlap separates the two cases better than embedding cosine does.
"""

from __future__ import annotations

import re
import zlib

import numpy as np

SIGNATURE_SIZE = 64
_SHINGLE_WORDS = 3
_PRIME = np.uint64(4_294_967_311)  # the first prime above 2**32
_WORD = re.compile(r"\w+", re.UNICODE)

# Fixed seeds: signatures are stored on disk and must be comparable across runs.
_generator = np.random.default_rng(20_251_128)
_A = _generator.integers(1, 2**31 - 1, size=SIGNATURE_SIZE, dtype=np.uint64)
_B = _generator.integers(0, 2**31 - 1, size=SIGNATURE_SIZE, dtype=np.uint64)


def text_signature(text: str) -> np.ndarray:
    """MinHash signature of a text: (SIGNATURE_SIZE,) uint32."""
    words = [word.lower() for word in _WORD.findall(text)]
    if len(words) >= _SHINGLE_WORDS:
        shingles = {
            " ".join(words[i : i + _SHINGLE_WORDS]) for i in range(len(words) - _SHINGLE_WORDS + 1)
        }
    else:
        shingles = {" ".join(words)}
    hashes = np.fromiter(
        (zlib.crc32(shingle.encode("utf-8")) for shingle in shingles),
        dtype=np.uint64,
        count=len(shingles),
    )
    # a < 2**31 and hash < 2**32, so a * hash + b stays below 2**64: no overflow.
    permuted = (_A[:, None] * hashes[None, :] + _B[:, None]) % _PRIME
    return permuted.min(axis=1).astype(np.uint32)


def estimated_similarity(signature: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity of shingle sets.

    signature: (SIGNATURE_SIZE,); others: (m, SIGNATURE_SIZE) -> (m,) float
    """
    return np.asarray((others == signature[None, :]).mean(axis=1), dtype=np.float64)
