"""Topic classification on WCEP: zero-shot, adapted, trained (8/16/32/64 per section, all)
and a plain logistic probe, side by side.

All read the same all-MiniLM-L6-v2 vectors of the WCEP items (title = the text): taken from
an index's store (--index-dir) or encoded once and cached in a .npy file outside the
repository (checked against the ids on reuse). Adaptation reads the items published before
the split date without their labels; the trained heads and the probe learn from them with
their labels; every tagger is scored on the items from that date on, so no item, and no
later story, leaks into learning. Zero-shot and adapted use the issue's mapping (health
and environment both -> "Health and environment"; society has no WCEP section, so the
primary topic is the best label that maps). The comparison is recommender.topics'
compare_taggers, the one `newsrec topics eval --compare` prints; the adapted tagger reads
the items' hashed terms too (its lexical head), and its dense head alone is shown beside it.

    python -m eval.studies.topics_study                                  # all 49,684 items
    python -m eval.studies.topics_study --index-dir /tmp/shared-idx/wcep # vectors from an index
    python -m eval.studies.topics_study --sample 10000                   # date-stratified sample
    python -m eval.studies.topics_study --shapes  # see eval/studies/topics_shapes.py
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from embeddings import Embedder, MiniLMEmbedder
from eval.quality.shared_data import WCEP
from eval.studies.topics_shapes import print_shapes
from recommender import Article, Settings, open_index, read_article_rows
from recommender.errors import InvalidArticleError
from recommender.topics import (
    WCEP_MAPPING,
    ZeroShotTagger,
    adapt_tagger,
    article_terms,
    compare_taggers,
    evaluate_assignments,
    gold_labels,
    resolve_taxonomy,
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


def index_vectors(items: list[Article], embedder: Embedder, settings: Settings) -> np.ndarray:
    """(len(items), d) vectors from the settings' index's store, by content hash; encodes none."""
    index_dir = settings.index_dir
    with open_index(settings, embedder=embedder) as index:
        found = index.vectors_by_hash([item.content_hash for item in items])
    missing = sum(item.content_hash not in found for item in items)
    if missing:
        raise SystemExit(f"{index_dir}: {missing:,} of the items are not in this index")
    return np.stack([found[item.content_hash] for item in items])


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
        default=Path(tempfile.gettempdir()) / "newsrec-wcep-all-MiniLM-L6-v2.npy",
        help="Where the encoded vectors are kept between runs (outside the repository).",
    )
    parser.add_argument("--sample", type=int, default=0, help="Date-stratified sample size.")
    parser.add_argument("--split-date", default="2019-01-01")
    parser.add_argument("--index-dir", type=Path, help="Read the vectors from this index.")
    parser.add_argument("--taxonomy", default=None, help="Built-in name or file.")
    parser.add_argument(
        "--no-prior", dest="prior", action="store_false", help="Train without the taxonomy."
    )
    parser.add_argument(
        "--shapes",
        action="store_true",
        help="WCEP subsets shaped like the independent corpora instead "
        "(eval/studies/topics_shapes.py).",
    )
    args = parser.parse_args()

    started = time.perf_counter()
    all_items = read_items(args.data)
    embedder = MiniLMEmbedder()
    if args.index_dir is not None:
        on_index = Settings(index_dir=args.index_dir)
        vectors, encode_seconds = index_vectors(all_items, embedder, on_index), 0.0
    else:
        vectors, encode_seconds = cached_vectors(all_items, embedder, args.cache)
    if args.shapes:
        zero_shot = ZeroShotTagger.from_taxonomy(resolve_taxonomy(args.taxonomy), embedder)
        print_shapes(all_items, vectors, zero_shot, resolve_taxonomy(args.taxonomy))
        return
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

    zero_shot = ZeroShotTagger.from_taxonomy(resolve_taxonomy(args.taxonomy), embedder)
    on_test = evaluate_assignments(
        zero_shot.tag(vectors[test_rows]), test_gold, mapping=WCEP_MAPPING
    )
    on_all = evaluate_assignments(zero_shot.tag(vectors), gold, mapping=WCEP_MAPPING)
    results["zero_shot_all"] = {"macro_f1": on_all.macro_f1, "accuracy": on_all.accuracy}
    results["zero_shot_test_per_class_f1"] = {
        label: round(scores.f1, 4) for label, scores in on_test.per_class.items()
    }

    compared_started = time.perf_counter()
    terms = article_terms(items)  # the adapted tagger's lexical head reads them
    table = compare_taggers(
        zero_shot,
        vectors,
        gold,
        train_rows,
        test_rows,
        mapping=WCEP_MAPPING,
        prior=args.prior,
        terms=terms,
    )
    results["compared_seconds"] = round(time.perf_counter() - compared_started, 1)
    results["taggers_test"] = [vars(row) for row in table]
    # What a site does with its archive: adapt to the very articles it then tags.
    on_itself = adapt_tagger(zero_shot, vectors[test_rows], terms=terms[test_rows]).tagger
    itself = evaluate_assignments(
        on_itself.tag(vectors[test_rows], terms=terms[test_rows]), test_gold, mapping=WCEP_MAPPING
    )
    results["adapted_on_test_part_itself"] = {
        "macro_f1": itself.macro_f1,
        "accuracy": itself.accuracy,
    }

    probe_f1, probe_accuracy = probe_macro_f1(
        vectors[train_rows],
        [gold[i][0] for i in train_rows],
        vectors[test_rows],
        [labels[0] for labels in test_gold],
    )
    results["probe_test"] = {"macro_f1": probe_f1, "accuracy": probe_accuracy}
    results["seconds"] = round(time.perf_counter() - started, 1)

    print(
        f"WCEP topics: {len(items):,} items; learn < {args.split_date} ({len(train_rows):,}), "
        f"test >= {args.split_date} ({len(test_rows):,})"
    )
    print(f"{'tagger (test period)':<44}{'labelled':>10}{'macro-F1':>10}{'accuracy':>10}")
    rows = [(row.tagger, row.labelled_rows, row.macro_f1, row.accuracy) for row in table]
    rows.insert(2, ("adapted on the test part itself", 0, itself.macro_f1, itself.accuracy))
    rows.append(("plain LogisticRegression probe", len(train_rows), probe_f1, probe_accuracy))
    for name, labelled, macro_f1, accuracy in rows:
        print(f"{name:<44}{labelled:>10,}{macro_f1:>10.4f}{accuracy:>10.4f}")
    print(f"{'zero-shot, all items':<44}{0:>10}{on_all.macro_f1:>10.4f}{on_all.accuracy:>10.4f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
