"""The lexical side's document-frequency cut-off (`NEWSREC_LEXICAL_MAX_DF`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from pydantic import ValidationError

from embeddings import HashingEmbedder
from recommender import ArticleIndex, Recommender, Settings
from recommender.index.lexical import (
    MAX_DF_MIN_DOCUMENTS,
    LexicalIndex,
    inverse_document_frequency,
    term_vectors,
)
from recommender.system import build_recommender, open_index
from tests.conftest import make_article


def _corpus(size: int) -> list[str]:
    """`size` texts that all say "parliament"; texts 0 and 1 share nothing else, 2 and 3
    share "glacier" (found in two texts only), the rest have words of their own."""
    texts = [f"parliament unique{i}a unique{i}b unique{i}c" for i in range(size)]
    texts[2] += " glacier"
    texts[3] += " glacier"
    return texts


def test_a_term_in_more_than_the_share_is_dropped_and_one_at_it_kept() -> None:
    frequency = np.asarray([0, 1, 20, 21, 200])
    idf = inverse_document_frequency(frequency, 200, max_df=0.1, min_documents=5)
    assert idf[:3].min() > 0.0  # 20 of 200 articles is the share itself: kept
    assert idf[3] == idf[4] == 0.0
    # Off, the smoothed idf of every term.
    expected = np.log(201 / (1 + frequency)) + 1
    assert inverse_document_frequency(frequency, 200) == pytest.approx(expected, rel=1e-6)


def test_the_share_never_cuts_under_the_minimum_count() -> None:
    frequency = np.asarray([3, 11, 12])
    idf = inverse_document_frequency(frequency, 12, max_df=0.05, min_documents=11)
    assert idf[:2].min() > 0.0  # 0.05 of 12 articles is under one: the count of 11 holds
    assert idf[2] == 0.0


def test_a_common_term_no_longer_relates_articles_in_a_large_index() -> None:
    size = MAX_DF_MIN_DOCUMENTS + 50
    texts = _corpus(size)
    kept = LexicalIndex(np.arange(size), term_vectors(texts))
    cut = LexicalIndex(np.arange(size), term_vectors(texts), max_df=0.5)
    # Without the cut-off, a word of every article relates 0 and 1; with it, nothing does.
    assert kept.scores(kept.query_of(0), np.asarray([1]))[0] > 0.0
    assert cut.scores(cut.query_of(0), np.asarray([1]))[0] == 0.0
    # A rare shared word still relates 2 and 3.
    assert cut.scores(cut.query_of(2), np.asarray([3]))[0] > 0.0
    # The dropped term is gone from the vector, and from a text's query.
    assert cut.query_of(0).nnz == kept.query_of(0).nnz - 1
    assert cut.query_for_text("parliament unique0a").nnz == 1
    found, _ = cut.search(cut.query_of(2), 5)
    assert found.tolist() == [2, 3]


def test_a_small_index_keeps_its_terms() -> None:
    texts = _corpus(12)
    kept = LexicalIndex(np.arange(12), term_vectors(texts))
    cut = LexicalIndex(np.arange(12), term_vectors(texts), max_df=0.05)
    everyone = np.arange(12)
    for row in (0, 2):
        assert cut.scores(cut.query_of(row), everyone) == pytest.approx(
            kept.scores(kept.query_of(row), everyone)
        )


def test_the_cut_off_follows_the_index_as_it_grows() -> None:
    size = MAX_DF_MIN_DOCUMENTS + 50
    texts = _corpus(size)
    index = LexicalIndex(np.arange(12), term_vectors(texts[:12]), max_df=0.5)
    assert index.scores(index.query_of(0), np.asarray([1]))[0] > 0.0
    index.upsert(np.arange(12, size), term_vectors(texts[12:]))
    assert index.scores(index.query_of(0), np.asarray([1]))[0] == 0.0


def test_a_share_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_df"):
        LexicalIndex(np.arange(2), term_vectors(["a b", "c d"]), max_df=0.0)
    with pytest.raises(ValidationError):
        Settings(lexical_max_df=1.5)


def _filled(index: ArticleIndex, size: int) -> ArticleIndex:
    texts = _corpus(size)
    index.upsert([make_article(f"a{i}", f"Report {i}", text) for i, text in enumerate(texts)])
    return index


def test_the_setting_reaches_the_ranking_and_its_signature(
    tmp_path, embedder: HashingEmbedder
) -> None:
    size = MAX_DF_MIN_DOCUMENTS + 50
    plain = Settings(index_dir=tmp_path / "plain", embedder="hashing")
    cut = plain.model_copy(update={"index_dir": tmp_path / "cut", "lexical_max_df": 0.5})
    signatures, scores = [], []
    for settings in (plain, cut):
        with _filled(open_index(settings, writable=True, embedder=embedder), size) as index:
            assert index.lexical.max_df == settings.lexical_max_df
            recommender = build_recommender(settings, index)
            signatures.append(recommender.list_signature)
            first, second = index.row_id("a0"), index.row_id("a1")
            query = index.lexical.query_of(first)
            scores.append(index.lexical.scores(query, np.asarray([second]))[0])
    assert scores[0] > 0.0 == scores[1]
    # Lists ranked with another cut-off are not read; lists kept before the setting are.
    assert "lexical_max_df=0.5" in signatures[1]
    assert signatures[0] == signatures[1].replace(" lexical_max_df=0.5", "")
    assert "lexical_max_df" not in signatures[0]


def test_the_environment_variable_sets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSREC_LEXICAL_MAX_DF", "0.05")
    assert Settings().lexical_max_df == 0.05


def test_stored_lists_follow_the_cut_off(
    open_test_index: Callable[..., ArticleIndex],
) -> None:
    size = MAX_DF_MIN_DOCUMENTS + 50
    index = _filled(open_test_index(lexical_max_df=0.5), size)
    recommender = Recommender(index)
    assert "lexical_max_df=0.5" in recommender.scoring
    assert recommender.scoring.startswith(repr(recommender.ranking))
