"""Learn a site's story clustering from its own story labels, cross-validated
(`newsrec stories tune`).

No one clustering holds on every archive: long-running stories (an election over a year)
want a slower story time factor and merging, while designed same-topic confusers and
one-line items lose with them (docs/stories.md). So, as the ranking's `newsrec tune`:
learn from labels, and keep only what beats the default held out.

Every article's candidates are computed once, scored without the story time factor
(`StoryAssigner.candidates` with `time_boost=0`), with how many days apart each is. Each
point of the grid then scales them by its own factor (1 + b * exp(-days / t)) / (1 + b)
and clusters the whole index as a stream, oldest first (`cluster_stream`, what
`recluster` runs), so a grid of a few hundred points costs clustering passes, not
candidate searches. Only the labelled articles are scored: per-article BCubed precision
and recall over them. A label line whose `story` is null says the article stands alone (a
one-off: a story of its own, so merging it into a story costs precision); an article with
no label line is not known either way and is not scored (WCEP's story-less items).

Folds are whole gold stories (a story's articles would teach the point that joins them),
the singletons dealt out too. On each fold the best point on the other folds' articles is
scored on its articles, beside the default; the per-article scores are all computed over
the same clustering of the whole index, and an article's score reads only its own gold
story, so a fold's labels never reach the choice made for it. The profile is accepted only
when the pooled held-out gain is positive and a paired t-test over the gold stories (each
its held-out articles' mean BCubed F1) gives p < `SIGNIFICANCE`: the articles of one story
rise and fall together, so counting them as independent would find one story's merge
"significant" (the labelled Wikinews: p = 3e-7 over articles, 0.61 over stories, nearly
all of the gain one election story). The profile is then the point best on all labels.
"""

from __future__ import annotations

import gzip
import itertools
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy.stats import ttest_rel

from recommender.dates import SECONDS_PER_DAY
from recommender.errors import InvalidInputError
from recommender.index.article_index import ArticleIndex
from recommender.ranking.results import Neighbours
from recommender.stories.assigner import StoryAssigner
from recommender.stories.clustering import StoryClustering, VectorsOf, cluster_stream
from recommender.stories.profile import StoryProfile

SIGNIFICANCE = 0.05
MIN_LABELLED = 10
TIME_DECAY_DAYS = (90.0, 180.0, 365.0, 730.0)
TIME_BOOSTS = (0.0, 0.5, 1.0)
MERGE_MARGINS = (0.0, 0.05, 0.15, 3.0)  # 3: never merge
DENSE_THRESHOLDS = (0.6, 0.7, 0.8)
LEXICAL_THRESHOLDS = (0.1, 0.15, 0.2, 0.25)
_CANDIDATES_SLICE = 512
ONE_OFF = "\x00one-off:"
"""The story id of an article labelled as standing alone, prefixed by what no story id
in a JSON label can clash with by accident."""

# (stage, done so far, total): "candidates" then "grid".
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class StoryTuningResult:
    default: StoryClustering
    tuned: StoryClustering  # the point best on all labels
    held_out_default: float  # BCubed F1 over the held-out labelled articles, pooled
    held_out_tuned: float
    p_value: float  # the paired test over articles: reported, not required
    # The paired test over the gold stories (each its articles' mean F1): what acceptance
    # requires, as the articles of one story are not independent.
    story_p_value: float
    # The mean of the held-out articles' own BCubed F1: what the t-test compares.
    article_f1_default: float
    article_f1_tuned: float
    labelled: int  # labelled articles in the index
    stories: int  # gold stories among them
    skipped_labels: int  # labelled ids not in the index
    folds: int
    points: int  # grid points tried
    fold_choices: tuple[StoryClustering, ...] = ()  # the point each fold's training chose
    # Labelled articles whose stored story is an editor's (the input's `story`): tuning
    # clusters them like any other, but a recluster leaves them where the editor put them.
    editorial_labelled: int = 0

    @property
    def accepted(self) -> bool:
        gain = self.held_out_tuned - self.held_out_default
        return gain > 0.0 and self.story_p_value < SIGNIFICANCE

    def profile(self) -> StoryProfile:
        return StoryProfile.of_clustering(
            self.tuned,
            {
                "bcubed_f1_default": round(self.held_out_default, 4),
                "bcubed_f1_tuned": round(self.held_out_tuned, 4),
                "p_value": float(f"{self.story_p_value:.3g}"),
                "article_p_value": float(f"{self.p_value:.3g}"),
                "labelled": self.labelled,
                "folds": self.folds,
            },
        )


