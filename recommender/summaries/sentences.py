"""Sentence splitting for news bodies: abbreviations, initials, quotes and datelines.

A sentence is a span of the body, so its text is always verbatim (`body[start:end]`).
Paragraph breaks always end a sentence. Inside a paragraph, a sentence ends at `.`, `!` or
`?` (and any closing quotes or brackets after it) followed by a space and a capital, a
digit or an opening quote, unless the word before the stop is an abbreviation that does
not end sentences (`Mr.`, `Gen.`, `Jan. 5`, the `F.` of `John F. Kennedy`). An
initialism (`U.S.`, `U.N.`) ends a sentence only when a usual sentence opener follows
("... in the U.S. The talks"), since a name after it is far more common ("U.S. Army").

A wire dateline opening the body ("TRIPOLI, March 3 (Reuters) - ", "LONDON — ") is not part
of the first sentence: it says where the story was filed, not what happened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Words before a full stop that (almost) never end a sentence: titles and ranks come before
# a name, and "No. 10", "Fig. 2" before a number.
_TITLES = _word_set(
    """mr mrs ms messrs dr prof sen rep gov gen lt col capt cmdr cpl sgt maj adm brig
    pres supt insp det rev hon fr st mt ft jr sr no nos vol fig dept univ assn"""
)
# Lower-case abbreviations that sit inside a sentence.
_INNER = _word_set("vs approx est cf")
# Company suffixes end a sentence as often as not: decided like initialisms.
_COMPANY = _word_set("inc corp co ltd bros plc")
# Month abbreviations hold a sentence together when a day follows ("Jan. 5").
_MONTHS = _word_set("jan feb mar apr jun jul aug sep sept oct nov dec")
# After an initialism, these words start a new sentence rather than continue a name.
_OPENERS = _word_set(
    """the a an he she it they we i you his her its their our this that these those there
    but and or so yet in on at for from by with after before when while if as however
    officials police authorities meanwhile"""
)

_CLOSING = "\"'\u201d\u2019)\\]"
_OPENING = "\"'\u201c\u2018(\\["
_DASH = "(?:--|[-\u2014\u2013])"
# A stop starts a run of stops (never inside one) and takes it whole: a long run with no
# space after it is then one failed match, not a rescan from each of its characters.
_STOP = re.compile(f"(?<![.!?])[.!?]++[{_CLOSING}]*+(?=\\s)")
_NEXT_START = re.compile(f"\\s+[{_OPENING}]?[A-Z0-9]")
_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.")
_NEXT_WORD = re.compile(f"\\s+[{_OPENING}]?([A-Za-z]+)")
_NEXT_DIGIT = re.compile(r"\s*\d")

# CITY[, Region][, Month Day[, Year]] [(Agency)] followed by a dash of any kind.
_DATELINE = re.compile(
    r"""[ \t]*
    [A-Z][A-Z.'\u2019\-]+(?:[ ][A-Z][A-Z.'\u2019\-]+)*  # TRIPOLI, NEW YORK, ST. PAUL
    (?:,[ ]*[A-Z][A-Za-z.]*(?:[ ][A-Z][A-Za-z.]*)*     # , Libya  , March  , Jan.
       (?:[ ]\d{1,2})?(?:,[ ]*\d{4})?)*                #   3  , 2025
    (?:[ ]*\([^()\n]{1,40}\))?                         # (Reuters)
    [ ]*(?:--|[-\u2014\u2013])[ ]*""",
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of a body: `text == body[start:end]`; `paragraph` counts from 0."""

    text: str
    start: int
    end: int
    paragraph: int

    @property
    def words(self) -> int:
        return len(self.text.split())


def split_sentences(body: str) -> list[Sentence]:
    """The sentences of `body`, in order, each a verbatim span of it."""
    sentences: list[Sentence] = []
    paragraph_number = 0
    for paragraph in re.finditer(r"[^\n]+", body):
        start, end = paragraph.span()
        if not body[start:end].strip():
            continue
        if not sentences:
            dateline = _DATELINE.match(body, start, end)
            if dateline is not None and dateline.end() < end:
                start = dateline.end()
        for first, last in _spans(body, start, end):
            sentences.append(Sentence(body[first:last], first, last, paragraph_number))
        paragraph_number += 1
    return sentences


def dateline_of(body: str) -> str | None:
    """The dateline opening `body`, without its dash, or None."""
    paragraph = re.match(r"\s*([^\n]*)", body)
    if paragraph is None:
        return None
    found = _DATELINE.match(paragraph.group(1))
    if found is None or found.end() == len(paragraph.group(1)):
        return None
    return re.sub(_DASH + r"\s*$", "", found.group(0)).strip()


def _spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans within text[start:end] (one paragraph), whitespace trimmed."""
    spans: list[tuple[int, int]] = []
    cursor = start
    for stop in _STOP.finditer(text, start, end):
        boundary = stop.end()
        if not _NEXT_START.match(text, boundary, end):
            continue
        if not _ends_sentence(text, cursor, stop.start(), boundary, end):
            continue
        spans.append((cursor, boundary))
        cursor = boundary
    spans.append((cursor, end))
    return [trimmed for span in spans if (trimmed := _trim(text, *span)) is not None]


def _ends_sentence(text: str, first: int, stop: int, boundary: int, end: int) -> bool:
    if text[stop] != ".":
        return True  # "!" and "?" end sentences whatever precedes them
    word = _word_before(text, first, stop)
    if word is None:
        return True
    bare = word.rstrip(".").lower()
    following = _NEXT_WORD.match(text, boundary, end)
    next_word = following.group(1) if following else ""
    if _is_initialism(word) or bare in _COMPANY:
        return next_word.lower() in _OPENERS
    if bare in _INNER or (bare in _TITLES and word[0].isupper()):
        return False
    if bare in _MONTHS and word[0].isupper():
        return _NEXT_DIGIT.match(text, boundary, end) is None
    # A lone capital is an initial ("John F. Kennedy"), not the end of a sentence.
    return not (len(word) == 2 and word[0].isupper())


def _word_before(text: str, first: int, stop: int) -> str | None:
    """The word ending with the stop at `stop`: letters and dots from its first letter on.

    Read backwards from the stop, so each stop costs the length of its own word, not of the
    sentence so far (a sentence of many "Mr." would otherwise be rescanned at every one).
    """
    start = stop
    while start > first and text[start - 1] in _WORD_CHARS:
        start -= 1
    while start <= stop and text[start] == ".":
        start += 1
    return text[start : stop + 1] if start <= stop else None


def _is_initialism(word: str) -> bool:
    """Ends with two or more letter-dot pairs ("U.S.", "ex-U.N."), read from the end."""
    pairs, position = 0, len(word)
    while position >= 2 and word[position - 1] == "." and word[position - 2] != ".":
        pairs += 1
        position -= 2
    return pairs >= 2


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None
