"""Words of a text for summaries and explanations: a plain tokeniser and a stop list.

Deliberately small and import-free (no scikit-learn): a summary of a stored article
should not pay a second of imports for its tokeniser.
"""

from __future__ import annotations

import re
from collections import Counter

# Two or more word characters, as the lexical index tokenises (so a word found here hashes
# to the same feature there); apostrophes inside words are kept apart the same way.
WORD = re.compile(r"\b\w\w+\b", re.UNICODE)

# Function words and the verbs of attribution every news story is full of.
STOP_WORDS = frozenset(
    str.split(
        """a about above after again against all almost also although am among an and another
    any are around as at back be became because been before being below between both but
    by can cannot could did do does doing done down during each either else enough even
    ever every few for from further get got had has have having he her here hers herself
    him himself his how however if in into is it its itself just last least less like made
    make many may me might more most much must my myself neither never next no nor not now
    of off often on once one only or other others our ours ourselves out over own per
    perhaps put rather said same say says see seen she should since so some still such
    than that the their theirs them themselves then there these they this those though
    through thus to together too toward towards under until up upon us very was we well
    were what whatever when where whether which while who whom whose why will with within
    without would yet you your yours yourself yourselves told according added including
    two three four five six seven eight nine ten first second new year years week weeks
    day days monday tuesday wednesday thursday friday saturday sunday"""
    )
)


def content_words(text: str) -> list[str]:
    """Lower-cased words of `text` without stop words or bare numbers, in order."""
    return [
        word
        for word in (match.lower() for match in WORD.findall(text))
        if word not in STOP_WORDS and not word.isdigit()
    ]


def term_counts(text: str) -> Counter[str]:
    return Counter(content_words(text))


def surface_forms(text: str) -> dict[str, str]:
    """For each lower-cased word, its most frequent spelling in `text` ("Haftar", "NATO")."""
    spellings: dict[str, Counter[str]] = {}
    for match in WORD.findall(text):
        spellings.setdefault(match.lower(), Counter())[match] += 1
    return {word: found.most_common(1)[0][0] for word, found in spellings.items()}