def read_story_labels(path: Path) -> dict[str, str]:
    """{article id: story id} from a JSONL file (optionally .gz) of `{"id", "story"}`
    lines; other fields are ignored (a corpus file is a labels file). `"story": null` is a
    one-off, given a story id of its own (`ONE_OFF`); a line without a `story` key says
    nothing of its article and is skipped."""
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        lines = raw.decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile) as error:
        raise InvalidInputError(f"{path}: cannot read labels ({error})") from None
    labels: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise InvalidInputError(f"{path}:{number}: not a JSON object") from None
        if not isinstance(row, dict) or not isinstance(row.get("id"), str):
            raise InvalidInputError(f"{path}:{number}: a label line needs a string 'id'")
        if "story" not in row:
            continue
        story = row["story"]
        if story is None:
            story = ONE_OFF + row["id"]
        elif not isinstance(story, str):
            raise InvalidInputError(f"{path}:{number}: 'story' must be a string")
        labels[row["id"]] = story
    return labels


def story_grid(default: StoryClustering) -> list[StoryClustering]:
    """The default first, then every point. The decay is moot without a boost: those
    points are tried once, with the default's decay (a profile never claims one learned)."""
    points = [default]
    for boost, days, margin, dense, lexical in itertools.product(
        TIME_BOOSTS, TIME_DECAY_DAYS, MERGE_MARGINS, DENSE_THRESHOLDS, LEXICAL_THRESHOLDS
    ):
        if boost == 0.0 and days != TIME_DECAY_DAYS[0]:
            continue
        point = replace(
            default,
            time_boost=boost,
            time_decay_days=days if boost else default.time_decay_days,
            merge_margin=margin,
            dense_threshold=dense,
            lexical_threshold=lexical,
        )
        if point != default:
            points.append(point)
    return points


def bcubed_per_article(gold: Sequence[str], predicted: Sequence[str]) -> np.ndarray:
    """Each article's BCubed (precision, recall): (n, 2). Precision: the share of its
    predicted story that is of its gold story; recall: the share of its gold story that is
    in its predicted story (both counting the given articles only)."""
    pairs = list(zip(gold, predicted, strict=True))
    both, gold_sizes, predicted_sizes = Counter(pairs), Counter(gold), Counter(predicted)
    return np.asarray(
        [(both[(g, p)] / predicted_sizes[p], both[(g, p)] / gold_sizes[g]) for g, p in pairs],
        dtype=np.float64,
    ).reshape(-1, 2)


def bcubed_f1(per_article: np.ndarray) -> float:
    """BCubed F1 of these articles: the harmonic mean of their mean precision and recall
    (as eval/quality/story_scores.py computes it)."""
    precision, recall = per_article.mean(axis=0) if len(per_article) else (0.0, 0.0)
    return _f1(float(precision), float(recall))


