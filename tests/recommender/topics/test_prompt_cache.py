"""The taxonomy's prompt vectors are encoded once per cache directory, then read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recommender.settings import Settings
from recommender.system import configured_tagger
from recommender.topics import build_tagger
from recommender.topics.prompt_cache import PromptVectorCache
from tests.service_support import CountingEmbedder

PROMPTS = ["Rebels shell the capital", "Central bank raises rates", "Cup final ends in a draw"]


def test_a_second_build_reads_the_vectors_the_first_encoded(tmp_path: Path) -> None:
    first, second = CountingEmbedder(), CountingEmbedder()
    encoded = PromptVectorCache(first, tmp_path).encode(PROMPTS)
    read = PromptVectorCache(second, tmp_path).encode(PROMPTS)
    assert first.encoded == 3 and second.encoded == 0
    assert read.tobytes() == encoded.tobytes()


def test_other_prompts_or_another_embedder_are_encoded_afresh(tmp_path: Path) -> None:
    counting = CountingEmbedder()
    cache = PromptVectorCache(counting, tmp_path)
    cache.encode(PROMPTS)
    cache.encode(PROMPTS[:2])
    # Joining two texts into one must not find the pair's file.
    cache.encode([PROMPTS[0] + PROMPTS[1], PROMPTS[2]])
    assert counting.encoded == 3 + 2 + 2
    assert len(list(tmp_path.glob("*.npy"))) == 3


def test_a_torn_file_is_encoded_again_and_replaced(tmp_path: Path) -> None:
    counting = CountingEmbedder()
    PromptVectorCache(counting, tmp_path).encode(PROMPTS)
    (stored,) = tmp_path.glob("*.npy")
    stored.write_bytes(stored.read_bytes()[:100])
    vectors = PromptVectorCache(counting, tmp_path).encode(PROMPTS)
    assert counting.encoded == 6
    assert np.load(stored).tobytes() == vectors.tobytes()


def test_an_empty_file_is_encoded_again_and_replaced(tmp_path: Path) -> None:
    # A crash after the unsynced rename can leave the file empty (numpy raises EOFError).
    counting = CountingEmbedder()
    PromptVectorCache(counting, tmp_path).encode(PROMPTS)
    (stored,) = tmp_path.glob("*.npy")
    stored.write_bytes(b"")
    vectors = PromptVectorCache(counting, tmp_path).encode(PROMPTS)
    assert counting.encoded == 6
    assert np.load(stored).tobytes() == vectors.tobytes()


def test_a_cache_that_cannot_be_written_only_costs_the_encoding(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    counting = CountingEmbedder()
    vectors = PromptVectorCache(counting, blocked / "cache").encode(PROMPTS)
    assert vectors.shape == (3, 256) and counting.encoded == 3


def test_a_cached_zero_shot_tagger_tags_as_an_uncached_one(tmp_path: Path) -> None:
    texts = ["Troops and rebels fight for the airport", "The budget deficit widens again"]
    vectors = CountingEmbedder().encode(texts)
    plain = build_tagger(CountingEmbedder())
    counting = CountingEmbedder()
    build_tagger(counting, prompt_cache_dir=tmp_path)
    cached = build_tagger(counting, prompt_cache_dir=tmp_path)
    assert counting.encoded == len(plain.prompt_vectors)  # type: ignore[attr-defined]
    assert cached.tag(vectors) == plain.tag(vectors)


def test_the_configured_tagger_keeps_its_prompts_where_the_settings_say(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "index", prompt_cache_dir=tmp_path / "prompts")
    configured_tagger(settings, CountingEmbedder())
    assert len(list((tmp_path / "prompts").glob("*.npy"))) == 1
