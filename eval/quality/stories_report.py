"""The `newsrec eval stories --report DIR` files: report.md, stories.json and the sweep plot.

Drawn on matplotlib's Agg canvas directly (no pyplot, no display), written atomically.
"""

from __future__ import annotations

import json
import math
from math import nan
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from eval.quality.text_table import aligned_lines
from recommender.index.publish import write_json_atomically

METRICS = (
    "pair_precision",
    "pair_recall",
    "pair_f1",
    "bcubed_f1",
    "ari",
    "labelled_pair_f1",
    "labelled_bcubed_f1",
)
SWEEP_PLOT = "stories-sweep.png"


def stories_table(found: dict[str, Any]) -> list[str]:
    """The systems' scores as a fixed-width table (also what the CLI prints)."""
    header = ["system", *(m.replace("labelled_", "lab_") for m in METRICS)]
    rows = [
        [name, *(f"{scores.get(m, float('nan')):.4f}" for m in METRICS)]
        for name, scores in found["systems"].items()
    ]
    return aligned_lines([header, *rows])


def _support(configured: dict[str, Any]) -> str:
    found = ""
    if (support := configured.get("support", 1)) != 1:
        found += f", support {support} from size {configured.get('support_from_size')}"
    if (floor := configured.get("centroid_floor", -1.0)) > -1.0:
        found += f", centroid floor {floor} from size {configured.get('centroid_from_size')}"
    return found


def summary_lines(found: dict[str, Any]) -> list[str]:
    configured, best = found["configured"], found["best_sweep"]
    thresholds = ", ".join(f"{n} {t}" for n, t in found["baseline_thresholds"].items())
    singletons = found.get("singletons", {})
    slots = found["slots"]
    return [
        f"{found['corpus']}: {found['articles']:,} articles, {found['gold_stories']:,} gold "
        f"stories, embedder {found['embedder']}",
        *stories_table(found),
        f"default: dense {configured['dense']}, lexical {configured['lexical']}, merge margin "
        f"{configured['merge_margin']}{_support(configured)}; best of the sweep (BCubed F1): "
        f"dense {best['dense']}, "
        f"lexical {best['lexical']}, merge margin {best['merge_margin']}; baselines (cosine) "
        f"at {thresholds}",
        f"articles left alone (a story of one): default {_rate(singletons.get('default', nan))}"
        f", gold {_rate(singletons.get('gold', nan))}; ARI of a random arrival order against "
        f"date order (recluster): {_rate(found.get('order_tolerance', nan))}",
        f"slots ({int(slots['queries']):,} queries): same-story {_rate(slots['same_story'])} "
        f"where one exists, wrong side {int(slots['wrong_side'])}, filler "
        f"{_rate(slots['filler'])} where the story has none, kind related "
        f"{_rate(slots['related_kind'])} of filled slots",
        *strategies_table(found.get("slot_strategies", {})),
        "the same over the gold stories (a perfect clustering):",
        *strategies_table(found.get("slot_strategies_gold_stories", {})),
    ]


def strategies_table(strategies: dict[str, dict[str, float]]) -> list[str]:
    """Each slot strategy's rates on the clustered stories (`eval.quality.slots.strategy_rates`)."""
    if not strategies:
        return []
    header = ["slot strategy", "same_story", "filler", "wrong_side", "kind_related"]
    rows = [
        [
            name,
            _rate(rates["same_story"]),
            _rate(rates["filler"]),
            str(int(rates["wrong_side"])),
            _rate(rates["related_kind"]),
        ]
        for name, rates in strategies.items()
    ]
    return aligned_lines([header, *rows])


def write_stories_report(found: dict[str, Any], directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    report = directory / "stories.md"
    temporary = report.with_name(f".{report.name}.tmp")
    lines = ["# Story clustering", "", "```", *summary_lines(found), "```", ""]
    lines.append(f"![threshold sweep]({SWEEP_PLOT})")
    temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    temporary.replace(report)
    write_json_atomically(directory / "stories.json", json.loads(json.dumps(found, default=str)))
    plot = directory / SWEEP_PLOT
    _sweep_plot(found, plot)
    return [report, directory / "stories.json", plot]


def _sweep_plot(found: dict[str, Any], path: Path) -> None:
    figure = Figure(figsize=(7, 4.2))
    axes = figure.add_subplot()
    lines: dict[str, list[tuple[float, float]]] = {}
    for entry in found["sweep"]:
        merge = "no merge" if entry["merge_margin"] is None else "merge"
        label = f"newsrec, lexical {entry['lexical']}, {merge}"
        lines.setdefault(label, []).append((entry["dense"], entry["scores"]["bcubed_f1"]))
    for label, points in lines.items():
        axes.plot(*zip(*points, strict=True), marker="o", markersize=2, linewidth=1, label=label)
    for name, sweep in found["baseline_sweeps"].items():
        points = [(e["threshold"], e["scores"]["bcubed_f1"]) for e in sweep]
        axes.plot(*zip(*points, strict=True), linestyle="--", linewidth=2, label=name)
    axes.set_xlabel("threshold (newsrec: the dense side's; baselines: cosine)")
    axes.set_ylabel("BCubed F1")
    axes.set_title(Path(found["corpus"]).name)
    axes.legend(fontsize=5, ncol=2)
    axes.grid(alpha=0.3)
    temporary = path.with_name(f".{path.name}.tmp")
    FigureCanvasAgg(figure).print_png(str(temporary))
    temporary.replace(path)


def _rate(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}"
