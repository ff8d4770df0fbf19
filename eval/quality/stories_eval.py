"""`newsrec eval stories CORPUS`: story clustering against a corpus's gold `story`.

The corpus is indexed with its `story` field removed (an editorial story would be the
answer), then clustered the way `newsrec stories recluster` does, in date order. Scored
against the gold (an article without one is a story of its own) with pairwise precision,
recall and F1, BCubed F1 and the adjusted Rand index, beside two baselines, each at the
best threshold of its own sweep (generous to them):

- `tfidf-cc`: connected components of the graph linking articles whose TF-IDF cosine
  (scikit-learn, English stop words, sublinear tf) is at least the threshold;
- `dense-single-pass`: single-pass clustering on the dense vectors, oldest first: an
  article joins the cluster whose centroid is closest if the cosine clears the threshold
  (the centroids of its 32 nearest earlier neighbours' clusters are compared).

The project's clustering is shown at its configured thresholds (`default`) and at the best
of the sweep. Slot rates come from the index clustered at the configured thresholds:
`same_story` (of the sides where the gold story has an article, those whose slot holds one),
`wrong_side` (filled slots not strictly on their side of the date: 0 by construction) and
`filler` (of the sides where the gold story has none, those filled anyway).
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from math import nan
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sparse
from scipy.sparse.csgraph import connected_components
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import adjusted_rand_score
from sklearn.metrics.cluster import contingency_matrix, pair_confusion_matrix

from eval.quality.slots import slot_rates, strategy_rates
from recommender import Article, ArticleIndex, InvalidInputError, Settings, load_articles
from recommender.index.article_index import STORE_FILE
from recommender.ranking.results import Neighbours
from recommender.stories.clustering import StoryAssigner, StoryClustering, cluster_stream
from recommender.system import build_story_assigner, open_index

Progress = Callable[[str, int, int], None]
DENSE_SWEEP = tuple(round(0.35 + 0.05 * step, 2) for step in range(10))  # 0.35 .. 0.80
LEXICAL_SWEEP = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35)
NEVER_MERGE = 3.0  # a margin no score reaches
BASELINE_SWEEP = tuple(round(0.1 + 0.05 * step, 2) for step in range(17))  # 0.10 .. 0.90
_CANDIDATES_SLICE = 512
_UNLABELLED = "\0"  # the gold story of an article without one: its own
_SINGLE_PASS_NEIGHBOURS = 32


def clustering_scores(
    gold: Sequence[str], predicted: Sequence[Any], *, labelled: Sequence[bool] | None = None
) -> dict[str, float]:
    """The scores of all articles, and with `labelled` those of the labelled ones too
    (`labelled_*`: a corpus whose unlabelled articles are not known to stand alone, as
    WCEP's, is judged on its labelled ones)."""
    found = _scores(gold, predicted)
    if labelled is not None:
        keep = np.asarray(labelled, dtype=bool)
        subset = _scores(
            [g for g, k in zip(gold, keep, strict=True) if k],
            [p for p, k in zip(predicted, keep, strict=True) if k],
        )
        found.update({f"labelled_{name}": value for name, value in subset.items()})
    return found


def _scores(gold: Sequence[str], predicted: Sequence[Any]) -> dict[str, float]:
    """Pairwise precision/recall/F1, BCubed precision/recall/F1 and ARI of one clustering."""
    pairs = pair_confusion_matrix(gold, predicted)
    together = float(pairs[1, 1])
    precision = together / (together + pairs[0, 1]) if together + pairs[0, 1] else 1.0
    recall = together / (together + pairs[1, 0]) if together + pairs[1, 0] else 1.0
    table = contingency_matrix(gold, predicted, sparse=True).tocoo()
    gold_sizes = np.bincount(table.row, weights=table.data)
    predicted_sizes = np.bincount(table.col, weights=table.data)
    squared = table.data.astype(np.float64) ** 2
    total = float(len(gold))
    b_precision = float((squared / predicted_sizes[table.col]).sum() / total)
    b_recall = float((squared / gold_sizes[table.row]).sum() / total)
    return {
        "pair_precision": precision,
        "pair_recall": recall,
        "pair_f1": _f1(precision, recall),
        "bcubed_precision": b_precision,
        "bcubed_recall": b_recall,
        "bcubed_f1": _f1(b_precision, b_recall),
        "ari": float(adjusted_rand_score(gold, predicted)),
    }


def run_stories_eval(
    corpus: Path,
    report_dir: Path | None = None,
    *,
    settings: Settings,
    index_dir: Path | None = None,
    slot_queries: int | None = None,
    on_progress: Progress | None = None,
) -> dict[str, Any]:
    """Cluster `corpus` and score it; returns the figures (and writes a report if asked)."""
    articles = load_articles([corpus]).articles
    gold_of = {a.id: a.story if a.story is not None else f"{_UNLABELLED}{a.id}" for a in articles}
    # A corpus without stories (one-off articles) is scored as all singletons: how many
    # articles the clustering leaves alone.
    advance = on_progress or (lambda task, done, total: None)
    with _writable_copy(articles, settings, index_dir, advance) as index:
        assigner = build_story_assigner(settings, index)
        recommender, configured = assigner.recommender, assigner.clustering
        rows = _date_order(index)
        names = {row: s.id for row, s in index.store.summaries_by_row_id(rows).items()}
        neighbours = _neighbours(assigner, rows, names, advance)
        gold = [gold_of[names[row]] for row in rows]
        sweep = _sweep(rows, names, neighbours, gold, settings.story_merge_margin)
        clustered = cluster_stream(rows, names, neighbours, configured)
        default = _scored(gold, clustered, rows)
        singletons = {
            "default": _alone([clustered[row] for row in rows]),
            "gold": _alone(gold),
        }
        order_tolerance = _order_tolerance(rows, names, neighbours, configured, clustered)
        texts = [index.article(names[row]).text for row in rows]
        vectors = index.vectors.vectors_of(np.asarray(rows, dtype=np.int64))
        baselines = {
            "tfidf-cc": _tfidf_components(texts, gold),
            "dense-single-pass": _dense_single_pass(
                vectors, _earlier_neighbours(index, rows), gold
            ),
        }
        # What `recluster(editorial=False)` writes, without computing the candidates again.
        index.store.clear_stories(editorial=True)
        index.store.write_stories(clustered, {}, [])
        slots = slot_rates(recommender, articles, slot_queries, advance)
        strategies = strategy_rates(recommender, articles, slot_queries, advance)
        # The same strategies over the gold stories: what a perfect clustering would give.
        index.store.clear_stories(editorial=True)
        index.store.write_stories(
            {row: _gold_story_id(story, names[row]) for row, story in zip(rows, gold, strict=True)},
            {},
            [],
        )
        strategies_gold = strategy_rates(recommender, articles, slot_queries, advance)
    best = max(sweep, key=lambda entry: entry["scores"]["bcubed_f1"])
    found: dict[str, Any] = {
        "corpus": str(corpus),
        "articles": len(articles),
        "gold_stories": len({a.story for a in articles if a.story}),
        "embedder": settings.embedder,
        "configured": {
            "dense": configured.dense_threshold,
            "lexical": configured.lexical_threshold,
            "merge_margin": configured.merge_margin,
        },
        "systems": {
            "default": default,
            "best-sweep": best["scores"],
            **{name: entry["best"] for name, entry in baselines.items()},
            # Judged on the labelled articles only (WCEP's unlabelled ones are not known to
            # stand alone), each baseline at its best threshold for that.
            **{
                f"{name}@labelled": entry["best_labelled"]
                for name, entry in baselines.items()
                if "best_labelled" in entry
            },
        },
        "best_sweep": {k: best[k] for k in ("dense", "lexical", "merge_margin")},
        "baseline_thresholds": {name: entry["threshold"] for name, entry in baselines.items()}
        | {
            f"{name}@labelled": entry["labelled_threshold"]
            for name, entry in baselines.items()
            if "labelled_threshold" in entry
        },
        "sweep": sweep,
        "baseline_sweeps": {name: entry["sweep"] for name, entry in baselines.items()},
        "slots": slots,
        "slot_strategies": strategies,
        "slot_strategies_gold_stories": strategies_gold,
        "singletons": singletons,
        "order_tolerance": order_tolerance,
    }
    if report_dir is not None:
        from eval.quality.stories_report import write_stories_report

        write_stories_report(found, report_dir)
    return found


# -- the index ---------------------------------------------------------------------------


@contextmanager
def _writable_copy(
    articles: Sequence[Article],
    settings: Settings,
    index_dir: Path | None,
    advance: Progress,
) -> Iterator[ArticleIndex]:
    """An index of the corpus without its stories, in a temporary directory: a copy of
    `index_dir` when that holds exactly the corpus (never written itself), else built."""
    with tempfile.TemporaryDirectory(prefix="newsrec-eval-stories-") as temporary:
        directory = Path(temporary) / "index"
        local = settings.model_copy(update={"index_dir": directory, "tag_on_index": False})
        if index_dir is not None and not (Path(index_dir) / STORE_FILE).exists():
            # Built there once (without stories: none are assigned), copied from then on.
            _build(articles, settings.model_copy(update={"index_dir": index_dir}), advance)
        if index_dir is not None:
            shutil.copytree(index_dir, directory, ignore=shutil.ignore_patterns("newsrec.lock"))
        else:
            _build(articles, local, advance)
        with open_index(local, writable=True) as index:
            index.story_assigner = None  # clustered below, once, at each threshold
            if index_dir is not None:
                _check_holds(index, articles, Path(index_dir))
            index.store.clear_stories(editorial=True)
            yield index


def _build(articles: Sequence[Article], settings: Settings, advance: Progress) -> None:
    settings = settings.model_copy(update={"tag_on_index": False})
    with open_index(settings, writable=True) as index:
        index.story_assigner = None
        plan = index.plan_upsert([replace(a, story=None) for a in articles])

        def encoded(done: int) -> None:
            advance("encoding", done, plan.texts_to_encode)

        index.apply(plan, progress=encoded)
        index.save()


def _check_holds(index: ArticleIndex, articles: Sequence[Article], source: Path) -> None:
    states = index.store.states([a.id for a in articles])
    differing = sum(
        1 for a in articles if a.id not in states or states[a.id].content_hash != a.content_hash
    )
    if differing or len(index) != len(articles):
        raise InvalidInputError(
            f"{source} holds another corpus ({differing} of {len(articles)} articles missing "
            "or changed): give another --index-dir, or none to build a temporary index"
        )


def _date_order(index: ArticleIndex) -> list[int]:
    """Rows oldest first, undated last: the order a recluster meets them in."""
    catalog = index.catalog
    starts = np.where(np.isnan(catalog.starts), np.inf, catalog.starts)
    order = np.lexsort((catalog.row_ids, starts))
    return [int(row) for row in catalog.row_ids[order]]


def _neighbours(
    assigner: StoryAssigner, rows: list[int], names: dict[int, str], advance: Progress
) -> dict[int, Neighbours]:
    """Every row's candidates as the clustering scores them (`StoryAssigner.candidates`):
    they do not depend on the thresholds, so the sweep computes them once."""
    found: dict[int, Neighbours] = {}
    by_id = {name: row for row, name in names.items()}
    for start in range(0, len(rows), _CANDIDATES_SLICE):
        chunk = [names[row] for row in rows[start : start + _CANDIDATES_SLICE]]
        for article_id, hits in assigner.candidates(chunk).items():
            found[by_id[article_id]] = hits
        advance("candidates", len(chunk), len(rows))
    return found


# -- sweeps and baselines ----------------------------------------------------------------


def _scored(gold: list[str], assigned: dict[int, str], rows: list[int]) -> dict[str, float]:
    return clustering_scores(gold, [assigned[row] for row in rows], labelled=_labelled(gold))


def _order_tolerance(
    rows: list[int],
    names: dict[int, str],
    neighbours: dict[int, Neighbours],
    clustering: StoryClustering,
    in_date_order: dict[int, str],
) -> float:
    """ARI between the stories of a date-ordered stream (what `recluster` gives) and those
    of the same articles arriving in a seeded random order, one write each: how far an
    incremental index may drift from a rebuild. (Each article's candidates are its final
    ones; only assigned candidates count, as when it arrived.)"""
    shuffled = list(rows)
    np.random.default_rng(0).shuffle(shuffled)
    arrived = cluster_stream(shuffled, names, neighbours, clustering)
    return float(adjusted_rand_score([in_date_order[r] for r in rows], [arrived[r] for r in rows]))


def _gold_story_id(gold: str, article_id: str) -> str:
    return f"alone:{article_id}" if gold.startswith(_UNLABELLED) else f"gold:{gold}"


def _alone(labels: list[str]) -> float:
    """The share of articles that are a story of one."""
    sizes = Counter(labels)
    return sum(1 for label in labels if sizes[label] == 1) / len(labels) if labels else nan


def _labelled(gold: list[str]) -> list[bool]:
    return [not story.startswith(_UNLABELLED) for story in gold]


def _sweep(
    rows: list[int],
    names: dict[int, str],
    neighbours: dict[int, Neighbours],
    gold: list[str],
    merge_margin: float,
) -> list[dict[str, Any]]:
    """Every (dense, lexical) threshold pair at the configured merge margin, and without
    merging."""
    entries = []
    for dense in DENSE_SWEEP:
        for lexical in LEXICAL_SWEEP:
            for margin in (merge_margin, NEVER_MERGE):
                clustering = StoryClustering(
                    dense_threshold=dense, lexical_threshold=lexical, merge_margin=margin
                )
                assigned = cluster_stream(rows, names, neighbours, clustering)
                entries.append(
                    {
                        "dense": dense,
                        "lexical": lexical,
                        "merge_margin": None if margin == NEVER_MERGE else margin,
                        "scores": _scored(gold, assigned, rows),
                    }
                )
    return entries


def _tfidf_components(texts: list[str], gold: list[str]) -> dict[str, Any]:
    matrix = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit_transform(texts)
    matrix = sparse.csr_matrix(matrix, dtype=np.float32)
    lowest = min(BASELINE_SWEEP)
    links: list[sparse.coo_matrix] = []
    for start in range(0, matrix.shape[0], 2000):
        block = (matrix[start : start + 2000] @ matrix.T).tocoo()
        keep = (block.data >= lowest) & (block.row + start < block.col)
        links.append(
            sparse.coo_matrix(
                (block.data[keep], (block.row[keep] + start, block.col[keep])),
                shape=(matrix.shape[0], matrix.shape[0]),
            )
        )
    graph = sparse.coo_matrix(sum(links) if links else (matrix.shape[0], matrix.shape[0]))
    sweep = []
    for threshold in BASELINE_SWEEP:
        keep = graph.data >= threshold
        edges = sparse.coo_matrix(
            (np.ones(int(keep.sum())), (graph.row[keep], graph.col[keep])), shape=graph.shape
        )
        _, labels = connected_components(edges, directed=False)
        sweep.append(
            {
                "threshold": threshold,
                "scores": clustering_scores(gold, labels, labelled=_labelled(gold)),
            }
        )
    return _best_of(sweep)


def _earlier_neighbours(index: ArticleIndex, rows: list[int]) -> list[np.ndarray]:
    """For each row (in date order), the positions of its nearest dense neighbours met
    before it: up to 32 of its 64 nearest overall."""
    position_of = {row: position for position, row in enumerate(rows)}
    row_array = np.asarray(rows, dtype=np.int64)
    found = []
    for start in range(0, len(rows), 1024):
        vectors = index.vectors.vectors_of(row_array[start : start + 1024])
        _, hits = index.vectors.search(vectors, 2 * _SINGLE_PASS_NEIGHBOURS)
        for offset, row_hits in enumerate(hits):
            positions = [position_of[int(h)] for h in row_hits if h >= 0 and int(h) in position_of]
            earlier = [p for p in positions if p < start + offset]
            found.append(np.asarray(earlier[:_SINGLE_PASS_NEIGHBOURS], dtype=np.int64))
    return found


def _dense_single_pass(
    vectors: np.ndarray, near: list[np.ndarray], gold: list[str]
) -> dict[str, Any]:
    """vectors: (n, dimension) unit rows in date order; near: earlier neighbours' positions."""
    count = len(vectors)
    sweep = []
    for threshold in BASELINE_SWEEP:
        labels = np.full(count, -1, dtype=np.int64)
        sums: list[np.ndarray] = []
        for position in range(count):
            best, best_score = -1, threshold
            for cluster in sorted({int(labels[i]) for i in near[position]}):
                centroid = sums[cluster]
                score = float(centroid @ vectors[position]) / float(np.linalg.norm(centroid))
                if score >= best_score:
                    best, best_score = cluster, score
            if best < 0:
                best = len(sums)
                sums.append(vectors[position].astype(np.float64).copy())
            else:
                sums[best] = sums[best] + vectors[position]
            labels[position] = best
        sweep.append(
            {
                "threshold": threshold,
                "scores": clustering_scores(gold, labels, labelled=_labelled(gold)),
            }
        )
    return _best_of(sweep)


def _best_of(sweep: list[dict[str, Any]]) -> dict[str, Any]:
    best = max(sweep, key=lambda entry: entry["scores"]["bcubed_f1"])
    found = {"best": best["scores"], "threshold": best["threshold"], "sweep": sweep}
    labelled = [e for e in sweep if not np.isnan(e["scores"].get("labelled_bcubed_f1", np.nan))]
    unlabelled_too = any(
        e["scores"]["labelled_bcubed_f1"] != e["scores"]["bcubed_f1"] for e in labelled
    )
    if labelled and unlabelled_too:
        best_labelled = max(labelled, key=lambda entry: entry["scores"]["labelled_bcubed_f1"])
        found["best_labelled"] = best_labelled["scores"]
        found["labelled_threshold"] = best_labelled["threshold"]
    return found


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


__all__ = ["clustering_scores", "run_stories_eval"]
