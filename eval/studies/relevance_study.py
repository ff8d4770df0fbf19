"""Which relevance components hold on every kind of corpus? Exhaustive scoring, side by side.

For each corpus every pair of articles is scored with the ranking's own parts (the stored
MiniLM vectors' cosine, `recommender.index.lexical`'s whole-text TF-IDF cosine, the
length-dependent blend of `Ranking.dense_weight_for`), so the comparison is of the scoring
alone, free of candidate-pool effects. nDCG@10 against "same story" on every query, with a
paired t-test for each component against the blend without it:

- the time-proximity boost (on / off),
- neighbourhood re-ranking: query expansion with the query's top-m neighbours
  (`Ranking.feedback_*`), plain or restricted to mutual neighbours,
- a relevance floor, global (a logistic fit of same-story on score, pooled over corpora) or
  relative to the query's own candidate pool (a z-score): what it withholds from one-off
  articles against what it costs story queries.

    python -m eval.quality.assembled_corpora /tmp/corpora
    python -m eval.studies.relevance_study /tmp/corpora/seeds-wikinews.jsonl \
        /tmp/corpora/wcep-pairs.jsonl /tmp/corpora/wcep-digests.jsonl [--vectors-dir /tmp/study]

Vectors are encoded once per corpus with the real model and kept in `--vectors-dir`.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sparse
from scipy.stats import ttest_rel

from eval.quality.assembled_corpora import read_jsonl
from recommender import Settings, build_embedder
from recommender.dates import SECONDS_PER_DAY, parse_published
from recommender.index.lexical import LexicalIndex, term_vectors
from recommender.ranking.scoring import Ranking

POOL = 200
Row = dict[str, object]


@dataclass
class ScoredCorpus:
    name: str
    scores: np.ndarray  # (n, n) blended scores, the diagonal at -inf
    dense: np.ndarray  # (n, n) dense cosines
    days_apart: np.ndarray  # (n, n), nan where either is undated
    relevant: dict[int, set[int]]
    one_offs: list[int]  # articles without a story

    @property
    def queries(self) -> list[int]:
        return sorted(self.relevant)


def article_text(row: Row) -> str:
    """Title and body as one text (the title alone when there is no body)."""
    return f"{row['title']}\n{row['body']}" if row.get("body") else str(row["title"])


def cached_vectors(path: Path, rows: list[Row], cache_dir: Path, settings: Settings) -> np.ndarray:
    """The embedder's vectors of `rows` (file order), from `cache_dir` if encoded before."""
    cache = cache_dir / f"{path.stem}-vectors.npy"
    if cache.exists():
        return np.load(cache)
    vectors = build_embedder(settings).encode([article_text(row) for row in rows])
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(cache, vectors)
    return vectors


def scored_corpus(
    path: Path, cache_dir: Path, ranking: Ranking, settings: Settings
) -> ScoredCorpus:
    rows = list(read_jsonl(path))
    vectors = cached_vectors(path, rows, cache_dir, settings)
    frequencies = term_vectors([article_text(row) for row in rows])
    # The product's own TF-IDF rows (idf over this corpus, unit length), stacked.
    lexical_index = LexicalIndex(np.arange(len(rows)), frequencies)
    weighted = sparse.vstack([lexical_index.query_of(row) for row in range(len(rows))])
    lexical = (weighted @ weighted.T).toarray().astype(np.float32)
    dense = (vectors @ vectors.T).astype(np.float32)
    np.fill_diagonal(dense, -np.inf)
    weights = np.asarray(
        [ranking.dense_weight_for(int(n)) for n in np.diff(frequencies.indptr)], np.float32
    )[:, None]
    scores = weights * np.where(np.isfinite(dense), dense, 1.0) + (1.0 - weights) * lexical
    np.fill_diagonal(scores, -np.inf)
    starts = np.asarray(
        [
            parse_published(str(row["published"])).start if row.get("published") else np.nan
            for row in rows
        ]
    )
    members: dict[str, set[int]] = defaultdict(set)
    for position, row in enumerate(rows):
        if row.get("story"):
            members[str(row["story"])].add(position)
    relevant = {
        position: members[str(row["story"])] - {position}
        for position, row in enumerate(rows)
        if row.get("story") and len(members[str(row["story"])]) > 1
    }
    one_offs = [position for position, row in enumerate(rows) if not row.get("story")]
    days = np.abs(starts[:, None] - starts[None, :]) / SECONDS_PER_DAY
    return ScoredCorpus(path.stem, scores, dense, days, relevant, one_offs)


def ndcg_at_10(scores: np.ndarray, corpus: ScoredCorpus) -> np.ndarray:
    """Binary-relevance nDCG@10 of every query: (queries,)."""
    discounts = 1.0 / np.log2(np.arange(2, 12))
    found = []
    for query in corpus.queries:
        row = scores[query]
        top = np.argpartition(-row, 10)[:10]
        top = top[np.argsort(-row[top], kind="stable")]
        gains = np.asarray([position in corpus.relevant[query] for position in top], float)
        ideal = discounts[: min(len(corpus.relevant[query]), 10)].sum()
        found.append(float(gains @ discounts) / ideal)
    return np.asarray(found)


