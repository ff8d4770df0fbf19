"""Does a sentence lean on an earlier one? A summary should not open with one that does.

An extractive summary lifts sentences out of their article. One whose subject is only a
reference back ("The agency, under pressure from ...", "It was about ...", "But anyone
who ...") reads, as a summary's first sentence, as if something were missing before it.
Later in a summary it follows a sentence that introduced the story, as in the article.

A sentence leans on earlier ones when it opens with:

- a pronoun or demonstrative standing for something said before (`He`, `They`, `This`);
- a connective that continues an argument (`But`, `Yet`, `However`, `Instead`);
- a definite description whose noun the article named earlier ("The agency" after "the
  roads agency", "The contract" after "Consider the contract.").

A name ("The Guardian", "The European Union") is not a back-reference: the word after
the article is capitalised. Only the opening words are read: cheap, and wrong only in the
cautious direction (an opening that would have stood alone is passed over for the next
best sentence).
"""

from __future__ import annotations

import re
from collections.abc import Sequence


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_PRONOUNS = _word_set(
    """he she it they him them his her hers its their theirs this that these those such
    both either neither another others latter former"""
)
_CONNECTIVES = _word_set(
    """but yet and or so however still instead moreover nevertheless nonetheless
    therefore thus hence also besides otherwise meanwhile furthermore likewise
    similarly then"""
)
_DETERMINERS = _word_set("the this that these those such")
# Words without their possessive: "the roads agency's estimate" names "agency".
_WORD = re.compile(r"[A-Za-z][A-Za-z-]*")


def leans_on_earlier(sentence: str, earlier: Sequence[str]) -> bool:
    """Whether `sentence` opens with a reference to something in the `earlier` sentences
    (the article's sentences before it) or a connective that continues them."""
    words = _WORD.findall(sentence[:200])
    if not words:
        return False
    first = words[0].lower()
    if first in _PRONOUNS or first in _CONNECTIVES:
        return True
    if first not in _DETERMINERS or len(words) < 2 or not words[1].islower():
        return False
    noun = words[1].lower()
    return any(noun in _words_of(text) for text in earlier)


def _words_of(text: str) -> set[str]:
    return {word.lower() for word in _WORD.findall(text)}
