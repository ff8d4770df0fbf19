"""Batch encoding and tagging on Ray Data: the model and the tagger run in a pool of actors.

`newsrec index --engine ray` and `newsrec tag --engine ray` read and validate their input on
the driver exactly as the local path does, then send the texts that still need a vector
through a Ray Data pipeline (`from_items` -> `map_batches` with one embedder per actor). Each
actor also scores its vectors with the job's topic tagger, built once on the driver and
shipped to the actors as the plain arrays it is (a trained or saved model is read from disk
without the encoder; the default zero-shot tagger embeds its taxonomy prompts once, here).
The vectors stream back keyed by content hash into a `StreamedEmbedder`, their scores into a
`StreamedTagger`, which the unchanged local code (`ArticleIndex.apply`, `tag_file`) encodes
and tags with: each of its calls waits for the vectors it asks for while the actors go on
with the next ones, and finds their topics already scored. So the index (store, FAISS,
catalog, topics) and the tagged output are written by the same code as without Ray,
overlapping the model's work, and a failure part-way keeps the batches already committed.

The driver ships the texts itself, so a remote cluster needs no shared storage, only newsrec
installed on its nodes. Ray is imported only when a job runs (`ray_cluster`, which reaches
the cluster): the core imports without it (the `ray` extra). What to send is worked out by
`job_texts`.

RayUnavailableError (an InvalidInputError: one line, exit code 2 in the CLI) is raised when
Ray is not installed, the configured address cannot be reached within the timeout, or the
pipeline fails. The work is never quietly done locally instead.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np

from embeddings import Embedder
from recommender.batch.ray_cluster import (
    DEFAULT_CONNECT_TIMEOUT,
    RayUnavailableError,
    check_reachable,
    connected,
    import_ray,
    one_line,
    resolve_address,
)
from recommender.batch.streamed import StreamedEmbedder, StreamedTagger, VectorBatches
from recommender.errors import InvalidInputError
from recommender.index.lexical import term_vectors
from recommender.settings import Settings
from recommender.system import build_embedder
from recommender.topics.assignment import TopicTagger

MAX_RESTARTS = 1
"""Restarts of an actor that died (OOM-killed, a crash in native code), and retries of the
batch it held: Ray Data's default is forever, so a batch that kills every actor it reaches
would hang the job silently; once more, then the job fails with the actor's death."""
_REMOTE_ARGS_DEPRECATED = r"`ray_remote_args` is deprecated"
"""Ray 2.60's warning for actor options given as keywords (see `_vector_batches`)."""
DEFAULT_RAY_BATCH = 256
"""Texts per actor call: large enough that Ray's per-call cost vanishes, small enough that
no actor is left working alone at the end of a job."""

TaggerBuilder = Callable[[Embedder], TopicTagger]
"""Builds a topic tagger for vectors of the given embedder (zero-shot embeds its prompts)."""


