"""Evaluation corpora of other shapes, assembled from the shared data (never stored here).

The relevance defaults must hold on every kind of archive, not only on WCEP's one-sentence
summaries. These corpora are written to a folder outside the repository, from
`../shared/data`, deterministically:

- `wcep-digests`: longer, multi-paragraph articles with real story labels spanning years.
  Each is one WCEP story's items of one calendar month joined in date order (a monthly
  round-up of the story); only stories covered in at least three months are used, so a
  story's articles lie months or years apart. Beside them, as distractors without a story,
  round-ups of the same weeks' items that belong to no story (one per section and week):
  unrelated news published in the same week as the story's own articles.
- `wcep-pairs`: the same digests cut down to exactly two articles per story (the first two
  months), with the same distractors. A query has one relevant article: the case where a
  neighbourhood method has the least to lean on and the most to get wrong.
- `seeds-wikinews`: the seed articles (full length, labelled stories) beside the 295
  Wikinews articles (full length, real, mostly one-off, no story): one-off articles and
  distractors among real stories.
- `wikinews-labelled`: the 293 Wikinews news articles with the stories, topics and sections
  we assigned by reading them, before measuring anything on them (`seeds/wikinews_labels.jsonl`
  holds only ids and labels): real full-length news where a few stories run for months (a
  campaign, a pandemic, protests) beside mostly one-off articles.

    python -m eval.quality.assembled_corpora OUT_DIR [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

from eval.quality.shared_data import WCEP

SHARED_DATA = WCEP.parents[1]

WCEP_FILE = Path("wcep") / "wcep_current_events.jsonl.gz"
WIKINEWS_FILE = Path("wikinews") / "wikinews_2019_2020.jsonl.gz"
SEEDS_FILE = Path(__file__).resolve().parents[2] / "seeds" / "articles.jsonl"
WIKINEWS_LABELS_FILE = SEEDS_FILE.with_name("wikinews_labels.jsonl")
MIN_MONTHS = 3
MIN_ITEMS_PER_DIGEST = 2
DISTRACTOR_ITEMS = (3, 8)  # a same-week round-up holds this many items (min, max)

Row = dict[str, Any]


def read_jsonl(path: Path) -> Iterator[Row]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def _digest(identifier: str, items: list[Row], story: str | None) -> Row:
    items = sorted(items, key=lambda item: (item["published"], item["id"]))
    sources = sorted({item["source"] for item in items if item.get("source")})
    return {
        "id": identifier,
        "title": items[0]["title"],
        "body": "\n\n".join(item["title"] for item in items[1:]),
        "published": items[-1]["published"],
        "source": ", ".join(sources[:3]) or None,
        "story": story,
    }


def wcep_digests(wcep: Iterable[Row], *, pairs_only: bool = False) -> list[Row]:
    """Monthly story round-ups (stories covered in >= MIN_MONTHS months) and same-week
    round-ups of story-less items as distractors. `pairs_only`: two digests per story."""
    by_story_month: dict[str, dict[str, list[Row]]] = defaultdict(lambda: defaultdict(list))
    loose_by_week: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for item in wcep:
        day = date.fromisoformat(item["published"][:10])
        if item.get("story"):
            by_story_month[item["story"]][item["published"][:7]].append(item)
        else:
            year, week, _ = day.isocalendar()
            loose_by_week[(f"{year}-W{week:02d}", item.get("topic") or "")].append(item)
    rows: list[Row] = []
    story_weeks: set[str] = set()
    for number, story in enumerate(sorted(by_story_month)):
        months = {
            month: items
            for month, items in sorted(by_story_month[story].items())
            if len(items) >= MIN_ITEMS_PER_DIGEST
        }
        if len(months) < MIN_MONTHS:
            continue
        chosen = list(months.items())[:2] if pairs_only else list(months.items())
        for month, items in chosen:
            rows.append(_digest(f"story{number:04d}-{month}", items, story))
            for item in items:
                year, week, _ = date.fromisoformat(item["published"][:10]).isocalendar()
                story_weeks.add(f"{year}-W{week:02d}")
    low, high = DISTRACTOR_ITEMS
    for (week, section), items in sorted(loose_by_week.items()):
        if week in story_weeks and len(items) >= low:
            slug = "".join(ch for ch in section.lower() if ch.isalnum())[:12]
            rows.append(_digest(f"roundup-{week}-{slug}", items[:high], None))
    return rows


def seeds_with_wikinews(seeds: Iterable[Row], wikinews: Iterable[Row]) -> list[Row]:
    rows = [dict(row) for row in seeds]
    for row in wikinews:
        if (row.get("title") or "").strip() and (row.get("body") or "").strip():
            rows.append({key: row.get(key) for key in ("id", "title", "body", "published")})
    return rows


def wikinews_labelled(wikinews: Iterable[Row], labels: Iterable[Row]) -> list[Row]:
    """The Wikinews articles with their hand-assigned `story` (None: a one-off), `topics`
    (primary first) and `section`; an entry labelled with no topics is not a news article
    (Wikinews' test pages) and is left out.

    Every article must have exactly one label and every label an article: a label file out of
    step with the data would score the product against the wrong gold."""
    label_by_id: dict[str, Row] = {}
    for label in labels:
        if label["id"] in label_by_id:
            raise ValueError(f"Wikinews label given twice: {label['id']}")
        label_by_id[label["id"]] = label
    rows = []
    for row in wikinews:
        label = label_by_id.pop(row["id"], None)
        if label is None:
            raise ValueError(f"Wikinews article without a label: {row['id']}")
        if not label["topics"]:
            continue
        fields = {key: row.get(key) for key in ("id", "title", "body", "published", "source")}
        gold = {key: label[key] for key in ("story", "topics", "section")}
        rows.append({**fields, **gold})
    if label_by_id:
        raise ValueError(f"labels for articles not in Wikinews: {sorted(label_by_id)[:3]}")
    return rows


def write_jsonl(path: Path, rows: Iterable[Row]) -> int:
    """Write atomically: a half-written corpus is never left under the final name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, delete=False, suffix=".part"
    ) as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
        out.flush()
        os.fsync(out.fileno())
    os.replace(out.name, path)
    return count


def assemble(out_dir: Path, shared: Path = SHARED_DATA) -> dict[str, int]:
    """Write every assembled corpus into `out_dir`; returns articles per corpus."""
    wcep = list(read_jsonl(shared / WCEP_FILE))
    counts = {
        "wcep-digests": write_jsonl(out_dir / "wcep-digests.jsonl", wcep_digests(wcep)),
        "wcep-pairs": write_jsonl(
            out_dir / "wcep-pairs.jsonl", wcep_digests(wcep, pairs_only=True)
        ),
        "seeds-wikinews": write_jsonl(
            out_dir / "seeds-wikinews.jsonl",
            seeds_with_wikinews(read_jsonl(SEEDS_FILE), read_jsonl(shared / WIKINEWS_FILE)),
        ),
        "wikinews-labelled": write_jsonl(
            out_dir / "wikinews-labelled.jsonl",
            wikinews_labelled(read_jsonl(shared / WIKINEWS_FILE), read_jsonl(WIKINEWS_LABELS_FILE)),
        ),
    }
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--shared", type=Path, default=SHARED_DATA)
    arguments = parser.parse_args(argv)
    try:
        counts = assemble(arguments.out_dir, arguments.shared)
    except (OSError, ValueError) as error:
        # No shared data here, or a label file out of step with it: one line, not a traceback.
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    for name, count in counts.items():
        print(f"{name}: {count} articles -> {arguments.out_dir / (name + '.jsonl')}")


if __name__ == "__main__":
    main()
