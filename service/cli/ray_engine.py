"""`--engine ray` for `newsrec index` and `newsrec tag`: options and the thin glue to the core.

The commands run their local code either way; with Ray, the model's work (encoding, and
scoring the topics) is done by a Ray Data pipeline (recommender.batch.ray_engine) while that code
runs. Ray is imported only then.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated

import typer

from recommender import ArticleIndex, Settings
from recommender.batch.job_texts import file_texts, plan_texts
from recommender.batch.ray_engine import RayBatch, TaggerBuilder
from recommender.errors import InvalidInputError
from recommender.index.upsert_plan import UpsertPlan
from recommender.topics import VectorLookup


class Engine(StrEnum):
    local = "local"
    ray = "ray"


EngineOption = Annotated[
    Engine,
    typer.Option(
        "--engine",
        help="Where the model runs: this process, or a Ray Data pipeline (the `ray` extra).",
    ),
]
RayAddress = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="Ray cluster for --engine ray (HOST:PORT, ray://HOST:PORT, auto) "
        "[default: NEWSREC_RAY_ADDRESS, else RAY_ADDRESS, else a local Ray instance].",
        show_default=False,
    ),
]


def batch_job(
    engine: Engine, settings: Settings, address: str | None, tagger: TaggerBuilder | None
) -> RayBatch | None:
    """The Ray job for `--engine ray` (its cluster checked now, in seconds), else None.
    Its actors tag with what `tagger` builds (None: they only encode)."""
    if engine is Engine.local:
        if address is not None:
            raise InvalidInputError("--ray-address needs --engine ray")
        return None
    job = RayBatch(settings, tagger=tagger, address=address)
    job.check()
    return job


@contextmanager
def encoding_plan(job: RayBatch | None, index: ArticleIndex, plan: UpsertPlan) -> Iterator[None]:
    """With a job, the texts `index.apply(plan)` needs are encoded on Ray meanwhile."""
    if job is None:
        yield
        return
    with job.encoding(plan_texts(index, plan)):
        yield


@contextmanager
def encoding_file(
    job: RayBatch | None,
    source: Path,
    output: Path | IO[str] | None,
    vectors_for: VectorLookup | None,
    skip_invalid: bool,
) -> Iterator[None]:
    """With a job, the texts `tag_file(source, output, ...)` needs are encoded on Ray."""
    if job is None:
        yield
        return
    texts = file_texts(source, output=output, vectors_for=vectors_for, skip_invalid=skip_invalid)
    with job.encoding(texts):
        yield
