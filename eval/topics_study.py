"""Topic classification on WCEP: zero-shot vs a trained head vs a plain logistic probe.

All three read the same all-MiniLM-L6-v2 vectors of the WCEP items (title = the text), which
are encoded once and cached in a .npy file outside the repository (checked against the ids
on reuse). The trained head and the probe are fitted on items published before the split
date and scored on items from that date on, so no item, and no later story, leaks into
training. The zero-shot tagger never sees a label: its WCEP figure uses the issue's mapping
(health and environment both -> "Health and environment"; society has no WCEP section, so
the primary topic is the best label that maps).

    python -m eval.topics_study                                  # all 49,684 items
    python -m eval.topics_study --sample 10000                   # date-stratified sample
    python -m eval.topics_study --cache /tmp/wcep-minilm.npy --split-date 2019-01-01
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from embeddings import Embedder, MiniLMEmbedder
from eval.shared_data import WCEP
from recommender import Article, read_article_rows
from recommender.errors import InvalidArticleError
from recommender.topics import (
    WCEP_MAPPING,
    ZeroShotTagger,
    default_taxonomy,
    evaluate_assignments,
    fit_trained_tagger,
    gold_labels,
)

WCEP_FILE = WCEP
LABEL_FIELD = "topic"


def read_items(path: Path) -> list[Article]:
    items = []
    for _line, row in read_article_rows(path):
        if isinstance(row, InvalidArticleError):
            raise row
        items.append(row)
    return items


def date_stratified_sample(items: list[Article], size: int) -> list[Article]:
    """`size` items evenly spaced in publication order: every period keeps its share."""
    if size >= len(items):
        return items
    ordered = sorted(items, key=lambda item: (item.published or "", item.id))
    picks = np.linspace(0, len(ordered) - 1, size).round().astype(int)
    return [ordered[i] for i in picks]


def cached_vectors(
    items: list[Article], embedder: Embedder, cache: Path
) -> tuple[np.ndarray, float]:
    """(len(items), d) vectors of all items, from the cache when it holds exactly these ids.

    Returns the vectors and the encoding time in seconds (0 when read from the cache).
    """
    ids_digest = hashlib.sha256("\n".join(item.id for item in items).encode()).hexdigest()
    meta_path = cache.with_suffix(".json")
    if cache.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("ids_sha256") == ids_digest and meta.get("embedder") == embedder.name:
            return np.load(cache, allow_pickle=False), 0.0
    started = time.perf_counter()
    vectors = embedder.encode([item.text for item in items])
    seconds = time.perf_counter() - started
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, vectors, allow_pickle=False)
    meta_path.write_text(
        json.dumps(
            {
                "embedder": embedder.name,
                "dimension": embedder.dimension,
                "count": len(items),
                "ids_sha256": ids_digest,
            }
        )
    )
    return vectors, seconds


def probe_macro_f1(
    train_x: np.ndarray, train_y: list[str], test_x: np.ndarray, test_y: list[str]
) -> tuple[float, float]:
    """A plain multinomial LogisticRegression (scikit-learn defaults but max_iter)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    probe = LogisticRegression(max_iter=3000).fit(train_x, train_y)
    predicted = probe.predict(test_x)
    return float(f1_score(test_y, predicted, average="macro")), float(
        accuracy_score(test_y, predicted)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=WCEP_FILE)
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(os.environ.get("NEWSREC_STUDY_CACHE", tempfile.gettempdir()))
        / "newsrec-wcep-all-MiniLM-L6-v2.npy",
        help="Where the encoded vectors are kept between runs (outside the repository).",
    )
    parser.add_argument("--sample", type=int, default=0, help="Date-stratified sample size.")
    parser.add_argument("--split-date", default="2019-01-01")
    parser.add_argument("--cv", type=int, default=5, help="Folds for the trained head's CV.")
    args = parser.parse_args()

    started = time.perf_counter()
    all_items = read_items(args.data)
    embedder = MiniLMEmbedder()
    vectors, encode_seconds = cached_vectors(all_items, embedder, args.cache)
    items = all_items
    if args.sample:
        chosen = date_stratified_sample(all_items, args.sample)
        position = {item.id: i for i, item in enumerate(all_items)}
        vectors = vectors[[position[item.id] for item in chosen]]
        items = chosen
    gold = [list(gold_labels(item, LABEL_FIELD)) for item in items]
    early = np.array([(item.published or "") < args.split_date for item in items])
    train_rows, test_rows = np.flatnonzero(early), np.flatnonzero(~early)
    test_gold = [gold[i] for i in test_rows]
    results: dict[str, Any] = {
        "items": len(items),
        "train_items": len(train_rows),
        "test_items": len(test_rows),
        "split_date": args.split_date,
        "encode_seconds": round(encode_seconds, 1),
    }

    zero_shot = ZeroShotTagger.from_taxonomy(default_taxonomy(), embedder)
    on_test = evaluate_assignments(
        zero_shot.tag(vectors[test_rows]), test_gold, mapping=WCEP_MAPPING
    )
    on_all = evaluate_assignments(zero_shot.tag(vectors), gold, mapping=WCEP_MAPPING)
    results["zero_shot_test"] = {"macro_f1": on_test.macro_f1, "accuracy": on_test.accuracy}
    results["zero_shot_all"] = {"macro_f1": on_all.macro_f1, "accuracy": on_all.accuracy}
    results["zero_shot_test_per_class_f1"] = {
        label: round(scores.f1, 4) for label, scores in on_test.per_class.items()
    }

    fit_started = time.perf_counter()
    trained = fit_trained_tagger(
        vectors[train_rows],
        [gold[i] for i in train_rows],
        embedder_name=embedder.name,
        cv_folds=args.cv,
    )
    fit_seconds = time.perf_counter() - fit_started
    trained_report = evaluate_assignments(trained.tag(vectors[test_rows]), test_gold)
    results["trained_test"] = {
        "macro_f1": trained_report.macro_f1,
        "accuracy": trained_report.accuracy,
        "fit_seconds_with_cv": round(fit_seconds, 1),
    }
    if trained.cross_validation is not None:
        results["trained_cv_on_train"] = vars(trained.cross_validation)

    probe_f1, probe_accuracy = probe_macro_f1(
        vectors[train_rows],
        [gold[i][0] for i in train_rows],
        vectors[test_rows],
        [labels[0] for labels in test_gold],
    )
    results["probe_test"] = {"macro_f1": probe_f1, "accuracy": probe_accuracy}
    results["gaps_macro_f1_points"] = {
        "trained_minus_zero_shot": round(100 * (trained_report.macro_f1 - on_test.macro_f1), 2),
        "probe_minus_trained": round(100 * (probe_f1 - trained_report.macro_f1), 2),
    }
    results["seconds"] = round(time.perf_counter() - started, 1)

    print(
        f"WCEP topics: {len(items):,} items; train < {args.split_date} ({len(train_rows):,}), "
        f"test >= {args.split_date} ({len(test_rows):,})"
    )
    print(f"{'tagger':<44}{'macro-F1':>10}{'accuracy':>10}")
    rows = [
        ("zero-shot (mapped), test period", on_test.macro_f1, on_test.accuracy),
        ("zero-shot (mapped), all items", on_all.macro_f1, on_all.accuracy),
        ("trained one-vs-rest head, test period", trained_report.macro_f1, trained_report.accuracy),
        ("plain LogisticRegression probe, test period", probe_f1, probe_accuracy),
    ]
    for name, macro_f1, accuracy in rows:
        print(f"{name:<44}{macro_f1:>10.4f}{accuracy:>10.4f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
