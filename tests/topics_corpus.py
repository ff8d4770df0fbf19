"""A keyword corpus for the topic tests: each topic has its own words, so with the hashing
embedder the right answers are known in advance."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from recommender.topics.taxonomy import Taxonomy, Topic

VOCABULARY = {
    label: words.split()
    for label, words in {
        "sport": "football striker goal match league cup referee stadium penalty coach",
        "politics": "election ballot parliament vote minister campaign coalition senate party",
        "disaster": "earthquake flood storm tsunami rescue rubble evacuation hurricane wildfire",
    }.items()
}

TAXONOMY = Taxonomy(
    (
        Topic(
            "sport",
            "Sport",
            "football striker goal match league cup",
            ("referee stadium penalty", "coach league match"),
            "medtop:15000000",
        ),
        Topic(
            "politics",
            "Politics",
            "election ballot parliament vote minister",
            ("campaign coalition senate", "party vote election"),
            "medtop:11000000",
        ),
        Topic(
            "disaster",
            "Disaster",
            "earthquake flood storm tsunami rescue",
            ("rubble evacuation hurricane", "wildfire flood rescue"),
            "medtop:03000000",
        ),
    ),
    name="keywords",
)


def keyword_text(labels: list[str], rng: random.Random, words: int = 8) -> str:
    chosen = [rng.choice(VOCABULARY[label]) for label in labels for _ in range(words)]
    rng.shuffle(chosen)
    return " ".join(chosen)


def keyword_rows(count: int, *, seed: int = 7, multi_every: int = 0) -> list[dict[str, Any]]:
    """Rows cycling through the topics; every `multi_every`-th row has two topics."""
    rng = random.Random(seed)
    labels = list(VOCABULARY)
    rows = []
    for number in range(count):
        gold = [labels[number % len(labels)]]
        if multi_every and number % multi_every == 0:
            gold.append(labels[(number + 1) % len(labels)])
        rows.append(
            {
                "id": f"a{number:04d}",
                "title": keyword_text(gold, rng),
                "body": keyword_text(gold, rng),
                "topics": gold,
                "desk": {"number": number},
            }
        )
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


SITE_VOCABULARY = {
    label: words.split()
    for label, words in {
        "sport": "innings wicket bowler batsman umpire fixture",
        "politics": "senator caucus filibuster lobbyist gerrymander incumbent",
        "disaster": "aftershock magnitude epicentre seismograph debris survivors",
    }.items()
}
"""Words a site uses for each topic that the taxonomy (TAXONOMY) never mentions."""


def site_rows(count: int, *, seed: int = 11, anchored_every: int = 2) -> list[dict[str, Any]]:
    """A site's archive, the topics cycling: every `anchored_every`-th row mixes the
    taxonomy's words with the site's own, the others use the site's words only, which
    zero-shot cannot read and an adapted tagger can learn from the anchored rows."""
    rng = random.Random(seed)
    labels = list(VOCABULARY)
    rows = []
    for number in range(count):
        label = labels[number % len(labels)]
        site = [rng.choice(SITE_VOCABULARY[label]) for _ in range(8)]
        words = site + (
            [rng.choice(VOCABULARY[label]) for _ in range(8)]
            if number // len(labels) % anchored_every == 0
            else []
        )
        rng.shuffle(words)
        rows.append({"id": f"s{number:04d}", "title": " ".join(words), "topics": [label]})
    return rows


def write_taxonomy(path: Path, taxonomy: Taxonomy = TAXONOMY) -> Path:
    """The taxonomy as a JSON file `--taxonomy` reads."""
    topics = [
        {
            "label": topic.label,
            "name": topic.name,
            "description": topic.description,
            "examples": list(topic.examples),
            "iptc": topic.iptc,
        }
        for topic in taxonomy
    ]
    path.write_text(json.dumps({"name": taxonomy.name, "topics": topics}), encoding="utf-8")
    return path
