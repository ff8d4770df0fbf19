"""Why an article was picked: shared topics, the words that made it similar, and when.

The salient shared terms are the terms that contributed most to the TF-IDF cosine the
ranking used: for a term t in both articles, the product of its weights in the two unit
TF-IDF vectors (idf from the whole index). The lexical index keeps hashed terms, which
cannot be read back as words; the query article's own words are hashed the same way
(`lexical.term_vectors`) to name each shared term, shown as the article spells it
("Haftar", "NATO", "counterterrorism").

Only computed when asked (`explain=True`): it reads the texts of the query and tokenises
it, which related-by-id otherwise never does. For k=10 that is one text, ten term vectors
already in memory, and a few milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sparse

from recommender.dates import SECONDS_PER_DAY, PublishedTime, parse_published
from recommender.index.lexical import term_vectors
from recommender.summaries.terms import WORD, surface_forms

MAX_TERMS = 4
# A term must carry at least this share of the pair's TF-IDF cosine to be named.
MIN_SHARE = 0.02


@dataclass(frozen=True, slots=True)
class Explanation:
    """The reasons behind one related item; `text` is the short line shown to readers."""

    topics: tuple[str, ...]
    terms: tuple[str, ...]
    coverage: str  # "earlier", "later", "same time" or "undated"
    days_apart: float | None

    @property
    def text(self) -> str:
        parts = []
        if self.topics:
            parts.append("both about " + _listed([t.replace("-", " ") for t in self.topics[:2]]))
        if self.terms:
            parts.append("both mention " + _listed(list(self.terms)))
        timing = _coverage_text(self.coverage, self.days_apart)
        if timing is not None:
            parts.append(timing)
        # Nothing shared to name: the dense (meaning) side of the score picked it.
        line = "; ".join(parts) or "similar in meaning overall"
        return line[:1].upper() + line[1:]

    def to_dict(self) -> dict[str, object]:
        return {
            "topics": list(self.topics),
            "terms": list(self.terms),
            "coverage": self.coverage,
            "days_apart": None if self.days_apart is None else round(self.days_apart, 2),
        }


@dataclass(frozen=True)
class ExplainedQuery:
    """What is known of the article the list is for."""

    text: str
    terms: sparse.csr_matrix  # (1, HASHED_FEATURES) unit TF-IDF
    topics: tuple[str, ...]
    published: PublishedTime | None


def explain(
    query: ExplainedQuery,
    candidates: Sequence[tuple[sparse.csr_matrix, tuple[str, ...], str | None]],
) -> list[Explanation]:
    """One explanation per candidate: (unit TF-IDF (1, F), topic labels, published)."""
    names = _feature_names(query.text)
    text = query.text
    query_weights = dict(zip(query.terms.indices.tolist(), query.terms.data.tolist(), strict=True))
    explained = []
    for terms, topics, published in candidates:
        shared_topics = tuple(topic for topic in topics if topic in query.topics)
        explained.append(
            Explanation(
                shared_topics,
                _shared_terms(query_weights, terms, names, text),
                *_coverage(query.published, published),
            )
        )
    return explained


def _shared_terms(
    query_weights: dict[int, float], terms: sparse.csr_matrix, names: dict[int, str], text: str
) -> tuple[str, ...]:
    contributions = [
        (weight * query_weights[feature], feature)
        for feature, weight in zip(terms.indices.tolist(), terms.data.tolist(), strict=True)
        if feature in query_weights and feature in names
    ]
    total = sum(value for value, _ in contributions)
    if total <= 0:
        return ()
    contributions.sort(key=lambda item: (-item[0], names[item[1]]))
    strongest: list[str] = []
    for value, feature in contributions[: 3 * MAX_TERMS]:
        name = names[feature]
        if value >= MIN_SHARE * total and not any(_same_family(name, s) for s in strongest):
            strongest.append(name)
    return tuple(_joined_names(strongest, text)[:MAX_TERMS])


def _same_family(word: str, other: str) -> bool:
    """ "Russia" and "Russian", "Libya" and "Libyan": one shown is enough."""
    shorter, longer = sorted((word.lower(), other.lower()), key=len)
    # An ending of up to three letters ("-n", "-ns", "-ian"), not another word ("Portugal").
    return len(shorter) >= 4 and longer.startswith(shorter) and len(longer) - len(shorter) <= 3


def _joined_names(terms: list[str], text: str) -> list[str]:
    """Two strong capitalised terms that stand side by side in the text are one name
    ("Prime Minister", "Khalifa Haftar"); each keeps the place of the stronger."""
    joined: list[str] = []
    used: set[str] = set()
    for term in terms:
        if term in used:
            continue
        for other in terms:
            if other in used or other == term or not (term[:1].isupper() and other[:1].isupper()):
                continue
            pair = next((p for p in (f"{term} {other}", f"{other} {term}") if p in text), None)
            if pair is not None:
                joined.append(pair)
                used.update((term, other))
                break
        else:
            joined.append(term)
            used.add(term)
    return joined


def _feature_names(text: str) -> dict[int, str]:
    """Hashed feature -> the word of `text` behind it, as the text spells it most."""
    spellings = surface_forms(text)
    words = sorted({match.lower() for match in WORD.findall(text)})
    if not words:
        return {}
    rows = term_vectors(words)  # one row per word; stop words give empty rows
    names: dict[int, str] = {}
    for position, word in enumerate(words):
        if len(word) < 3 or word.isdigit():
            continue  # "al" of al-Rajma, a year: shared, but no reason to read on
        for feature in rows.indices[rows.indptr[position] : rows.indptr[position + 1]]:
            names.setdefault(int(feature), spellings.get(word, word))
    return names


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _coverage(query: PublishedTime | None, published: str | None) -> tuple[str, float | None]:
    if query is None or published is None:
        return "undated", None
    try:
        other = parse_published(published)
    except ValueError:
        return "undated", None
    days = float(np.abs(other.start - query.start) / SECONDS_PER_DAY)
    if other.before(query):
        return "earlier", days
    if other.after(query):
        return "later", days
    return "same time", days


def _coverage_text(coverage: str, days: float | None) -> str | None:
    if coverage == "undated" or days is None:
        return None
    if coverage == "same time":
        return "published at the same time"
    return f"{coverage} coverage, {_span(days)} {'before' if coverage == 'earlier' else 'after'}"


def _span(days: float) -> str:
    if days < 1:
        hours = max(1, round(days * 24))
        return f"{hours} hour{'s' if hours != 1 else ''}"
    for size, unit in ((365.25, "year"), (30.44, "month"), (7, "week"), (1, "day")):
        if days >= size * (2 if unit != "day" else 1):
            count = round(days / size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "1 day"
