"""Zero-shot re-weighted by the tagged file's own topic shares, on every proxy we have.

The independent check tags two corpora we do not have (2,225 full-length articles in 5
classes, 7,600 wire items in 4) with plain `newsrec tag` and maps our primary topic onto
their classes. Its errors are one topic swallowing its neighbours. A batch tagger can
re-estimate the topic shares on the file itself (EM on the zero-shot posteriors, pulled
towards uniform by `prior_rows` pseudo-rows: recommender/topics/batch_shares.py) and
re-weight each row's odds by them. Variants, each at a posterior temperature T (the logits
gain (T / zero-shot's scale) * log(share * L)):

- zero-shot as now;
- whole: shares estimated on the whole file (two passes);
- first N: on the file's first N rows only (N = 256, 512, 1,024: what a streaming tagger
  holds back before it writes its first row);
- online: row i re-weighted by the shares of rows 1..i-1 (a running EM step per row).

Proxies (macro-F1 of the primary topic, mapped as the check maps it; topics_shapes.py):
WCEP's ten sections in file (date) order; the 5-section and 4-class WCEP shapes in file
order, sorted by class (a corpus shipped in one folder per class), and three random
subsamples of the check's sizes in file order; seeds/ (105 articles grouped by story,
multi-label macro-F1 at the threshold, and the primary's accuracy); Wikinews (unlabelled:
the largest primary-topic share, a sanity check that no topic takes over).

    python -m eval.studies.topics_batch_shares                     # the shipped T and prior
    python -m eval.studies.topics_batch_shares --temperatures 0.02,0.04,0.06,0.08 \
        --prior-rows 30,100,300                                    # the grid
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from embeddings import MiniLMEmbedder
from eval.quality.shared_data import WCEP
from eval.studies.topics_shapes import SHAPES, macro_f1_of_scores
from eval.studies.topics_study import cached_vectors, read_items
from recommender.topics import ZeroShotTagger, evaluate_assignments, gold_labels, resolve_taxonomy
from recommender.topics.assignment import assignments_from_scores, logistic
from recommender.topics.batch_shares import PRIOR_ROWS, estimate_shares
from recommender.topics.zero_shot import CENTRE, SCALE

SEEDS = Path("seeds/articles.jsonl")
WIKINEWS = WCEP.parent.parent / "wikinews" / "wikinews_2019_2020.jsonl.gz"
FIRST_ROWS = (256, 512, 1024)
CHECK_SIZES = {"5": 2225, "4": 7600}
SUBSAMPLES = 3


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def offsets(shares: np.ndarray, temperature: float) -> np.ndarray:
    """(L,) what each topic's similarity gains: T * log(share * L)."""
    return temperature * np.log(np.maximum(shares * len(shares), 1e-12))


def online(similarities: np.ndarray, temperature: float, prior_rows: float) -> np.ndarray:
    """Row i re-weighted by the shares of rows before it: one EM step per row, on a
    running sum of the re-weighted posteriors."""
    labels = similarities.shape[1]
    posteriors = softmax(similarities / temperature)
    shares = np.full(labels, 1.0 / labels)
    total = np.zeros(labels)
    adjusted = np.empty_like(similarities)
    for i, row in enumerate(similarities):
        adjusted[i] = row + offsets(shares, temperature)
        weighted = posteriors[i] * shares
        total += weighted / weighted.sum()
        shares = (total + prior_rows / labels) / (i + 1 + prior_rows)
    return adjusted


def variants(
    similarities: np.ndarray, temperature: float, prior_rows: float
) -> Iterator[tuple[str, np.ndarray]]:
    """(name, re-weighted similarities) for every variant at one temperature and prior."""
    posteriors = softmax(similarities / temperature)

    def reweighted(rows: int) -> np.ndarray:
        shares = estimate_shares(posteriors[:rows], prior_rows=prior_rows)
        return similarities + offsets(shares, temperature)

    yield "whole", reweighted(len(similarities))
    for rows in FIRST_ROWS:
        # A file shorter than N rows is "whole" for this variant.
        yield f"first {rows}", reweighted(rows)
    yield "online", online(similarities, temperature, prior_rows)


