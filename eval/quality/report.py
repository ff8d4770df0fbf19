"""The evaluation report: `report.md`, a bar chart per metric and a score-distribution plot.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot): no display, no global
backend state, nothing left open. Every file is written to a temporary name in the report
directory and published with `os.replace`, so a reader never sees half a report file.
"""

from __future__ import annotations

import io
import os
import re
from datetime import UTC, datetime
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from eval.quality.outcome import AccuracyView, RelatedEvalOutcome

REPORT_FILE = "report.md"
SCORES_FILE = "scores-default.png"
_TITLE_CHARS = 90
_METRIC_LABELS = {
    "coverage": "catalogue coverage",
    "diversity": "intra-list diversity",
    "duplicates": "duplicate rate",
    "slot_fill": "slot fill rate",
    "slot_same_story": "slot is same story",
    "slot_story": "slot same story where one exists",
    "slot_filler": "slot filled where the story has none",
}


def write_report(outcome: RelatedEvalOutcome, directory: Path) -> list[Path]:
    """Write the report files into `directory` (created if needed); returns their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = [
        _publish(directory / chart_file(metric), _bar_chart(outcome, metric))
        for metric in outcome.accuracy_metrics + outcome.other_metrics
    ]
    if outcome.relevant_scores or outcome.other_scores:
        written.append(_publish(directory / SCORES_FILE, _score_plot(outcome)))
    markdown = render_markdown(outcome, has_scores=SCORES_FILE in {p.name for p in written})
    written.append(_publish(directory / REPORT_FILE, markdown.encode("utf-8")))
    return written


def chart_file(metric: str) -> str:
    return "bars-" + re.sub(r"[^A-Za-z0-9]+", "-", metric.replace("@", "-at-")) + ".png"


def metric_label(metric: str, k: int) -> str:
    base = _METRIC_LABELS.get(metric)
    if base is None:
        return metric
    return base if metric.startswith("slot") else f"{base}@{k}"


# -- markdown ----------------------------------------------------------------------------


def render_markdown(outcome: RelatedEvalOutcome, *, has_scores: bool = True) -> str:
    parts = [
        "# Related articles: evaluation",
        "",
        *_setting_lines(outcome),
        "",
        "## Accuracy: finding same-story articles",
        "",
        "Relevant = every other article of the query's story (ranx; best in bold).",
        "",
        _table(outcome, outcome.metrics, outcome.accuracy_metrics),
        "",
        *_significance_lines(outcome, outcome.plain),
        *_target_lines(outcome.plain),
        "## Accuracy with near-duplicates collapsed",
        "",
        "A second copy of a text tells a reader nothing. Within a story, near-duplicates"
        " count once (the first shown takes the credit, later copies count as not relevant),"
        " and a copy of the query is not relevant. This is fair to a system that drops"
        f" duplicates, as newsrec does. {outcome.collapsed.queries:,} queries keep a"
        " relevant article.",
        "",
        _table(outcome, outcome.collapsed.metrics, outcome.accuracy_metrics),
        "",
        *_significance_lines(outcome, outcome.collapsed),
        *_target_lines(outcome.collapsed),
        "## Beyond accuracy",
        "",
        _beyond_text(outcome.k),
        "",
        _table(outcome, outcome.metrics, outcome.other_metrics, seconds=True),
        "",
        *_page_option_lines(outcome),
        "## Charts",
        "",
        *(
            f"![{metric_label(m, outcome.k)}]({chart_file(m)})"
            for m in outcome.accuracy_metrics + outcome.other_metrics
        ),
        "",
    ]
    if has_scores:
        parts += [
            "## Scores of the default system",
            "",
            f"Scores in the default system's top {outcome.depth}, same-story articles against"
            " the others: how well a score threshold could separate them.",
            "",
            f"![score distribution]({SCORES_FILE})",
            "",
        ]
    parts += _example_lines(outcome)
    return "\n".join(parts) + "\n"


def _setting_lines(outcome: RelatedEvalOutcome) -> list[str]:
    sampled = (
        f" (a seeded sample of the {outcome.candidate_queries:,} articles whose story has "
        "another member)"
        if outcome.queries < outcome.candidate_queries
        else " (every article whose story has another member)"
    )
    default = f"the service at {outcome.via_http}" if outcome.via_http else "in process"
    return [
        f"- corpus: `{outcome.corpus}`, {outcome.articles:,} articles, all of them candidates",
        f"- queries: {outcome.queries:,}{sampled}",
        f"- lists ranked to depth {outcome.depth}; k = {outcome.k}",
        f"- embedder: `{outcome.embedder}`; default system: `newsrec` {default}",
        f"- written {datetime.now(UTC).isoformat(timespec='seconds')}",
        "- baselines keep near-duplicates; the default system drops them (part of what is"
        " measured)",
    ]


def _page_option_lines(outcome: RelatedEvalOutcome) -> list[str]:
    """The default system's list with max_per_story / diversity (eval.quality.page_options)."""
    if not outcome.page_options:
        return []
    metric = f"ndcg@{outcome.k}"
    rows = [
        [
            name,
            f"{figures[metric]:.4f}",
            f"{figures['ndcg_change']:+.4f}",
            f"{figures['diversity']:.4f}",
            f"{figures['diversity_change']:+.4f}",
        ]
        for name, figures in outcome.page_options.items()
    ]
    header = ["page option", metric, "change", "diversity", "change"]
    table = [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]
    return [
        "## Page options of the default system",
        "",
        f"The related list with `max_per_story` or `diversity`: what each costs in {metric}"
        " (same-story judgements) and gains in intra-list diversity, against the plain list.",
        "",
        *table,
        "",
    ]


