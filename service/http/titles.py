"""Title search for the demo's search box and for editors: every title held in memory.

A linear scan of casefolded titles answers 100,000 titles in a few tens of milliseconds,
which is plenty for a search box; it needs no extra index on disk and stays in step with
writes for free (the service updates it under the same lock as the index).
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from recommender.dates import parse_published
from recommender.index.records import ArticleSummary

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class _Entry:
    summary: ArticleSummary
    folded: str
    start: float  # publication start in epoch seconds; -inf when undated (listed last)


class TitleCatalog:
    def __init__(self, summaries: Iterable[ArticleSummary] = ()) -> None:
        self._entries: dict[str, _Entry] = {}
        self.upsert(summaries)

    def __len__(self) -> int:
        return len(self._entries)

    def upsert(self, summaries: Iterable[ArticleSummary]) -> None:
        for summary in summaries:
            self._entries[summary.id] = _Entry(summary, summary.title.casefold(), _start(summary))

    def remove(self, article_ids: Iterable[str]) -> None:
        for article_id in article_ids:
            self._entries.pop(article_id, None)

    def search(self, query: str, limit: int) -> list[ArticleSummary]:
        """Titles holding every word of `query` (case-insensitive), newest first.

        An exact id match comes first; an empty query lists the newest articles.
        """
        words = [word.casefold() for word in _WORD.findall(query)]
        entries = self._entries.values()
        matches: Iterable[_Entry] = (
            (entry for entry in entries if all(word in entry.folded for word in words))
            if words
            else entries
        )
        newest = heapq.nlargest(limit, matches, key=lambda entry: entry.start)
        exact = self._entries.get(query.strip())
        if exact is not None:
            newest = [exact, *(entry for entry in newest if entry is not exact)][:limit]
        return [entry.summary for entry in newest]


def _start(summary: ArticleSummary) -> float:
    if summary.published is None:
        return -math.inf
    try:
        return parse_published(summary.published).start
    except ValueError:
        return -math.inf