def labelled_proxies(
    similarities: np.ndarray, sections: Sequence[str]
) -> dict[str, tuple[np.ndarray, list[str], Mapping[str, str]]]:
    """name -> (similarities of its rows in its order, gold classes, our label -> class)."""
    proxies: dict[str, tuple[np.ndarray, list[str], Mapping[str, str]]] = {}
    for shape in SHAPES:
        rows = np.array([i for i, section in enumerate(sections) if section in shape.sections])
        gold = [shape.sections[sections[i]] for i in rows]
        short = shape.name.split(",")[0]
        proxies[f"{short}, file order"] = (similarities[rows], gold, shape.ours)
        size = CHECK_SIZES.get(short[0])
        if size is None:
            continue
        by_class = np.argsort(np.array(gold), kind="stable")
        proxies[f"{short}, by class"] = (
            similarities[rows][by_class],
            [gold[i] for i in by_class],
            shape.ours,
        )
        for seed in range(SUBSAMPLES):
            pick = np.sort(np.random.default_rng(seed).choice(len(rows), size, replace=False))
            proxies[f"{short}, {size:,} #{seed + 1}"] = (
                similarities[rows][pick],
                [gold[i] for i in pick],
                shape.ours,
            )
    return proxies


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--temperatures", default=str(SCALE), help="Comma-separated T values.")
    parser.add_argument("--prior-rows", default=str(PRIOR_ROWS), help="Comma-separated.")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    grid = [
        (float(t), float(m))
        for t in args.temperatures.split(",")
        for m in args.prior_rows.split(",")
    ]

    embedder = MiniLMEmbedder()
    zero_shot = ZeroShotTagger.from_taxonomy(resolve_taxonomy(None), embedder)
    labels = zero_shot.labels
    corpora = {}
    for name, path in (("wcep", WCEP), ("seeds", SEEDS), ("wikinews", WIKINEWS)):
        items = read_items(path)
        vectors, _ = cached_vectors(items, embedder, args.cache / f"newsrec-{name}-MiniLM.npy")
        corpora[name] = (items, zero_shot.similarities(vectors))

    wcep_items, wcep_similarities = corpora["wcep"]
    sections = [gold_labels(item, "topic")[0] for item in wcep_items]
    proxies = labelled_proxies(wcep_similarities, sections)
    seeds_items, seeds_similarities = corpora["seeds"]
    seeds_gold = [list(gold_labels(item, "topics")) for item in seeds_items]
    wiki_similarities = corpora["wikinews"][1]

    def every_variant(similarities: np.ndarray) -> dict[str, np.ndarray]:
        found = {"zero-shot": similarities}
        for temperature, prior_rows in grid:
            for name, adjusted in variants(similarities, temperature, prior_rows):
                found[f"{name} T={temperature:g} m={prior_rows:g}"] = adjusted
        return found

    table: dict[str, dict[str, float]] = {}
    for proxy, (similarities, gold, ours) in proxies.items():
        for variant, adjusted in every_variant(similarities).items():
            table.setdefault(variant, {})[proxy] = macro_f1_of_scores(adjusted, labels, gold, ours)
    for variant, adjusted in every_variant(seeds_similarities).items():
        scores = logistic((adjusted - CENTRE) / SCALE)
        report = evaluate_assignments(
            assignments_from_scores(scores, labels, {}, zero_shot.threshold), seeds_gold
        )
        table[variant]["seeds macro-F1"] = report.macro_f1
        table[variant]["seeds accuracy"] = report.accuracy
    for variant, adjusted in every_variant(wiki_similarities).items():
        primaries = adjusted.argmax(axis=1)
        table[variant]["wikinews top share"] = float(np.bincount(primaries).max() / len(primaries))
    print_table(table)


def print_table(table: dict[str, dict[str, float]]) -> None:
    base = table["zero-shot"]
    scored = [name for name in base if name not in ("seeds accuracy", "wikinews top share")]
    columns = list(base)
    print("| variant | " + " | ".join(columns) + " | worst gain | mean gain |")
    print("|---" * (len(columns) + 3) + "|")
    for variant, row in table.items():
        gains = [row[name] - base[name] for name in scored]
        cells = " | ".join(f"{row[name]:.4f}" for name in columns)
        print(f"| {variant} | {cells} | {min(gains):+.4f} | {np.mean(gains):+.4f} |")


if __name__ == "__main__":
    main()
