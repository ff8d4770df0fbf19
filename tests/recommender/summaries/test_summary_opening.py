"""A summary opens with a sentence that stands on its own, not one leaning on an earlier."""

from __future__ import annotations

import json

import pytest

from recommender.summaries.back_reference import leans_on_earlier
from recommender.summaries.sentences import Sentence, split_sentences
from recommender.summaries.summary import Summarizer, select
from tests.conftest import SEEDS_DIR

EARLIER = ["Brannvik won the renovation with a bid below the roads agency's own estimate."]


@pytest.mark.parametrize(
    "sentence",
    [
        "The agency, under pressure from the finance ministry, awarded points for price.",
        "It was about a system that made his choices almost rational.",
        "They deserved that moment.",
        "But anyone who followed the trial closely should be uneasy.",
        "That is true, and it is right that he answers for it.",
        "However, the renovation went ahead.",
    ],
)
def test_references_back_and_connectives_lean_on_earlier_sentences(sentence: str) -> None:
    assert leans_on_earlier(sentence, EARLIER)


@pytest.mark.parametrize(
    "sentence",
    [
        "Brannvik Construction won the renovation of the Saltvik bridge in 2019.",
        "The European Union fined the company on Tuesday.",  # a name, not a reference
        "The storm flooded three villages overnight.",  # "storm" was not named before
        "On Monday an Orsund court sent Henrik Salo to prison for four years.",
    ],
)
def test_sentences_that_introduce_their_subject_stand_alone(sentence: str) -> None:
    assert not leans_on_earlier(sentence, EARLIER)


def _sentences(*texts: str) -> list[Sentence]:
    return split_sentences(" ".join(texts))


def test_a_leaning_opening_gives_way_to_the_best_candidate_left() -> None:
    split = _sentences(
        "Brannvik won the bridge renovation with a bid far below the roads agency's estimate.",
        "The agency, under pressure from the ministry, awarded points for price alone.",
        "Penalties of 400,000 crowns applied for every single week of delay.",
        "Engineers warned twice that the old piers could not carry the new deck.",
    )
    scores = [0.1, 0.9, 0.8, 0.5]

    assert select(split, scores, 2) == [2, 3]  # not [1, 2]: sentence 1 leans on sentence 0
    assert select(split, scores, 3) == [0, 1, 2]  # the opening already stands alone


def test_with_no_standalone_candidate_left_the_choice_is_kept() -> None:
    split = _sentences(
        "Consider the contract.",  # too short to be a candidate
        "The contract imposed penalties of 400,000 crowns for every week of delay.",
        "It made a manager who halts the job to wait lose money.",
        "They called it the price of speed in public works.",
    )
    assert select(split, [0.0, 0.9, 0.8, 0.5], 2) == [1, 2]


def test_no_seed_summary_opens_leaning_on_an_earlier_sentence() -> None:
    summarizer = Summarizer()
    opened_leaning = []
    with (SEEDS_DIR / "articles.jsonl").open(encoding="utf-8") as rows:
        for row in map(json.loads, rows):
            if not row.get("body"):
                continue
            texts = [sentence.text for sentence in split_sentences(row["body"])]
            first = summarizer.summarize(row["title"], row["body"]).positions[0]
            if first > 0 and leans_on_earlier(texts[first], texts[:first]):
                opened_leaning.append(row["id"])
    assert opened_leaning == []


def test_the_opinion_piece_opens_with_the_sentence_that_names_the_agency() -> None:
    with (SEEDS_DIR / "articles.jsonl").open(encoding="utf-8") as rows:
        row = next(r for r in map(json.loads, rows) if r["id"] == "cri-saltvik-03")
    summary = Summarizer().summarize(row["title"], row["body"])
    assert summary.sentences[0].startswith("Brannvik won the renovation")
    assert not summary.sentences[0].startswith("The agency")