def _beyond_text(k: int) -> str:
    return (
        f"Coverage: share of the corpus shown in any top {k}. Diversity: 1 - mean pairwise"
        f" cosine (stored vectors) within a top {k}. Duplicates: share of top-{k} items that"
        " are a near-duplicate (MinHash shingle Jaccard >= threshold) of the query or of an"
        " item above them. Slots: previous/next (a baseline's slots apply the core's rule to"
        " its list); fill = filled share of the 2 slots, same story = share of filled slots of"
        " the query's story; same story where one exists = of the sides where the query's story"
        " has an article, those whose slot holds one; filled where none = of the other sides,"
        " those filled anyway. Seconds: time to rank every query and fill its slots."
    )


def _table(
    outcome: RelatedEvalOutcome,
    values: dict[str, dict[str, float]],
    metrics: list[str],
    *,
    seconds: bool = False,
) -> str:
    """Systems x metrics; the best value in bold where "best" means something."""
    headers = ["system", *(metric_label(m, outcome.k) for m in metrics)]
    if seconds:
        headers.append("seconds")
    best = {m: max(values[s][m] for s in outcome.systems) for m in metrics}
    for m in {"duplicates"} & set(metrics):  # lower is better
        best[m] = min(values[s][m] for s in outcome.systems)
    rows = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    for system in outcome.systems:
        cells = [system]
        for metric in metrics:
            value = values[system][metric]
            text = f"{value:.4f}"
            # Random tops coverage and diversity: there, more is not simply better.
            bold = value == best[metric] and metric not in {"coverage", "diversity"}
            cells.append(f"**{text}**" if bold else text)
        if seconds:
            cells.append(f"{outcome.seconds.get(system, 0.0):.1f}")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _significance_lines(outcome: RelatedEvalOutcome, view: AccuracyView) -> list[str]:
    if view.significance is None or view.best_baseline is None:
        return []
    best = view.best_baseline
    lines = [
        f"Significance: `default` against the best baseline by {outcome.primary_metric},"
        f" `{best}`, paired Student's t-test over the queries (ranx compare);"
        " wins/ties/losses count queries where default scores higher/equal/lower.",
        "",
        f"| metric | default | {best} | p | wins / ties / losses |",
        "| --- | --- | --- | --- | --- |",
    ]
    for metric, test in view.significance.items():
        mine = view.metrics["default"][metric]
        theirs = view.metrics[best][metric]
        p = float(test["p"])
        marker = " (significant at 0.05)" if p < 0.05 else ""
        lines.append(
            f"| {metric} | {mine:.4f} | {theirs:.4f} | {p:.3g}{marker} | "
            f"{test['wins']} / {test['ties']} / {test['losses']} |"
        )
    return [*lines, ""]