def time_boosted(corpus: ScoredCorpus, boost: float = 1.0, decay: float = 180.0) -> np.ndarray:
    closeness = np.nan_to_num(np.exp(-corpus.days_apart / decay), nan=0.0)
    return corpus.scores * (1.0 + boost * closeness) / (1.0 + boost)


def expanded(
    corpus: ScoredCorpus, depth: int, weight: float, mutual_k: int | None = None
) -> np.ndarray:
    """Scores against the query moved towards its top `depth` neighbours (both sides are
    linear in the query, so this is the feedback expansion `Ranking.feedback_*` applies);
    with `mutual_k`, only neighbours that hold the query within their own top `mutual_k`."""
    scores = corpus.scores
    # A neighbour's own row holds its self-similarity (1 on both sides), as the expanded
    # query vector of `recommender.ranking.feedback` gives it.
    finite = np.where(np.isfinite(scores), scores, 1.0)
    neighbours = np.argpartition(-scores, depth, axis=1)[:, :depth]
    kth = -np.partition(-scores, mutual_k - 1, axis=1)[:, mutual_k - 1] if mutual_k else None
    out = scores.copy()
    for query in range(len(scores)):
        chosen = neighbours[query]
        if kth is not None:
            chosen = chosen[scores[chosen, query] >= kth[chosen]]
        if not len(chosen):
            continue
        mean = finite[chosen].mean(axis=0)
        out[query] = (scores[query] + weight * mean) / (1.0 + weight)
    np.fill_diagonal(out, -np.inf)
    return out


def relative_scores(corpus: ScoredCorpus) -> np.ndarray:
    """Each score as a z-score within its query's best POOL scores."""
    pools = -np.partition(-corpus.scores, POOL, axis=1)[:, :POOL]
    return (corpus.scores - pools.mean(axis=1, keepdims=True)) / (
        pools.std(axis=1, keepdims=True) + 1e-6
    )


def _compare(label: str, off: np.ndarray, on: np.ndarray) -> str:
    test = ttest_rel(on, off)
    return (
        f"  {label:44s} off {off.mean():.4f}  on {on.mean():.4f}  "
        f"p={test.pvalue:.2g}  wins/losses {(on > off).sum()}/{(on < off).sum()}"
    )


def _floor_rows(corpus: ScoredCorpus, relative: np.ndarray, base: np.ndarray) -> list[str]:
    lines = []
    for floor in (2.0, 2.5, 3.0):
        kept = np.where(relative >= floor, corpus.scores, -np.inf)
        shown_one_offs = [min(int((relative[i] >= floor).sum()), 10) for i in corpus.one_offs]
        shown_stories = [min(int((relative[i] >= floor).sum()), 10) for i in corpus.queries]
        floored = ndcg_at_10(kept, corpus).mean()
        lines.append(
            f"  z floor {floor}: nDCG@10 {base.mean():.4f} -> {floored:.4f};"
            f" items shown of 10: one-offs {np.mean(shown_one_offs or [0]):.2f},"
            f" story articles {np.mean(shown_stories):.2f}"
        )
    return lines


def study(corpus: ScoredCorpus) -> list[str]:
    base = ndcg_at_10(corpus.scores, corpus)
    lines = [f"{corpus.name}: {len(corpus.queries)} queries, {len(corpus.one_offs)} one-offs"]
    lines.append(f"  {'dense only':44s} {ndcg_at_10(corpus.dense, corpus).mean():.4f}")
    lines.append(
        _compare("time boost 1.0 over 180 days", base, ndcg_at_10(time_boosted(corpus), corpus))
    )
    for depth, weight, mutual in ((3, 1.0, None), (5, 1.0, None), (5, 0.4, None), (5, 1.0, 10)):
        label = f"expansion, {depth} neighbours, weight {weight}" + (
            f", mutual in top {mutual}" if mutual else ""
        )
        lines.append(
            _compare(label, base, ndcg_at_10(expanded(corpus, depth, weight, mutual), corpus))
        )
    lines += _floor_rows(corpus, relative_scores(corpus), base)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description="Relevance components side by side")
    parser.add_argument("corpora", type=Path, nargs="+")
    parser.add_argument("--vectors-dir", type=Path, default=Path("/tmp/newsrec-relevance-study"))
    arguments = parser.parse_args()
    ranking, settings = Ranking(), Settings()
    for path in arguments.corpora:
        corpus = scored_corpus(path, arguments.vectors_dir, ranking, settings)
        print("\n".join(study(corpus)), flush=True)


if __name__ == "__main__":
    main()