class RayBatch:
    """One batch job whose model work runs on Ray.

    Build the index (or call `tag_file`) on `embedder` and `tagger()`, then run the local
    code inside `with job.encoding(texts):` (texts from `plan_texts` or `file_texts`). With
    `tagger` (a builder), the actors score their vectors too, and `tagger()` serves those
    scores; without, they only encode.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        tagger: TaggerBuilder | None = None,
        address: str | None = None,
        actors: int | None = None,
        batch_size: int = DEFAULT_RAY_BATCH,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        init_timeout: float | None = None,
    ) -> None:
        if actors is not None and actors < 1:
            raise InvalidInputError(f"actors must be at least 1, got {actors}")
        if batch_size < 1:
            raise InvalidInputError(f"batch size must be at least 1, got {batch_size}")
        self.settings = settings
        self.address = resolve_address(address or settings.ray_address)
        self.actors = actors
        self.batch_size = batch_size
        self.connect_timeout = connect_timeout
        self.init_timeout = init_timeout
        self.embedder = StreamedEmbedder(build_embedder(settings))
        self.actors_used = 0
        self._build_tagger = tagger
        self._tagger: StreamedTagger | None = None

    def check(self) -> None:
        """Fail now, in seconds, if Ray is missing or the cluster's address is dead."""
        import_ray()
        check_reachable(self.address, self.connect_timeout)

    def tagger(self) -> StreamedTagger:
        """The tagger the local code tags with, built on the first call: it serves the
        actors' scores, and scores any other vector (an index's stored one) here."""
        if self._tagger is None:
            if self._build_tagger is None:
                raise InvalidInputError("this Ray job was set up without a topic tagger")
            self._tagger = StreamedTagger(self._build_tagger(self.embedder))
        return self._tagger

    @contextmanager
    def encoding(self, texts: Mapping[str, str]) -> Iterator[None]:
        """Run the pipeline on `texts` (content hash -> text) while the block runs; `embedder`
        serves the vectors as they arrive, in the order given, and `tagger()` their scores.
        Nothing to encode: no Ray."""
        if not texts:
            yield
            return
        self.check()
        # Built before Ray starts, so a bad topic model fails first and the actors get it.
        tagger = self.tagger() if self._build_tagger is not None else None
        with connected(self.address, self.init_timeout) as ray:
            batches = self._vector_batches(ray, texts, tagger)
            self.embedder.attach(batches, texts)
            try:
                yield
            finally:
                self.embedder.detach()

    def _vector_batches(
        self, ray: Any, texts: Mapping[str, str], tagger: StreamedTagger | None
    ) -> VectorBatches:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.actors_used = self.actors or max(1, cpus)
        items = [{"hash": key, "text": text} for key, text in texts.items()]
        # At least one block per actor, or a small job leaves actors idle.
        rows_per_block = min(self.batch_size, math.ceil(len(items) / self.actors_used))
        blocks = math.ceil(len(items) / rows_per_block)
        # In order, so the local code's first batch is the pipeline's first output.
        ray.data.DataContext.get_current().execution_options.preserve_order = True
        actor_class = _encoder_class(self.settings, tagger.inner if tagger else None)
        with warnings.catch_warnings():
            # Ray 2.60 deprecates actor options given as map_batches' extra keywords (gone
            # in 2.64) in favour of named parameters, but names none for restarts (its
            # named ones: label_selector, fallback_strategy, max_calls, resources,
            # accelerator_type, runtime_env). Bounded restarts are what keeps a job whose
            # actor keeps dying from hanging (Ray Data restarts forever by default), so
            # they stay, and this warning alone, for this call alone, is not shown.
            warnings.filterwarnings(
                "ignore", message=_REMOTE_ARGS_DEPRECATED, category=DeprecationWarning
            )
            dataset = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
                actor_class,
                batch_size=rows_per_block,
                batch_format="numpy",
                # One model per actor, each on one CPU (Ray then gives torch one thread).
                compute=ray.data.ActorPoolStrategy(size=self.actors_used),
                num_cpus=1,
                max_restarts=MAX_RESTARTS,
                max_task_retries=MAX_RESTARTS,
            )
        batches = _converted_errors(
            ray, dataset.iter_batches(batch_size=None, batch_format="numpy")
        )
        return _received(batches, tagger)


class _EncodeActor:
    """A Ray Data callable class: one embedder per actor, built once, reused for every batch.

    `settings` and `tagger` are class attributes of a subclass made per job (`_encoder_class`),
    so each actor builds exactly the driver's embedder (`build_embedder`, the composition
    root) and scores with a copy of the driver's tagger: its arrays, shipped with the class.
    """

    settings: ClassVar[Settings]
    tagger: ClassVar[TopicTagger | None]

    def __init__(self) -> None:
        self._embedder = build_embedder(self.settings)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """{"hash": (n,), "text": (n,)} -> {"hash": (n,), "vector": (n, dimension) float32,
        and with a tagger "scores": (n, labels)}"""
        texts = [str(text) for text in batch["text"]]
        vectors = self._embedder.encode(texts)
        result = {"hash": batch["hash"], "vector": vectors}
        if self.tagger is not None:
            # A model with a lexical head reads the text's terms, as the index stores them.
            terms = term_vectors(texts) if self.tagger.reads_terms else None
            result["scores"] = self.tagger.scores(vectors, terms)
        return result


def _encoder_class(settings: Settings, tagger: TopicTagger | None) -> type[_EncodeActor]:
    return type("EncodeActor", (_EncodeActor,), {"settings": settings, "tagger": tagger})


def _converted_errors(
    ray: Any, batches: Iterable[dict[str, np.ndarray]]
) -> Iterator[dict[str, np.ndarray]]:
    try:
        yield from batches
    except ray.exceptions.RayError as error:
        raise RayUnavailableError(f"the Ray pipeline failed: {one_line(error)}") from None


def _received(
    batches: Iterable[dict[str, np.ndarray]], tagger: StreamedTagger | None
) -> VectorBatches:
    """The pipeline's output as the embedder takes it (hash -> vector); the scores go to the
    tagger first, so the vectors' topics are there by the time the local code tags them."""
    for batch in batches:
        if tagger is not None:
            tagger.remember(batch["vector"], batch["scores"])
        yield dict(zip(batch["hash"].tolist(), batch["vector"], strict=True))
