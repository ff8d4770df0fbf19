"""Near-duplicate detection: MinHash signatures of word 3-shingles.

A near-duplicate is (nearly) the same text: a wire story republished by another outlet, or an
updated version of an article. Two reports of the same story share words but few 3-word
sequences, so shingle overlap separates the two cases better than embedding cosine does.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np

SIGNATURE_SIZE = 64
_SHINGLE_WORDS = 3
_PRIME = np.uint64(4_294_967_311)  # the first prime above 2**32
_WORD = re.compile(r"\w+", re.UNICODE)
_GROUP = 256

# Fixed seeds: signatures are stored on disk and must be comparable across runs.
_generator = np.random.default_rng(20_251_128)
_A = _generator.integers(1, 2**31 - 1, size=SIGNATURE_SIZE, dtype=np.uint64)
_B = _generator.integers(0, 2**31 - 1, size=SIGNATURE_SIZE, dtype=np.uint64)


def text_signature(text: str) -> np.ndarray:
    """MinHash signature of a text: (SIGNATURE_SIZE,) uint32."""
    return text_signatures([text])[0]


def text_signatures(texts: Sequence[str]) -> np.ndarray:
    """MinHash signatures of many texts: (len(texts), SIGNATURE_SIZE) uint32.

    Texts are hashed in groups so the permutations run as a few large numpy operations
    rather than many tiny ones.
    """
    signatures = np.zeros((len(texts), SIGNATURE_SIZE), dtype=np.uint32)
    for start in range(0, len(texts), _GROUP):
        group = [_shingle_hashes(text) for text in texts[start : start + _GROUP]]
        offsets = np.cumsum([0] + [len(hashes) for hashes in group[:-1]])
        hashes = np.concatenate(group)
        # a < 2**31 and hash < 2**32, so a * hash + b stays below 2**64: no overflow.
        permuted = (_A[:, None] * hashes[None, :] + _B[:, None]) % _PRIME
        signatures[start : start + len(group)] = np.minimum.reduceat(permuted, offsets, axis=1).T
    return signatures


def _shingle_hashes(text: str) -> np.ndarray:
    """crc32 of each distinct word 3-shingle (the whole text when it is shorter)."""
    words = [word.lower() for word in _WORD.findall(text)]
    if len(words) >= _SHINGLE_WORDS:
        shingles = {
            " ".join(words[i : i + _SHINGLE_WORDS]) for i in range(len(words) - _SHINGLE_WORDS + 1)
        }
    else:
        shingles = {" ".join(words)}
    return np.fromiter(
        (zlib.crc32(shingle.encode("utf-8")) for shingle in shingles),
        dtype=np.uint64,
        count=len(shingles),
    )


def estimated_similarity(signature: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity of shingle sets.

    signature: (SIGNATURE_SIZE,); others: (m, SIGNATURE_SIZE) -> (m,) float
    """
    return np.asarray((others == signature[None, :]).mean(axis=1), dtype=np.float64)
