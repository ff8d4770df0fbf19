"""What one related-articles evaluation found: plain data, JSON-ready via `to_dict`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ExampleItem:
    id: str
    title: str
    score: float
    same_story: bool


@dataclass(frozen=True)
class Example:
    """One query with the top of each shown system's list."""

    query_id: str
    query_title: str
    story: str | None
    lists: dict[str, list[ExampleItem]]


@dataclass(frozen=True)
class Target:
    """The issue's bar: default error (1 - nDCG@k) <= `bar` x the best reference's error."""

    metric: str
    reference: str  # the best of the reference systems by `metric`
    error_ratio: float  # default error / reference error
    bar: float = 0.75

    @property
    def met(self) -> bool:
        return self.error_ratio <= self.bar


@dataclass(frozen=True)
class AccuracyView:
    """Every system's accuracy under one relevance judgement, and how default compares."""

    title: str
    queries: int  # queries with at least one relevant article under this judgement
    metrics: dict[str, dict[str, float]]  # system -> ranx metric -> value
    best_baseline: str | None = None  # the best non-default system by the primary metric
    significance: dict[str, dict[str, float | int]] | None = None  # default vs best_baseline
    target: Target | None = None


@dataclass(frozen=True)
class RelatedEvalOutcome:
    corpus: str
    articles: int
    queries: int
    candidate_queries: int  # before --limit-queries sampled them
    k: int
    depth: int
    embedder: str
    via_http: str | None
    systems: list[str]
    accuracy_metrics: list[str]
    other_metrics: list[str]
    metrics: dict[str, dict[str, float]]  # system -> metric -> value (plain accuracy, others)
    seconds: dict[str, float]  # system -> time to rank every query (and fill its slots)
    plain: AccuracyView
    collapsed: AccuracyView  # near-duplicates collapsed (eval.quality.collapsed)
    examples: list[Example] = field(default_factory=list)
    relevant_scores: list[float] = field(default_factory=list)  # default's top `depth`
    other_scores: list[float] = field(default_factory=list)
    # The default system's related list with each page option (eval.quality.page_options).
    page_options: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def primary_metric(self) -> str:
        return self.accuracy_metrics[0]

    def to_dict(self) -> dict[str, Any]:
        found = asdict(self)
        # The raw score lists can be large; the report's plot is where they belong.
        found.pop("relevant_scores")
        found.pop("other_scores")
        for view in ("plain", "collapsed"):
            target = getattr(self, view).target
            if target is not None:
                found[view]["target"]["met"] = target.met
        return found
