"""How the CLI shows a write: the progress bars around the phases of `IndexWriter`'s sequence.

The CLI holds the index alone, so it takes no lock; around an apply it holds story
assignment back (then assigns with its own bar) and, with `--engine ray`, encodes the plan's
texts on the cluster meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from embeddings import ProgressCallback
from recommender import ArticleIndex
from recommender.batch.ray_engine import RayBatch
from recommender.index.upsert_plan import UpsertPlan
from recommender.writer import PhasedProgress, WriteHooks
from service.cli import output
from service.cli import stories as cli_stories
from service.cli.ray_engine import encoding_plan


class CliWriteHooks(WriteHooks):
    """Progress bars for `newsrec index` and `delete` (`job`: the Ray job, if any)."""

    def __init__(self, index: ArticleIndex, job: RayBatch | None = None) -> None:
        self._index = index
        self._job = job

    @contextmanager
    def applying(self, plan: UpsertPlan) -> Iterator[ProgressCallback | None]:
        with (
            cli_stories.assigned_after(self._index),  # then stories, with their own bar
            encoding_plan(self._job, self._index, plan),  # --engine ray: the model runs on Ray
            output.progress_bar("encoding", plan.texts_to_encode) as advance,
        ):
            yield advance

    @contextmanager
    def list_phases(self) -> Iterator[PhasedProgress | None]:
        with output.phased_progress() as phases:
            yield phases
