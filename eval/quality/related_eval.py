"""`newsrec eval related`: systems side by side on a story-labelled corpus, with a report.

For every query article (its story has another member) each system ranks the whole corpus
to depth 100; same-story articles are relevant. The "default" system is whatever
`recommender.build_recommender` builds from the settings (exactly what the CLI and the
service run), in process over an index of the corpus, or through a running service's API
with `via_http`.

    from eval.quality.related_eval import run_related_eval
    run_related_eval(Path("seeds/articles.jsonl"), report_dir=Path("report"), settings=Settings())
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from embeddings import Embedder
from eval.quality.collapsed import CollapsedJudgements
from eval.quality.corpus_index import corpus_index, corpus_row_ids
from eval.quality.datasets import LabelledCorpus, load_labelled_corpus
from eval.quality.http_system import HttpSystem
from eval.quality.metrics import (
    accuracy,
    accuracy_metrics,
    coverage,
    duplicate_rate,
    intra_list_diversity,
    significance,
    slot_metrics,
    to_qrels,
    to_run,
)
from eval.quality.outcome import AccuracyView, Example, ExampleItem, RelatedEvalOutcome, Target
from eval.quality.page_options import page_option_costs
from eval.quality.report import write_report
from eval.quality.slots import RankingSlots, RecommenderSlots, SlotSource, story_side_rates
from eval.quality.systems import (
    BM25System,
    DenseSystem,
    HybridSystem,
    RandomSystem,
    Ranked,
    RecencySystem,
    RecommenderSystem,
    RelatedSystem,
    TfidfSystem,
)
from recommender import ArticleIndex, InvalidInputError, Settings, build_embedder
from recommender import build_recommender as build_default_recommender

SYSTEM_NAMES = ("random", "recency", "tfidf", "bm25", "dense", "hybrid", "default")
REFERENCE_SYSTEMS = ("tfidf", "bm25", "dense")  # the bar is set against these
DEPTH = 100
OTHER_METRICS = [
    "coverage",
    "diversity",
    "duplicates",
    "slot_fill",
    "slot_same_story",
    "slot_story",
    "slot_filler",
]
EXAMPLES = 3
EXAMPLE_DEPTH = 5
_QUERY_CHUNK = 256  # queries per call to a system: the unit of progress

Progress = Callable[[str, int, int], None]
"""Called with (task, items just done, task total)."""


def run_related_eval(
    corpus_path: Path,
    k: int = 10,
    systems: Sequence[str] = SYSTEM_NAMES,
    report_dir: Path | None = None,
    via_http: str | None = None,
    limit_queries: int | None = None,
    *,
    index_dir: Path | None = None,
    settings: Settings,
    embedder: Embedder | None = None,
    on_progress: Progress | None = None,
) -> dict[str, Any]:
    """Evaluate, write the report when `report_dir` is given, return the outcome as a dict."""
    outcome = evaluate_related(
        corpus_path,
        k,
        systems,
        via_http=via_http,
        limit_queries=limit_queries,
        index_dir=index_dir,
        settings=settings,
        embedder=embedder,
        on_progress=on_progress,
    )
    found = outcome.to_dict()
    if report_dir is not None:
        found["report_files"] = [str(path) for path in write_report(outcome, report_dir)]
    return found


def evaluate_related(
    corpus_path: Path,
    k: int = 10,
    systems: Sequence[str] = SYSTEM_NAMES,
    *,
    via_http: str | None = None,
    limit_queries: int | None = None,
    index_dir: Path | None = None,
    settings: Settings,
    embedder: Embedder | None = None,
    on_progress: Progress | None = None,
) -> RelatedEvalOutcome:
    names = check_systems(systems)
    if not 1 <= k <= DEPTH:
        raise InvalidInputError(f"k must be between 1 and {DEPTH}, got {k}")
    embedder = embedder or build_embedder(settings)
    progress = on_progress or (lambda _task, _done, _total: None)
    corpus = load_labelled_corpus(Path(corpus_path), limit_queries=limit_queries)

    def encoded(count: int) -> None:
        progress("indexing", count, len(corpus))

    # Indexed without the gold `story`: the index would take it as the editor's, and the
    # default system's slots and story caps would read the answer (stories are clustered).
    unlabelled = [replace(article, story=None) for article in corpus.articles]
    with corpus_index(unlabelled, settings, embedder, index_dir, progress=encoded) as index:
        row_ids = corpus_row_ids(index, corpus.articles)
        vectors = index.vectors_of(row_ids)
        signatures = np.stack([index.fingerprint(int(r)) for r in row_ids])
        rankings: dict[str, dict[str, Ranked]] = {}
        slots: dict[str, dict[str, tuple[str | None, str | None]]] = {}
        seconds: dict[str, float] = {}
        with _systems(names, corpus, index, vectors, settings, via_http) as built:
            for name, (system, slot_source) in built.items():
                started = time.perf_counter()
                rankings[name] = _rank_all(system, corpus.queries, progress)
                source = slot_source or RankingSlots(corpus, rankings[name])
                slots[name] = source.slots(corpus.queries)
                seconds[name] = time.perf_counter() - started
            page_options = {}
            default = built["default"][0] if "default" in built else None
            if isinstance(default, RecommenderSystem):  # in process (not via_http)
                page_options = page_option_costs(
                    default.recommender,
                    corpus,
                    k,
                    lambda ids: vectors[[corpus.positions[i] for i in ids]],
                )

    def vector_of(ids: Sequence[str]) -> np.ndarray:
        return vectors[[corpus.positions[i] for i in ids]]

    def signature_of(article_id: str) -> np.ndarray:
        return signatures[corpus.positions[article_id]]

    metric_names = accuracy_metrics(k)
    plain = _view("same story", corpus.qrels, rankings, metric_names)
    collapsed_judgements = CollapsedJudgements(corpus, signatures, settings.duplicate_threshold)
    collapsed = _view(
        "same story, near-duplicates collapsed",
        collapsed_judgements.qrels,
        {name: collapsed_judgements.run(ranked) for name, ranked in rankings.items()},
        metric_names,
    )
    metrics = {
        name: {
            **plain.metrics[name],
            "coverage": coverage(rankings[name], len(corpus), k),
            "diversity": intra_list_diversity(rankings[name], vector_of, k),
            "duplicates": duplicate_rate(
                rankings[name], signature_of, k, settings.duplicate_threshold
            ),
            **slot_metrics(corpus, slots[name]),
            **story_side_rates(corpus, slots[name]),
        }
        for name in names
    }
    relevant, other = _score_split(corpus, rankings.get("default", {}))
    return RelatedEvalOutcome(
        corpus=str(corpus_path),
        articles=len(corpus),
        queries=len(corpus.queries),
        candidate_queries=corpus.candidate_queries,
        k=k,
        depth=DEPTH,
        embedder=embedder.name,
        via_http=via_http,
        systems=names,
        accuracy_metrics=metric_names,
        other_metrics=list(OTHER_METRICS),
        metrics=metrics,
        seconds=seconds,
        plain=plain,
        collapsed=collapsed,
        examples=_examples(corpus, rankings, ["default", plain.best_baseline]),
        relevant_scores=relevant,
        other_scores=other,
        page_options=page_options,
    )


def _view(
    title: str,
    judgements: dict[str, dict[str, int]],
    rankings: dict[str, dict[str, Ranked]],
    metric_names: list[str],
) -> AccuracyView:
    """Accuracy of every system under `judgements`; default against the best baseline."""
    queries = [query for query, relevant in judgements.items() if relevant]
    qrels = to_qrels({query: judgements[query] for query in queries})
    runs = {name: to_run(ranked, queries, name) for name, ranked in rankings.items()}
    metrics = {name: accuracy(qrels, run, metric_names) for name, run in runs.items()}
    primary = metric_names[0]
    baselines = [name for name in rankings if name != "default"]
    best = max(baselines, key=lambda n: metrics[n][primary]) if baselines else None
    if "default" not in rankings:
        return AccuracyView(title, len(queries), metrics, best)
    return AccuracyView(
        title,
        len(queries),
        metrics,
        best,
        significance(qrels, runs["default"], runs[best], metric_names) if best else None,
        _target(metrics, primary),
    )


def check_systems(systems: Sequence[str]) -> list[str]:
    names = list(dict.fromkeys(s.strip() for s in systems if s.strip()))
    unknown = [name for name in names if name not in SYSTEM_NAMES]
    if unknown or not names:
        problem = f"unknown system {unknown[0]!r}" if unknown else "no system given"
        raise InvalidInputError(f"{problem}; choose from {', '.join(SYSTEM_NAMES)}")
    return names


@contextmanager
def _systems(
    names: list[str],
    corpus: LabelledCorpus,
    index: ArticleIndex,
    vectors: np.ndarray,
    settings: Settings,
    via_http: str | None,
) -> Iterator[dict[str, tuple[RelatedSystem, SlotSource | None]]]:
    """Each system with its own slot source (None: read slots off its ranking)."""
    built: dict[str, tuple[RelatedSystem, SlotSource | None]] = {}
    shared: dict[str, Any] = {}

    def tfidf() -> TfidfSystem:
        if "tfidf" not in shared:
            shared["tfidf"] = TfidfSystem(corpus)
        return shared["tfidf"]

    def dense() -> DenseSystem:
        if "dense" not in shared:
            shared["dense"] = DenseSystem(corpus, vectors)
        return shared["dense"]

    with ExitStack() as stack:
        for name in names:
            if name == "random":
                built[name] = (RandomSystem(corpus), None)
            elif name == "recency":
                built[name] = (RecencySystem(corpus), None)
            elif name == "tfidf":
                built[name] = (tfidf(), None)
            elif name == "bm25":
                built[name] = (BM25System(corpus), None)
            elif name == "dense":
                built[name] = (dense(), None)
            elif name == "hybrid":
                built[name] = (HybridSystem(dense(), tfidf()), None)
            elif via_http is not None:
                http = stack.enter_context(HttpSystem(via_http))
                built[name] = (http, http)
            else:
                recommender = build_default_recommender(settings, index)
                built[name] = (RecommenderSystem(recommender), RecommenderSlots(recommender))
        yield built


def _rank_all(system: RelatedSystem, queries: list[str], progress: Progress) -> dict[str, Ranked]:
    ranked: dict[str, Ranked] = {}
    for start in range(0, len(queries), _QUERY_CHUNK):
        chunk = queries[start : start + _QUERY_CHUNK]
        ranked.update(system.rank(chunk, DEPTH))
        progress(system.name, len(chunk), len(queries))
    return ranked


def _score_split(
    corpus: LabelledCorpus, ranking: dict[str, Ranked]
) -> tuple[list[float], list[float]]:
    relevant: list[float] = []
    other: list[float] = []
    for query_id, ranked in ranking.items():
        for article_id, score in ranked:
            (relevant if corpus.same_story(query_id, article_id) else other).append(score)
    return relevant, other


def _target(metrics: dict[str, dict[str, float]], primary: str) -> Target | None:
    references = [name for name in REFERENCE_SYSTEMS if name in metrics]
    if not references:
        return None
    reference = max(references, key=lambda n: metrics[n][primary])
    mine, theirs = 1.0 - metrics["default"][primary], 1.0 - metrics[reference][primary]
    # A perfect reference leaves no room: any default error is then infinitely worse.
    ratio = mine / theirs if theirs > 0.0 else (0.0 if mine <= 0.0 else float("inf"))
    return Target(primary, reference, ratio)


def _examples(
    corpus: LabelledCorpus, rankings: dict[str, dict[str, Ranked]], shown: Sequence[str | None]
) -> list[Example]:
    systems = [name for name in shown if name is not None and name in rankings]
    rng = np.random.default_rng(1)
    picks = sorted(rng.choice(len(corpus.queries), min(EXAMPLES, len(corpus.queries)), False))
    examples = []
    for position in picks:
        query_id = corpus.queries[int(position)]
        lists = {
            name: [
                ExampleItem(
                    article_id,
                    corpus.article(article_id).title,
                    score,
                    corpus.same_story(query_id, article_id),
                )
                for article_id, score in rankings[name][query_id][:EXAMPLE_DEPTH]
            ]
            for name in systems
        }
        query = corpus.article(query_id)
        examples.append(Example(query_id, query.title, query.story, lists))
    return examples
