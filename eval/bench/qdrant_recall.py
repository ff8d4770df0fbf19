"""Recall@k of the Qdrant backend against FAISS exact search, on the cached WCEP vectors.

    python -m eval.bench.qdrant_recall [--queries 500] [--k 10] [--url http://host:6333]

Both backends get every WCEP item's MiniLM vector (the cache `eval.bench.vectors` writes,
in the order of wcep_current_events.jsonl.gz; this script never encodes) under the same row
ids, and Qdrant the payload its filters read: the item's date and its WCEP category as a
topic. For a sample of items, the k nearest other items are asked of both, three ways:
unfiltered, within 30 days of the item (a `published` range on Qdrant's payload, the
catalog's bitmap for FAISS) and within the item's own category (a `topics` match). Recall is
the share of FAISS's k found by Qdrant, a found item scoring as high as FAISS's k-th
counting as found (WCEP repeats some texts, and engines break such ties differently); the
strict share by id is reported beside it. Without --url, Qdrant is qdrant-client's in-process
local mode (brute force); with one, a server's HNSW as configured there.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from eval.bench.vectors import CACHE_DIR, WCEP
from recommender.dates import SECONDS_PER_DAY, PublishedTime, parse_published
from recommender.index.vectors.faiss_index import VectorIndex, bitmap_of
from recommender.index.vectors.protocol import PayloadConditions, RowSelection
from recommender.index.vectors.qdrant_index import QdrantVectorIndex

WINDOW_DAYS = 30.0
Search = Callable[[np.ndarray, int, RowSelection | None], tuple[np.ndarray, np.ndarray]]


def _items(corpus: Path) -> tuple[list[PublishedTime | None], list[str | None]]:
    """Each WCEP item's date and category, in file order."""
    published: list[PublishedTime | None] = []
    topics: list[str | None] = []
    with gzip.open(corpus, "rt", encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line)
            published.append(parse_published(item["published"]) if item["published"] else None)
            topics.append(item.get("topic"))
    return published, topics


def _neighbours(
    search: Search, queries: np.ndarray, query_ids: np.ndarray, k: int, allowed: list[RowSelection]
) -> np.ndarray:
    """The k nearest other rows of each query: (q, k), -1 where fewer exist."""
    found = np.full((len(queries), k), -1, dtype=np.int64)
    if not allowed:  # unfiltered: one batched search
        row_ids = search(queries, k + 1, None)[1]
    else:
        row_ids = np.concatenate(
            [search(queries[i : i + 1], k + 1, allowed[i])[1] for i in range(len(queries))]
        )
    for position, (hits, own) in enumerate(zip(row_ids, query_ids, strict=True)):
        others = hits[(hits != own) & (hits >= 0)][:k]
        found[position, : len(others)] = others
    return found


def _recall(found: np.ndarray, expected: np.ndarray) -> float:
    """The share of the exact k found, by id."""
    hits = total = 0
    for got, want in zip(found, expected, strict=True):
        wanted = set(want[want >= 0].tolist())
        hits += len(wanted & set(got.tolist()))
        total += len(wanted)
    return hits / total if total else 1.0


def _recall_with_ties(
    found: np.ndarray, expected: np.ndarray, queries: np.ndarray, vectors: np.ndarray
) -> float:
    """As `_recall`, but a found row scoring (exactly) as high as the exact k-th counts too.

    WCEP repeats some texts word for word (hundreds of items share one vector): where more
    than k rows tie, any k of them is an exact answer, and engines pick different ones.
    """
    hits = total = 0
    for got, want, query in zip(found, expected, queries, strict=True):
        want, got = want[want >= 0], got[got >= 0]
        if not len(want):
            continue
        kth = float(vectors[want[-1] - 1] @ query)  # row id r is vectors[r - 1]
        true_scores = vectors[got - 1] @ query
        hits += min(len(want), int((true_scores >= kth - 1e-6).sum()))
        total += len(want)
    return hits / total if total else 1.0


def measure(
    vectors: np.ndarray,
    published: list[PublishedTime | None],
    topics: list[str | None],
    *,
    queries: int,
    k: int,
    url: str | None,
    seed: int = 0,
) -> dict[str, float]:
    """Recall@k per view, with build and search times (seconds)."""
    row_ids = np.arange(1, len(vectors) + 1, dtype=np.int64)  # the store's ids start at 1
    exact = VectorIndex(vectors.shape[1], "exact")
    exact.add(row_ids, vectors)

    started = time.perf_counter()
    qdrant = QdrantVectorIndex.connect(url or ":memory:", "newsrec-recall", vectors.shape[1])
    qdrant.reset()
    qdrant.add(row_ids, vectors)
    qdrant.describe(row_ids, published, [(topic,) if topic else () for topic in topics])
    build_seconds = time.perf_counter() - started

    rng = np.random.default_rng(seed)
    dated = np.flatnonzero([moment is not None for moment in published])
    sample = np.sort(rng.choice(dated, size=min(queries, len(dated)), replace=False))
    query_ids, query_vectors = row_ids[sample], vectors[sample]
    starts = np.asarray([p.start if p else np.nan for p in published])
    labels = np.asarray([topic or "" for topic in topics])

    views: dict[str, list[RowSelection]] = {"all": [], "30 days": [], "category": []}
    for position in sample:
        moment = published[position]
        assert moment is not None
        low = moment.start - WINDOW_DAYS * SECONDS_PER_DAY
        high = moment.end + WINDOW_DAYS * SECONDS_PER_DAY
        with np.errstate(invalid="ignore"):
            window = (starts >= low) & (starts <= high)
        views["30 days"].append(
            RowSelection(bitmap_of(row_ids[window]), PayloadConditions(True, low, high))
        )
        label = topics[position]
        views["category"].append(
            RowSelection(bitmap_of(row_ids[labels == label]), PayloadConditions(topic=label))
        )

    report: dict[str, float] = {"items": float(len(vectors)), "queries": float(len(sample))}
    report["qdrant build s"] = round(build_seconds, 1)
    for name, allowed in views.items():
        expected = _neighbours(exact.search, query_vectors, query_ids, k, allowed)
        started = time.perf_counter()
        found = _neighbours(qdrant.search, query_vectors, query_ids, k, allowed)
        report[f"qdrant ms/query ({name})"] = round(
            1000 * (time.perf_counter() - started) / len(sample), 2
        )
        report[f"recall@{k} ({name})"] = round(
            _recall_with_ties(found, expected, query_vectors, vectors), 4
        )
        report[f"recall@{k} by id ({name})"] = round(_recall(found, expected), 4)
    qdrant.close()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vectors", type=Path, default=CACHE_DIR / "wcep-minilm.npy")
    parser.add_argument("--corpus", type=Path, default=WCEP)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--url", default=None, help="a Qdrant server; default: local mode")
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args(argv)
    if not options.vectors.is_file():
        print(
            f"{options.vectors}: no cached WCEP vectors (python -m eval.bench.vectors makes them)",
            file=sys.stderr,
        )
        return 2
    vectors = np.load(options.vectors)
    published, topics = _items(options.corpus)
    if len(published) != len(vectors):
        print(f"{len(vectors)} vectors for {len(published)} WCEP items", file=sys.stderr)
        return 2
    report = measure(
        vectors,
        published,
        topics,
        queries=options.queries,
        k=options.k,
        url=options.url,
        seed=options.seed,
    )
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
