"""The index a stories evaluation clusters: a temporary copy of the corpus's index with its
stories removed (built once when none is given), its rows in the order a recluster meets
them, and every row's candidates as the clustering scores them."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np

from recommender import Article, ArticleIndex, InvalidInputError, Settings
from recommender.index.files import STORE_FILE
from recommender.ranking.results import Neighbours
from recommender.stories.assigner import StoryAssigner
from recommender.system import open_index

Progress = Callable[[str, int, int], None]
_CANDIDATES_SLICE = 512


@contextmanager
def writable_copy(
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
            index.clear_stories(editorial=True)
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
    states = index.states([a.id for a in articles])
    differing = sum(
        1 for a in articles if a.id not in states or states[a.id].content_hash != a.content_hash
    )
    if differing or len(index) != len(articles):
        raise InvalidInputError(
            f"{source} holds another corpus ({differing} of {len(articles)} articles missing "
            "or changed): give another --index-dir, or none to build a temporary index"
        )


def date_order(index: ArticleIndex) -> list[int]:
    """Rows oldest first, undated last: the order a recluster meets them in."""
    catalog = index.catalog
    starts = np.where(np.isnan(catalog.starts), np.inf, catalog.starts)
    order = np.lexsort((catalog.row_ids, starts))
    return [int(row) for row in catalog.row_ids[order]]


def candidate_neighbours(
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
