"""Query speed: related-by-id latency and ANN recall, exact against HNSW (and IVF), by size.

Two measurements, both in-process and one query at a time, as a request runs:

- `vector_rows`: the dense search alone (`VectorIndex.search`, depth 200: the candidate
  pool related-by-id asks FAISS for) on a vector set, for exact, HNSW at several efSearch
  values and IVF; recall@10 of each against exact. Used on all of WCEP (real MiniLM vectors)
  and on clustered synthetic sets (flagged "synthetic").
- `related_rows`: the whole `Recommender.related` path (store, catalog, lexical side and
  near-duplicate collapse included) on an index built from WCEP with its real vectors.

    python -m eval.bench.runner query            # 10k / 100k / 1M, WCEP
    python -m eval.bench.runner query --quick    # a few seconds: small synthetic sets only
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import faiss
import numpy as np

from recommender.index.vectors.faiss_index import VectorIndex

if TYPE_CHECKING:
    from recommender import Settings

POOL_DEPTH = 200  # Ranking.pool_depth: what related-by-id asks the vector index for
RECALL_K = 10
_KEEP_ALIVE: list[object] = []


@dataclass(frozen=True)
class Latency:
    p50_ms: float
    p99_ms: float
    count: int

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latency:
        values = np.asarray(seconds, dtype=np.float64) * 1e3
        return cls(float(np.percentile(values, 50)), float(np.percentile(values, 99)), len(values))


@dataclass(frozen=True)
class SearchRow:
    corpus: str  # e.g. "WCEP (real)", "synthetic 1M"
    size: int
    method: str  # "exact", "hnsw ef=256", "ivf nprobe=32"
    latency: Latency
    recall_at_10: float
    build_seconds: float


def timed(call: Callable[[], object], repeats: int) -> list[float]:
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return seconds


def recall_at_k(
    found_ids: np.ndarray,
    found_scores: np.ndarray,
    exact_scores: np.ndarray,
    k: int = RECALL_K,
) -> float:
    """Share of the exact top k an ANN top k recovers, ties counted as hits.

    found_*: (q, >=k) ANN results best first; exact_scores: (q, >=k) exact scores best first.
    A found result scoring at least the exact k-th score (less float noise) is one of the
    true top k: texts that appear twice in WCEP tie exactly, and either copy is right.
    """
    kth = exact_scores[:, k - 1 : k] - 1e-5
    hits = (found_scores[:, :k] >= kth) & (found_ids[:, :k] >= 0)
    return float(np.minimum(hits.sum(axis=1), k).mean() / k)


def _search_each(
    search: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], queries: np.ndarray
) -> tuple[list[float], np.ndarray, np.ndarray]:
    """One query per call; returns per-query seconds, scores (q, depth), ids (q, depth)."""
    seconds, scores, ids = [], [], []
    for query in queries:
        started = time.perf_counter()
        found_scores, found_ids = search(query[None, :])
        seconds.append(time.perf_counter() - started)
        scores.append(found_scores[0])
        ids.append(found_ids[0])
    return seconds, np.stack(scores), np.stack(ids)


def vector_rows(
    corpus: str,
    vectors: np.ndarray,
    *,
    queries: int,
    exact_queries: int,
    ef_values: Sequence[int],
    nprobe_values: Sequence[int] = (),
    hnsw: VectorIndex | None = None,
    graph: tuple[int, int] | None = None,
    seed: int = 0,
) -> Iterator[SearchRow]:
    """Exact, HNSW and IVF over `vectors`; queries are stored vectors (related-by-id).

    vectors: (n, d) float32 unit rows, whose ids are their positions. `exact_queries` bounds
    the exact timing runs, which are linear in n; recall is computed on all `queries`
    against a batched exact search. `hnsw`: an HNSW index already built over the same
    vectors in the same order (an index's snapshot; its build time is then not known).
    `graph`: (M, efConstruction) for an HNSW index built here (default: newsrec's).
    """
    rng = np.random.default_rng(seed)
    size, dimension = vectors.shape
    ids = np.arange(size, dtype=np.int64)
    picked = vectors[rng.choice(size, size=min(queries, size), replace=False)]

    started = time.perf_counter()
    exact = VectorIndex(dimension, "exact")
    exact.add(ids, vectors)
    build = time.perf_counter() - started
    truth_scores, _ = exact.search(picked, POOL_DEPTH)
    seconds, _, _ = _search_each(lambda q: exact.search(q, POOL_DEPTH), picked[:exact_queries])
    yield SearchRow(corpus, size, "exact", Latency.of(seconds), 1.0, build)

    build = float("nan")
    if hnsw is None:
        started = time.perf_counter()
        shape = {} if graph is None else {"hnsw_neighbours": graph[0]}
        if graph is not None:
            shape["hnsw_ef_construction"] = graph[1]
        hnsw = VectorIndex(dimension, "hnsw", **shape)
        hnsw.add(ids, vectors)
        build = time.perf_counter() - started
    for ef in ef_values:
        hnsw.ef_search = ef
        seconds, scores, found = _search_each(lambda q: hnsw.search(q, POOL_DEPTH), picked)
        recall = recall_at_k(found, scores, truth_scores)
        label = f"hnsw ef={ef}" if graph is None else f"hnsw M={graph[0]} efC={graph[1]} ef={ef}"
        yield SearchRow(corpus, size, label, Latency.of(seconds), recall, build)

    if nprobe_values:
        started = time.perf_counter()
        ivf = _ivf(vectors, rng)
        build = time.perf_counter() - started
        for nprobe in nprobe_values:
            ivf.nprobe = nprobe
            seconds, scores, found = _search_each(lambda q: ivf.search(q, POOL_DEPTH), picked)
            recall = recall_at_k(found, scores, truth_scores)
            label = f"ivf{ivf.nlist} nprobe={nprobe}"
            yield SearchRow(corpus, size, label, Latency.of(seconds), recall, build)


def _ivf(vectors: np.ndarray, rng: np.random.Generator) -> object:
    """IVF-Flat with ~4 sqrt(n) lists, k-means trained on a sample of at most 64 per list."""
    size, dimension = vectors.shape
    nlist = max(16, int(4 * np.sqrt(size)))
    quantizer = faiss.IndexFlatIP(dimension)
    index = faiss.IndexIVFFlat(quantizer, dimension, nlist, faiss.METRIC_INNER_PRODUCT)
    sample = vectors[rng.choice(size, size=min(size, 64 * nlist), replace=False)]
    index.train(sample)
    index.add(vectors)
    _KEEP_ALIVE.append(quantizer)  # the IVF index does not own its quantizer
    return index


@dataclass(frozen=True)
class RelatedRow:
    size: int
    kind: str
    latency: Latency
    agreement_at_10: float  # share of the exact index's related list found with this kind
    open_seconds: float  # open + first query (loads or rebuilds the vector index)


STORED = "stored"


def related_rows(
    index_dir: Path, kinds: Sequence[str], *, base: Settings, queries: int, seed: int = 0
) -> Iterator[RelatedRow]:
    """`Recommender.related(id, k=10)`, one id at a time, on an index opened read-only.

    Each kind opens the same index afresh (`index_type` forced: a snapshot of another kind
    is rebuilt in memory) and ranks every request live. The first kind should be "exact":
    the others' lists are compared with its lists (the end-to-end effect of the ANN on what a
    reader sees). The kind "stored" reads the stored related lists instead, as the service
    does (summaries in memory); where the index has none (the 1M one: ranking a million lists
    takes ~100 min here) the sampled articles' lists are ranked and stored first, and the
    row's kind says so: a read costs the same whoever else has a list.
    """
    from recommender import build_recommender, open_index

    reference: dict[str, list[str]] = {}
    for kind in kinds:
        settings = base.model_copy(
            update={"index_dir": index_dir, "embedder": _index_embedder(index_dir)}
        )
        if kind != STORED:
            settings = settings.model_copy(update={"index_type": kind, "related_list_depth": 0})
        label = kind
        if kind == STORED and _store_missing_lists(settings, queries, seed):
            label = f"{STORED} (lists of the sample only)"
        started = time.perf_counter()
        with open_index(settings) as index:
            recommender = build_recommender(settings, index)
            if kind == STORED:
                index.keep_summaries_in_memory()
            picked = _sample(index, queries, seed)
            size = len(index)
            recommender.related(picked[0], k=RECALL_K)
            opened = time.perf_counter() - started
            for article_id in picked[:20]:  # warm caches (catalog, lexical, numpy)
                recommender.related(article_id, k=RECALL_K)
            seconds, lists = [], {}
            for article_id in picked:
                begun = time.perf_counter()
                hits = recommender.related(article_id, k=RECALL_K)
                seconds.append(time.perf_counter() - begun)
                lists[article_id] = [hit.id for hit in hits]
        if not reference:
            reference = lists
        agreement = float(
            np.mean([len(set(lists[i]) & set(reference[i])) / RECALL_K for i in picked])
        )
        yield RelatedRow(size, label, Latency.of(seconds), agreement, opened)


def _sample(index: Any, queries: int, seed: int) -> list[str]:
    ids = sorted(index.ids())
    return [ids[i] for i in np.random.default_rng(seed).permutation(len(ids))[:queries]]


def _store_missing_lists(settings: Any, queries: int, seed: int) -> bool:
    """Rank and store the sampled articles' lists where they have none; True if it did."""
    from recommender import build_recommender, open_index
    from recommender.ranking.list_refresh import store_lists_of

    with open_index(settings, writable=True) as index:
        recommender = build_recommender(settings, index)
        rows = [index.row_id(article_id) for article_id in _sample(index, queries, seed)]
        without = set(index.related_lists.owners_without_lists(recommender.list_signature))
        missing = [row_id for row_id in rows if row_id in without]
        store_lists_of(recommender, missing)
    return bool(missing)


def _index_embedder(index_dir: Path) -> Literal["minilm", "hashing"]:
    manifest = json.loads((index_dir / "newsrec-manifest.json").read_text(encoding="utf-8"))
    return "hashing" if str(manifest["embedder"]).startswith("hashing") else "minilm"