def tune_stories(
    index: ArticleIndex,
    assigner: StoryAssigner,
    labels: dict[str, str],
    *,
    folds: int = 5,
    on_progress: Progress | None = None,
) -> StoryTuningResult:
    """Cross-validated choice of the story clustering for this index (see the module doc).
    `assigner.clustering` is the default the tuned point must beat."""
    advance = on_progress or (lambda stage, done, total: None)
    default = assigner.clustering
    rows = _date_order(index)
    names = {row: s.id for row, s in index.summaries_by_row_id(rows).items()}
    rows = [row for row in rows if row in names]
    indexed = set(names.values())
    labelled_rows = [row for row in rows if names[row] in labels]
    gold = [labels[names[row]] for row in labelled_rows]
    skipped = sum(1 for article_id in labels if article_id not in indexed)
    stories = len(set(gold))
    if len(labelled_rows) < MIN_LABELLED or stories < 2 or stories == len(gold):
        # The labels not indexed are named: all of them usually means the wrong index.
        raise InvalidInputError(
            f"{len(labelled_rows)} labelled articles in the index ({skipped} labels name ids "
            f"not indexed), in {stories} stories; story tuning needs at least {MIN_LABELLED}, "
            "in at least 2 stories, one of them shared"
        )
    unscaled, days = _unscaled_candidates(index, assigner, rows, names, advance)
    vectors_of = _read_vectors(index, rows)
    grid = story_grid(default)
    # The grid runs through one time factor after another: only the current one's scaled
    # candidates are held (each is as large as the candidates themselves).
    scaled_key, scaled = (0.0, 0.0), unscaled
    per_point = np.empty((len(grid), len(labelled_rows), 2))
    for number, point in enumerate(grid):
        key = (point.time_boost, point.time_decay_days if point.time_boost else 0.0)
        if key != scaled_key:
            scaled_key, scaled = key, _with_time_factor(unscaled, days, *key)
        assigned = cluster_stream(rows, names, scaled, point, vectors_of)
        per_point[number] = bcubed_per_article(gold, [assigned[row] for row in labelled_rows])
        advance("grid", number + 1, len(grid))
    folds = max(2, min(folds, stories))
    fold_of = _fold_of_stories(gold, folds)
    tuned = np.empty((len(labelled_rows), 2))
    choices = []
    for fold in range(folds):
        train, test = fold_of != fold, fold_of == fold
        best = int(np.argmax([bcubed_f1(scores[train]) for scores in per_point]))
        tuned[test] = per_point[best, test]
        choices.append(grid[best])
    baseline = per_point[0]
    p_value = _paired_p(_f1_each(tuned), _f1_each(baseline))
    story_p_value = _paired_p(
        _story_means(_f1_each(tuned), gold), _story_means(_f1_each(baseline), gold)
    )
    chosen = grid[int(np.argmax([bcubed_f1(scores) for scores in per_point]))]
    return StoryTuningResult(
        default=default,
        tuned=chosen,
        held_out_default=bcubed_f1(baseline),
        held_out_tuned=bcubed_f1(tuned),
        p_value=p_value,
        story_p_value=story_p_value,
        article_f1_default=float(_f1_each(baseline).mean()),
        article_f1_tuned=float(_f1_each(tuned).mean()),
        labelled=len(labelled_rows),
        stories=stories,
        skipped_labels=skipped,
        folds=folds,
        points=len(grid),
        fold_choices=tuple(choices),
        editorial_labelled=_editorial(index, labelled_rows),
    )


def _editorial(index: ArticleIndex, rows: list[int]) -> int:
    """How many of these rows an editor placed (not those that joined an editor's story)."""
    placed = {row for row, (_, editorial) in index.stories.all_rows().items() if editorial}
    return len(placed.intersection(rows))


def _date_order(index: ArticleIndex) -> list[int]:
    """Rows oldest first, undated last: the order `recluster` meets them in."""
    catalog = index.catalog
    starts = np.where(np.isnan(catalog.starts), np.inf, catalog.starts)
    return [int(row) for row in catalog.row_ids[np.lexsort((catalog.row_ids, starts))]]


