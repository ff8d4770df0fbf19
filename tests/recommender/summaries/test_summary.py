"""Sentence splitting, sentence scoring and the summary cache (hashing embedder, no model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embeddings import HashingEmbedder
from recommender import InvalidInputError
from recommender.summaries.cache import CACHE_FILE, SummaryCache
from recommender.summaries.sentences import dateline_of, split_sentences
from recommender.summaries.summary import (
    METHODS,
    Summarizer,
    centroid_scores,
    select,
    textrank_scores,
    tfidf_vectors,
)
from tests.conftest import MODEL_INSTALLED, SEEDS_DIR


def _texts(body: str) -> list[str]:
    return [sentence.text for sentence in split_sentences(body)]


# -- splitting -----------------------------------------------------------------------------


def test_abbreviations_titles_and_initials_do_not_end_sentences() -> None:
    body = (
        "Mr. Smith met Gen. Ortiz and Dr. Patel in St. Louis. John F. Kennedy was quoted. "
        "Prices rose 3.5 per cent on Jan. 5 at No. 10. Then talks ended."
    )
    assert _texts(body) == [
        "Mr. Smith met Gen. Ortiz and Dr. Patel in St. Louis.",
        "John F. Kennedy was quoted.",
        "Prices rose 3.5 per cent on Jan. 5 at No. 10.",
        "Then talks ended.",
    ]


def test_initialisms_end_a_sentence_only_before_a_sentence_opener() -> None:
    body = "The U.S. Army arrived. Talks moved to the U.S. The envoy left. Apple Inc. said no."
    assert _texts(body) == [
        "The U.S. Army arrived.",
        "Talks moved to the U.S.",
        "The envoy left.",
        "Apple Inc. said no.",
    ]


def test_quotes_close_with_their_sentence() -> None:
    body = (
        '"We will win," he said. "Is it over?" she asked. He added: "It is done." '
        "Officials agreed. \u201cNever again.\u201d The crowd left!"
    )
    assert _texts(body) == [
        '"We will win," he said.',
        '"Is it over?" she asked.',
        'He added: "It is done."',
        "Officials agreed.",
        "\u201cNever again.\u201d",
        "The crowd left!",
    ]


@pytest.mark.parametrize(
    ("opening", "dateline"),
    [
        ("TRIPOLI, March 3 (Reuters) - ", "TRIPOLI, March 3 (Reuters)"),
        ("LONDON \u2014 ", "LONDON"),
        ("NEW YORK, Jan. 5, 2025 (AP) \u2014 ", "NEW YORK, Jan. 5, 2025 (AP)"),
        ("BENGHAZI, Libya, March 3 (Reuters) \u2013 ", "BENGHAZI, Libya, March 3 (Reuters)"),
        ("WASHINGTON (AP) -- ", "WASHINGTON (AP)"),
    ],
)
def test_a_dateline_is_not_part_of_the_first_sentence(opening: str, dateline: str) -> None:
    body = f"{opening}Rebels advanced on the city. They met no resistance."
    assert dateline_of(body) == dateline
    assert _texts(body) == ["Rebels advanced on the city.", "They met no resistance."]


def test_ordinary_openings_are_not_datelines() -> None:
    for body in ("A delegation arrived. It left.", "US officials said so. Then left."):
        assert dateline_of(body) is None
        assert _texts(body)[0] == body.split(". ")[0] + "."


def test_paragraph_breaks_end_sentences_and_are_counted() -> None:
    found = split_sentences("A headline-like line\n\nFirst sentence here. Second one.\nThird")
    assert [(s.text, s.paragraph) for s in found] == [
        ("A headline-like line", 0),
        ("First sentence here.", 1),
        ("Second one.", 1),
        ("Third", 2),
    ]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('abc XYZ.,!?"\n\u201d-\u2014()5')), max_size=200))
def test_sentences_are_verbatim_ordered_spans(body: str) -> None:
    previous_end = 0
    for sentence in split_sentences(body):
        assert sentence.text == body[sentence.start : sentence.end]
        assert sentence.text == sentence.text.strip() and sentence.text
        assert "\n" not in sentence.text
        assert sentence.start >= previous_end
        previous_end = sentence.end


def test_seed_articles_split_into_reasonable_sentences() -> None:
    rows = [json.loads(line) for line in (SEEDS_DIR / "articles.jsonl").open()]
    counts = []
    for row in rows:
        found = split_sentences(row["body"])
        counts.append(len(found))
        assert all(row["body"][s.start : s.end] == s.text for s in found)
        # No sentence is cut after a title or inside an initialism.
        assert not any(s.text.endswith((" Mr.", " Dr.", " Gen.")) for s in found)
    assert 15 <= np.mean(counts) <= 30


# -- scoring -------------------------------------------------------------------------------


def test_centroid_scores_are_cosines_with_the_normalised_sum() -> None:
    vectors = np.asarray([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    title = np.asarray([1.0, 0.0])
    scores = centroid_scores(vectors, title)
    expected = vectors @ (np.asarray([3.0, 1.0]) / np.sqrt(10.0))
    np.testing.assert_allclose(scores, expected)


def test_textrank_matches_pagerank_by_hand_on_a_star() -> None:
    # Three sentences linked only to the middle one: it collects all the votes.
    vectors = np.asarray([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.0, 1.0, 0.0]])
    rank = textrank_scores(vectors)
    assert rank.sum() == pytest.approx(1.0)
    assert np.argmax(rank) == 1
    # By hand: the middle's weights to the ends are 0.6 and 0.8; each end sends it all.
    # r1 = 0.05 + 0.85 (r0 + r2), r0 = 0.05 + 0.85 * 0.6/1.4 r1, r2 = 0.05 + 0.85 * 0.8/1.4 r1
    r1 = (0.05 + 0.85 * 0.1) / (1 - 0.85**2)
    assert rank[1] == pytest.approx(r1, rel=1e-6)
    assert rank[0] == pytest.approx(0.05 + 0.85 * 0.6 / 1.4 * r1, rel=1e-6)


def test_tfidf_vectors_are_unit_rows_over_content_words() -> None:
    vectors = tfidf_vectors(["Rebels took the port.", "The port reopened.", "the of and"]).toarray()
    np.testing.assert_allclose(np.linalg.norm(vectors[:2], axis=1), 1.0)
    assert not vectors[2].any()  # stop words only
    assert vectors[0] @ vectors[1] > 0


BODY = (
    "Flood waters rose across the valley on Monday. "
    "Officials ordered villages near the river to evacuate as the flood spread. "
    "A local bakery celebrated its hundredth birthday with cake. "
    "Rescue teams moved families from flooded river villages by boat. "
    "The weather elsewhere was mild and sunny for the season. "
    "The river flood is expected to peak on Wednesday, officials said."
)


@pytest.mark.parametrize("method", [m for m in METHODS if m != "lead"])
def test_central_sentences_beat_the_off_topic_ones(method: str) -> None:
    summary = Summarizer(HashingEmbedder(256), method).summarize("River flood", BODY, 3)
    assert len(summary.sentences) == 3
    assert "bakery" not in " ".join(summary.sentences)
    assert "weather" not in " ".join(summary.sentences)
    assert list(summary.positions) == sorted(summary.positions)
    assert all(sentence in BODY for sentence in summary.sentences)


def test_lead_is_the_first_sentences() -> None:
    summary = Summarizer(method="lead").summarize("t", BODY, 2)
    assert summary.positions == (0, 1)


def test_short_fragments_are_not_candidates_unless_nothing_else_is() -> None:
    split = split_sentences("It hurts. A much longer sentence about the final result today.")
    assert select(split, [5.0, 1.0], 1) == [1]
    assert select(split_sentences("Yes. No."), [1.0, 2.0], 1) == [1]


def test_more_sentences_than_the_body_has_gives_them_all() -> None:
    summary = Summarizer().summarize("t", "One short body sentence here today.", 5)
    assert summary.sentences == ("One short body sentence here today.",)
    assert Summarizer().summarize("t", "", 3).sentences == ()


@pytest.mark.parametrize("count", [0, 21, -1])
def test_sentence_count_out_of_bounds(count: int) -> None:
    with pytest.raises(InvalidInputError, match="sentences must be between 1 and 20"):
        Summarizer().summarize("t", BODY, count)


def test_unknown_method_names_the_valid_ones() -> None:
    with pytest.raises(InvalidInputError, match="tfidf-centroid"):
        Summarizer(method="magic")
    with pytest.raises(InvalidInputError, match="needs an embedder"):
        Summarizer(method="dense-centroid")


class _Counting(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__(64)
        self.texts: list[str] = []

    def encode(self, texts, *, progress=None):  # type: ignore[no-untyped-def]
        self.texts.extend(texts)
        return super().encode(texts, progress=progress)


def test_dense_scoring_encodes_each_distinct_sentence_once() -> None:
    embedder = _Counting()
    body = "The same sentence is here. The same sentence is here. Another one entirely now."
    Summarizer(embedder, "dense-centroid").summarize("Title", body, 1)
    assert sorted(embedder.texts) == sorted(
        ["Title", "The same sentence is here.", "Another one entirely now."]
    )


# -- cache ---------------------------------------------------------------------------------


def test_scores_are_cached_by_content_hash_and_serve_every_count(tmp_path: Path) -> None:
    embedder = _Counting()
    cache = SummaryCache.in_directory(tmp_path)
    summarizer = Summarizer(embedder, "dense-centroid", cache)
    first = summarizer.summarize("River flood", BODY, 3, content_key="hash-1")
    encoded = len(embedder.texts)
    assert summarizer.summarize("River flood", BODY, 3, content_key="hash-1") == first
    assert len(summarizer.summarize("River flood", BODY, 5, content_key="hash-1").sentences) == 5
    assert len(embedder.texts) == encoded  # served from the cached scores
    cache.close()

    # A new process reads the file; another embedder or method has its own entries.
    reopened = SummaryCache.in_directory(tmp_path)
    again = Summarizer(_Counting(), "dense-centroid", reopened)
    assert again.summarize("River flood", BODY, 3, content_key="hash-1") == first
    assert reopened.get("hash-1", Summarizer(method="tfidf-centroid").cache_method) is None
    assert (tmp_path / CACHE_FILE).is_file()
    reopened.close()


def test_a_cache_that_cannot_be_opened_falls_back_to_memory(tmp_path: Path) -> None:
    cache = SummaryCache(tmp_path / "missing-directory" / CACHE_FILE)
    cache.put("h", "m", [1.0, 2.0])
    assert cache.get("h", "m") == [1.0, 2.0]
    assert len(cache) == 1


@pytest.mark.model
@pytest.mark.skipif(not MODEL_INSTALLED, reason="the packaged MiniLM model is not installed")
def test_dense_summary_with_the_real_model() -> None:
    from embeddings import MiniLMEmbedder

    rows = [json.loads(line) for line in (SEEDS_DIR / "articles.jsonl").open()]
    row = rows[0]
    summary = Summarizer(MiniLMEmbedder(), "dense-centroid").summarize(row["title"], row["body"], 3)
    assert len(summary.sentences) == 3
    assert all(sentence in row["body"] for sentence in summary.sentences)
    assert list(summary.positions) == sorted(summary.positions)


def test_the_cache_file_keeps_the_newest_entries_within_its_bound(tmp_path: Path) -> None:
    first = SummaryCache(tmp_path / CACHE_FILE, max_rows=3)
    for number in range(5):
        first.put(f"h{number}", "m", [float(number)])
    first.close()
    second = SummaryCache(tmp_path / CACHE_FILE, max_rows=3)
    second.put("h5", "m", [5.0])  # a process's first write prunes
    assert len(second) == 3
    assert [second.get(f"h{n}", "m") for n in (3, 4, 5)] == [[3.0], [4.0], [5.0]]
    second.close()
    assert SummaryCache(tmp_path / CACHE_FILE).get("h0", "m") is None


def test_tfidf_vectors_hold_only_the_words_each_sentence_has() -> None:
    # Sparse: 4,000 short sentences of distinct words once made a dense 4,000 x 12,000 matrix.
    sentences = [f"word{3 * i} word{3 * i + 1} word{3 * i + 2}." for i in range(4000)]
    vectors = tfidf_vectors(sentences)
    assert vectors.shape == (4000, 12000)
    assert vectors.nnz == 12000
    np.testing.assert_allclose(np.sqrt(vectors.multiply(vectors).sum(axis=1)).A1, 1.0)
