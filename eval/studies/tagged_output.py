"""Score the rows `newsrec tag` wrote against a labelled corpus, as the independent check does.

The check maps our `primary_topic` onto the corpus's classes and counts it right only when it
lands on the row's first gold label; a label the mapping does not send anywhere is wrong, never
skipped. Printed: macro-F1 over the gold classes, accuracy, and how often the primary topic
maps onto any of the row's gold labels.

    python -m eval.studies.tagged_output OUT.jsonl --gold CORPUS [--label-field F] [--map M]

e.g. the Wikinews sections: `--gold /tmp/corpora/wikinews-labelled.jsonl --label-field section
--map seeds/wikinews_sections_map.json` (the corpus: `python -m eval.quality.assembled_corpora`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from recommender.topics.evaluation import LabelMapping, load_label_mapping
from recommender.topics.labelled import DEFAULT_LABEL_FIELD, load_labelled

UNMAPPED = "(unmapped)"
"""What a label outside the mapping becomes: a class no row has, so always wrong."""


@dataclass(frozen=True)
class TaggedScores:
    rows: int
    macro_f1: float
    accuracy: float
    primary_in_gold: float
    # Labelled rows of the corpus the tagged file lacks (an interrupted `tag` run): the
    # scores are then over a part of the corpus, which alone would read as a full run's.
    not_tagged: int = 0


def score_primaries(
    primaries: Sequence[str], gold: Sequence[Sequence[str]], mapping: LabelMapping | None
) -> TaggedScores:
    """`primaries[i]` is our primary topic for the row whose gold labels are `gold[i]`."""
    from sklearn.metrics import f1_score

    def mapped(label: str) -> str:
        if mapping is None:
            return label
        targets = mapping.get(label)
        return targets[0] if targets else UNMAPPED

    predicted = [mapped(label) for label in primaries]
    first = [labels[0] for labels in gold]
    macro = f1_score(first, predicted, labels=sorted(set(first)), average="macro")
    hits = sum(p == g for p, g in zip(predicted, first, strict=True))
    in_gold = sum(p in labels for p, labels in zip(predicted, gold, strict=True))
    return TaggedScores(len(first), float(macro), hits / len(first), in_gold / len(first))


def _tagged_row(line: str) -> tuple[str, str] | None:
    """(id, primary topic) of one output line; None when it is not a tagged row."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(row, dict):
        return None
    identifier, primary = row.get("id"), row.get("primary_topic")
    if not isinstance(identifier, str) or not isinstance(primary, str):
        return None
    return identifier, primary


def score_tagged_file(
    tagged: Path, corpus: Path, field: str, mapping: LabelMapping | None
) -> TaggedScores:
    labelled = load_labelled(corpus, field=field)
    gold_by_id: Mapping[str, Sequence[str]] = {
        article.id: labels
        for article, labels in zip(labelled.articles, labelled.labels, strict=True)
    }
    primary_by_id: dict[str, str] = {}  # by id: a row written twice is scored once
    with tagged.open(encoding="utf-8") as rows:
        for line_number, line in enumerate(rows, start=1):
            if not line.strip():
                continue
            row = _tagged_row(line)
            if row is None:
                raise ValueError(
                    f"{tagged}, line {line_number}: not a row of `newsrec tag` output "
                    "(a JSON object with string `id` and `primary_topic`)"
                )
            if row[0] in gold_by_id:
                primary_by_id[row[0]] = row[1]
    if not primary_by_id:
        raise ValueError(f"{tagged}: no row is labelled in {corpus}")
    gold = [gold_by_id[identifier] for identifier in primary_by_id]
    scores = score_primaries(list(primary_by_id.values()), gold, mapping)
    return replace(scores, not_tagged=len(gold_by_id) - len(primary_by_id))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tagged", type=Path)
    parser.add_argument("--gold", type=Path, required=True)
    parser.add_argument("--label-field", default=DEFAULT_LABEL_FIELD)
    parser.add_argument("--map", dest="mapping")
    arguments = parser.parse_args(argv)
    try:
        mapping = load_label_mapping(arguments.mapping) if arguments.mapping else None
        scores = score_tagged_file(arguments.tagged, arguments.gold, arguments.label_field, mapping)
    except (OSError, ValueError) as error:
        # A wrong path, field or file (the library's input errors are ValueErrors): one line.
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    missing = f" ({scores.not_tagged} labelled rows not tagged)" if scores.not_tagged else ""
    print(
        f"{arguments.tagged}: {scores.rows} rows{missing}, macro-F1 {scores.macro_f1:.4f}, "
        f"accuracy {scores.accuracy:.4f}, primary among the gold labels "
        f"{scores.primary_in_gold:.4f}"
    )


if __name__ == "__main__":
    main()