def _unscaled_candidates(
    index: ArticleIndex,
    assigner: StoryAssigner,
    rows: list[int],
    names: dict[int, str],
    advance: Progress,
) -> tuple[dict[int, Neighbours], dict[int, np.ndarray]]:
    """Every row's candidates scored without the story time factor, and the days apart of
    each (nan when either is undated)."""
    plain = StoryAssigner(assigner.recommender, replace(assigner.clustering, time_boost=0.0))
    by_id = {name: row for row, name in names.items()}
    found: dict[int, Neighbours] = {}
    days: dict[int, np.ndarray] = {}
    for start in range(0, len(rows), _CANDIDATES_SLICE):
        chunk = rows[start : start + _CANDIDATES_SLICE]
        for article_id, neighbours in plain.candidates([names[row] for row in chunk]).items():
            row = by_id[article_id]
            found[row] = neighbours
            starts = index.starts_of(np.asarray([row] + [r for r, _ in neighbours.hits]))
            days[row] = np.abs(starts[1:] - starts[0]) / SECONDS_PER_DAY
        advance("candidates", min(start + len(chunk), len(rows)), len(rows))
    return found, days


def _with_time_factor(
    unscaled: dict[int, Neighbours],
    days: dict[int, np.ndarray],
    boost: float,
    decay_days: float,
) -> dict[int, Neighbours]:
    """The candidates as `StoryAssigner.candidates` scores them under this time factor."""
    if boost == 0.0:
        return unscaled
    scaled: dict[int, Neighbours] = {}
    for row, neighbours in unscaled.items():
        closeness = np.nan_to_num(np.exp(-days[row] / decay_days), nan=0.0)
        factor = (1.0 + boost * closeness) / (1.0 + boost)
        hits = [
            (r, score * float(f)) for (r, score), f in zip(neighbours.hits, factor, strict=True)
        ]
        hits.sort(key=lambda hit: -hit[1])
        scaled[row] = Neighbours(neighbours.dense_weight, hits)
    return scaled


def _read_vectors(index: ArticleIndex, rows: list[int]) -> VectorsOf:
    """The index's vectors of these rows, read once: the centroid guard reads them at
    every grid point."""
    held = index.vectors_of(np.asarray(rows, dtype=np.int64))
    position = {row: at for at, row in enumerate(rows)}

    def vectors_of(wanted: np.ndarray) -> np.ndarray:
        return held[[position[int(row)] for row in wanted]]

    return vectors_of


def _fold_of_stories(gold: Sequence[str], folds: int) -> np.ndarray:
    """A deterministic fold per article, a gold story's articles always together; the
    stories of several articles and the singletons are each dealt round the folds, so
    every fold holds both."""
    sizes = Counter(gold)
    rng = np.random.default_rng(0)
    fold_by_story: dict[str, int] = {}
    position = 0
    for group in (
        sorted(s for s, n in sizes.items() if n > 1),
        sorted(s for s, n in sizes.items() if n == 1),
    ):
        for i in rng.permutation(len(group)):
            fold_by_story[group[i]] = position % folds
            position += 1
    return np.asarray([fold_by_story[story] for story in gold])


def _paired_p(tuned: np.ndarray, default: np.ndarray) -> float:
    """The paired t-test's p; without any difference 1, and with the same difference on
    every article (no variance: the t statistic is infinite) 0."""
    differences = tuned - default
    if not np.any(differences):
        return 1.0
    if np.ptp(differences) == 0.0:
        return 0.0
    return float(ttest_rel(tuned, default).pvalue)


def _story_means(values: np.ndarray, gold: Sequence[str]) -> np.ndarray:
    """The mean of each gold story's articles' values, stories in sorted order: (stories,)."""
    _, story_of = np.unique(np.asarray(gold), return_inverse=True)
    return np.bincount(story_of, weights=values) / np.bincount(story_of)


def _f1_each(per_article: np.ndarray) -> np.ndarray:
    precision, recall = per_article[:, 0], per_article[:, 1]
    total = precision + recall
    return np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0
