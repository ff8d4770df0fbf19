"""Keyword corpora for the evaluation tests: the right answers are known in advance.

Each story has its own words, shared by its members and by nothing else; every article also
has words of its own, and fillers (no story) share no word with any story. So every lexical
system, and the hashing embedder, must rank a query's story mates first, above everything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

STORIES = {
    "storm": "hurricane landfall evacuation coastline floodwater shelters",
    "vote": "ballot referendum turnout polling constituency recount",
    "match": "striker penalty semifinal goalkeeper stadium extratime",
    "drug": "vaccine trial regulator dosage efficacy placebo",
}
MEMBERS = 3  # articles per story
FILLERS = 8


def _own_words(tag: str) -> str:
    return " ".join(f"{tag}w{i}" for i in range(6))


def keyword_rows() -> list[dict[str, Any]]:
    """Story members first (days 1..), then fillers; all dated, so slots have two sides."""
    rows: list[dict[str, Any]] = []
    day = 1
    for story, words in STORIES.items():
        for member in range(MEMBERS):
            article_id = f"{story}-{member}"
            rows.append(
                {
                    "id": article_id,
                    "title": f"{words.split()[member]} {story}t{member}",
                    "body": f"{words}. {_own_words(article_id.replace('-', ''))}.",
                    "published": f"2025-03-{day:02d}",
                    "story": story,
                }
            )
            day += 1
    for filler in range(FILLERS):
        rows.append(
            {
                "id": f"filler-{filler}",
                "title": f"notice filler{filler}",
                "body": _own_words(f"filler{filler}"),
                "published": f"2025-04-{filler + 1:02d}",
            }
        )
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path