def _target_lines(view: AccuracyView) -> list[str]:
    target = view.target
    if target is None:
        return []
    verdict = "met" if target.met else "missed"
    return [
        f"Target: error = 1 - {target.metric}. The default's error is"
        f" {target.error_ratio:.3f}x that of the best of TF-IDF, BM25 and dense"
        f" (`{target.reference}`); the bar is {target.bar}x: **{verdict}**.",
        "",
    ]


def _example_lines(outcome: RelatedEvalOutcome) -> list[str]:
    if not outcome.examples:
        return []
    lines = [
        "## Worked examples",
        "",
        "Top 5 per system; yes = same story as the query. Titles are quoted from the corpus:"
        " keep its licence's attribution when sharing this report.",
        "",
    ]
    for example in outcome.examples:
        systems = list(example.lists)
        lines += [
            f"### {_clip(example.query_title)}",
            "",
            f"`{example.query_id}`, story: {example.story}",
            "",
            "| rank | " + " | ".join(f"{s} | same story" for s in systems) + " |",
            "| --- |" + " --- | --- |" * len(systems),
        ]
        depth = max((len(items) for items in example.lists.values()), default=0)
        for rank in range(depth):
            cells = [str(rank + 1)]
            for system in systems:
                items = example.lists[system]
                if rank < len(items):
                    item = items[rank]
                    cells += [_clip(item.title), "yes" if item.same_story else "no"]
                else:
                    cells += ["", ""]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def _clip(text: str) -> str:
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat if len(flat) <= _TITLE_CHARS else flat[: _TITLE_CHARS - 3] + "..."


# -- plots -------------------------------------------------------------------------------


def _bar_chart(outcome: RelatedEvalOutcome, metric: str) -> bytes:
    values = [outcome.metrics[system][metric] for system in outcome.systems]
    figure, axes = _figure()
    colours = ["tab:orange" if s == "default" else "tab:blue" for s in outcome.systems]
    bars = axes.bar(outcome.systems, values, color=colours)
    axes.bar_label(bars, labels=[f"{v:.3f}" for v in values], fontsize=8)
    axes.set_ylabel(metric_label(metric, outcome.k))
    axes.set_ylim(0, max(1.0, max(values, default=0.0) * 1.1))
    axes.set_title(f"{metric_label(metric, outcome.k)}: {Path(outcome.corpus).name}")
    return _png(figure)


def _score_plot(outcome: RelatedEvalOutcome) -> bytes:
    figure, axes = _figure()
    every = outcome.relevant_scores + outcome.other_scores
    bins = 40 if every else 1
    low, high = (min(every), max(every)) if every else (0.0, 1.0)
    for scores, label, colour in (
        (outcome.other_scores, "other story / no story", "tab:gray"),
        (outcome.relevant_scores, "same story", "tab:orange"),
    ):
        if scores:
            axes.hist(
                scores, bins=bins, range=(low, high), density=True, alpha=0.6,
                label=f"{label} ({len(scores):,})", color=colour,
            )  # fmt: skip
    axes.set_xlabel(f"default system score (top {outcome.depth})")
    axes.set_ylabel("density")
    axes.legend()
    axes.set_title(f"Score distribution: {Path(outcome.corpus).name}")
    return _png(figure)


def _figure() -> tuple[Figure, Axes]:
    figure = Figure(figsize=(7, 3.6))
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


def _publish(path: Path, content: bytes) -> Path:
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("wb") as stream:
        stream.write(content)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, path)
    return path
