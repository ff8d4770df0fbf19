"""Sentence splitting stays linear on adversarial bodies (issue 18, defect 5).

Time is compared as a ratio between two sizes of the same input, measured in the same run:
linear work gives a ratio near the size ratio (8), quadratic work near its square (64). The
bound sits far from both, so a busy machine cannot flip the verdict.
"""

from __future__ import annotations

import time

import pytest

from recommender.summaries.sentences import split_sentences

SMALL, LARGE = 2_000, 16_000  # repetitions; LARGE / SMALL = 8
# (repeated unit, what follows it)
ADVERSARIAL = {
    "titles": ("Mr. ", "The end."),  # a title never ends a sentence: each stop rescanned it
    "initialisms": ("U.S. ", "The end."),
    "months": ("Jan. 5 ", "The end."),  # copied the rest of the paragraph at every stop
    "initials": ("J. ", "The end."),
    "stop run": (".", "x The end."),  # one run of stops with no space after it
    "closed stops": ("!", ")x The end."),
    "initialism that is not": ("a.", "aa. The end."),  # one long word of initials, then not
}


def _seconds(body: str) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        split_sentences(body)
        best = min(best, time.perf_counter() - started)
    return best


def _body(kind: str, repeats: int) -> str:
    unit, tail = ADVERSARIAL[kind]
    return unit * repeats + tail


@pytest.mark.parametrize("kind", sorted(ADVERSARIAL))
def test_splitting_time_grows_linearly_with_the_body(kind: str) -> None:
    split_sentences(_body(kind, SMALL))  # warm the regex caches
    small = _seconds(_body(kind, SMALL))
    large = _seconds(_body(kind, LARGE))
    ratio = large / max(small, 1e-6)
    assert ratio < 24, f"{kind}: {LARGE:,} repeats took {ratio:.1f}x the time of {SMALL:,}"


def test_the_linear_splitter_keeps_its_answers() -> None:
    body = (
        "Mr. Smith met Gen. Ross on Jan. 5 in the U.S. The talks ended. "
        'John F. Kennedy spoke!  Then Acme Inc. said so. It rained... "Later," she said.'
    )
    assert [s.text for s in split_sentences(body)] == [
        "Mr. Smith met Gen. Ross on Jan. 5 in the U.S.",
        "The talks ended.",
        "John F. Kennedy spoke!",
        "Then Acme Inc. said so.",
        "It rained...",
        '"Later," she said.',
    ]
