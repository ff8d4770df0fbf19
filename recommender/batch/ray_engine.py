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
installed on its nodes. Ray is imported only here, and only when a job runs: the core
imports without it (the `ray` extra).

RayUnavailableError (an InvalidInputError: one line, exit code 2 in the CLI) is raised when
Ray is not installed, the configured address cannot be reached within the timeout, or the
pipeline fails. The work is never quietly done locally instead.
"""

from __future__ import annotations

import json
import logging
import math
import socket
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, ClassVar

import numpy as np

from embeddings import Embedder
from recommender.batch.streamed import StreamedEmbedder, StreamedTagger, VectorBatches
from recommender.errors import InvalidArticleError, InvalidInputError
from recommender.index.article_index import ArticleIndex, UpsertPlan
from recommender.index.lexical import term_vectors
from recommender.ingest.loaders import read_article_rows
from recommender.settings import Settings
from recommender.system import build_embedder
from recommender.topics.assignment import TopicTagger
from recommender.topics.tag_output import resume_source
from recommender.topics.vectors import VectorLookup

DEFAULT_CONNECT_TIMEOUT = 5.0
"""Seconds to wait for a cluster's port: Ray's own retries take minutes on a dead address."""
DEFAULT_INIT_TIMEOUT = 3.0
"""Seconds to wait for `ray.init` to connect to a cluster whose port is open: on a port that
is not Ray's it retries for many minutes. Well under 5 s, after which Ray's native client
prints warnings to stderr that no logger silences; a healthy cluster answers in well under
a second.

A ray:// address gets DEFAULT_CLIENT_INIT_TIMEOUT instead: the client server starts a server
process for each new client, which takes seconds of its own."""
DEFAULT_CLIENT_INIT_TIMEOUT = 30.0
"""Seconds to wait for `ray.init` on a ray:// address (see DEFAULT_INIT_TIMEOUT)."""
MAX_RESTARTS = 1
"""Restarts of an actor that died (OOM-killed, a crash in native code), and retries of the
batch it held: Ray Data's default is forever, so a batch that kills every actor it reaches
would hang the job silently; once more, then the job fails with the actor's death."""
_REMOTE_ARGS_DEPRECATED = r"`ray_remote_args` is deprecated"
"""Ray 2.60's warning for actor options given as keywords (see `_vector_batches`)."""
DEFAULT_RAY_BATCH = 256
"""Texts per actor call: large enough that Ray's per-call cost vanishes, small enough that
no actor is left working alone at the end of a job."""
_GCS_PORT = 6379
_CLIENT_PORT = 10001

TaggerBuilder = Callable[[Embedder], TopicTagger]
"""Builds a topic tagger for vectors of the given embedder (zero-shot embeds its prompts)."""


class RayUnavailableError(InvalidInputError):
    """Ray is not installed, the cluster cannot be reached, or the pipeline failed."""


def resolve_address(configured: str | None) -> str | None:
    """The cluster to use: --ray-address, else the setting (NEWSREC_RAY_ADDRESS, else
    RAY_ADDRESS), else None (a local Ray instance on this machine)."""
    return configured or None


def check_reachable(address: str | None, timeout: float = DEFAULT_CONNECT_TIMEOUT) -> None:
    """Fail within `timeout` seconds if `address`'s port does not accept a connection.

    `ray.init` on a dead address retries for minutes before it gives up; a plain TCP connect
    says the same in one round trip. "auto", "local" and None have no port to try.
    """
    target = _host_and_port(address)
    if target is None:
        return
    try:
        socket.create_connection(target, timeout=timeout).close()
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        raise RayUnavailableError(
            f"cannot reach the Ray cluster at {address} ({reason}; {timeout:g} s timeout); "
            "check --ray-address, NEWSREC_RAY_ADDRESS or RAY_ADDRESS. Nothing was run"
        ) from None


def plan_texts(index: ArticleIndex, plan: UpsertPlan) -> dict[str, str]:
    """Content hash -> text of what `index.apply(plan)` will encode, in the order it will ask
    (changed articles whose text has no stored vector; each distinct text once)."""
    return index.texts_to_encode(plan)


def file_texts(
    source: Path,
    *,
    output: Path | IO[str] | None = None,
    vectors_for: VectorLookup | None = None,
    skip_invalid: bool = False,
) -> dict[str, str]:
    """Content hash -> text of what `tag_file(source, output, ...)` will encode, in file order.

    Rows already in `output` (a resumed run) and texts `vectors_for` has are left out. A bad
    row raises here, before anything is encoded or written, unless `skip_invalid`.
    """
    written = _ids_in_output(output)
    texts: dict[str, str] = {}
    for _, row in read_article_rows(Path(source)):
        if isinstance(row, InvalidArticleError):
            if not skip_invalid:
                raise row
            continue
        if row.id not in written:
            texts.setdefault(row.content_hash, row.text)
    if vectors_for is not None and texts:
        for key in vectors_for(list(texts)):
            texts.pop(key, None)
    return texts


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
        _import_ray()
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
        with _connected(self.address, self.init_timeout) as ray:
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
        raise RayUnavailableError(f"the Ray pipeline failed: {_one_line(error)}") from None


def _received(
    batches: Iterable[dict[str, np.ndarray]], tagger: StreamedTagger | None
) -> VectorBatches:
    """The pipeline's output as the embedder takes it (hash -> vector); the scores go to the
    tagger first, so the vectors' topics are there by the time the local code tags them."""
    for batch in batches:
        if tagger is not None:
            tagger.remember(batch["vector"], batch["scores"])
        yield dict(zip(batch["hash"].tolist(), batch["vector"], strict=True))


@contextmanager
def _connected(address: str | None, timeout: float | None = None) -> Iterator[Any]:
    """Ray, connected to `address` (None: a new local instance); shut down after if this
    call connected. A process already connected (a test, a notebook) keeps its connection."""
    ray = _import_ray()
    if ray.is_initialized():
        yield ray
        return
    # Ray's INFO lines and per-operator progress bars would mix with the CLI's output.
    logging.getLogger("ray").setLevel(logging.ERROR)
    _init(ray, address, timeout)
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        # A failed pipeline logs its tracebacks too; its error reaches the caller, in one line.
        logging.getLogger("ray.data").setLevel(logging.CRITICAL)
        yield ray
    finally:
        ray.shutdown()


def _init(ray: Any, address: str | None, timeout: float | None) -> None:
    """`ray.init`, given `timeout` seconds when it connects to a cluster (None: the default
    for the kind of address, DEFAULT_INIT_TIMEOUT or DEFAULT_CLIENT_INIT_TIMEOUT).

    A port that accepts connections but is not Ray's (the dashboard's, the client server's
    without ray://, anything else) passes `check_reachable`, and `ray.init` then retries for
    many minutes in native code that no signal interrupts. So it runs in a daemon thread,
    and the caller gives up at the deadline: the thread is left to Ray's retries and ends
    with the process. Starting a local instance (None, "local") has no deadline.
    """
    options = {"include_dashboard": False, "logging_level": logging.ERROR, "log_to_driver": False}
    where = address or "a local instance"
    outcome: list[BaseException | None] = []

    def connect() -> None:
        try:
            ray.init(address=address, **options)
        except BaseException as error:  # handed to the caller, who reports it
            outcome.append(error)
        else:
            outcome.append(None)

    if timeout is None:
        client = (address or "").startswith("ray://")
        timeout = DEFAULT_CLIENT_INIT_TIMEOUT if client else DEFAULT_INIT_TIMEOUT
    if address is None or address == "local":
        connect()
    else:
        thread = threading.Thread(target=connect, name="newsrec-ray-init", daemon=True)
        thread.start()
        thread.join(timeout)
    if not outcome:
        raise _no_answer(address, timeout)
    error = outcome[0]
    if isinstance(error, (ConnectionError, RuntimeError, ValueError)):
        raise RayUnavailableError(f"cannot start Ray at {where}: {_one_line(error)}") from None
    if error is not None:
        raise error


def _no_answer(address: str | None, timeout: float) -> RayUnavailableError:
    expected = (
        "a Ray client server, 10001 by default"
        if (address or "").startswith("ray://")
        else "the head's GCS port, 6379 by default; the client server needs ray://"
    )
    return RayUnavailableError(
        f"no Ray cluster answered at {address} within {timeout:g} s (the port is open: "
        f"is it {expected}?). Nothing was run"
    )


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError:
        raise RayUnavailableError(
            "the ray engine needs Ray: pip install -e '.[ray]' (or use --engine local)"
        ) from None
    return ray


def _host_and_port(address: str | None) -> tuple[str, int] | None:
    """HOST:PORT, [IPv6]:PORT or ray://HOST:PORT; a missing port is Ray's default."""
    if address is None or address in ("auto", "local"):
        return None
    text, port = address, _GCS_PORT
    if text.startswith("ray://"):
        text, port = text.removeprefix("ray://"), _CLIENT_PORT
    elif "://" in text:
        # http://head:8265 is the dashboard (and job submission), which ray.init cannot use.
        raise RayUnavailableError(
            f"not a Ray address: {address!r} (expected HOST:PORT for the head's GCS port, "
            "6379 by default, or ray://HOST:10001; a dashboard http:// address is not one)"
        )
    text = text.split("/", 1)[0]
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    if not host or (port_text and not port_text.isdigit()):
        raise RayUnavailableError(f"not a Ray address: {address!r} (expected HOST:PORT)")
    return host, int(port_text) if port_text else port


def _ids_in_output(output: Path | IO[str] | None) -> set[str]:
    """Ids a previous run already wrote to `output` (its partial file, else the complete
    output: what tag_file resumes from). A line that does not parse is left to tag_file,
    which repairs or refuses the file: missing one here costs one encoding."""
    resumed = resume_source(output) if isinstance(output, Path) else None
    if resumed is None:
        return set()
    ids: set[str] = set()
    with resumed.open("rb") as stream:
        for line in stream:
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict) and isinstance(value.get("id"), str):
                ids.add(value["id"])
    return ids


_DIRECT_CAUSE = "The above exception was the direct cause of the following exception:"


def _one_line(error: BaseException) -> str:
    """Ray's errors wrap the worker's in others (RayTaskError, UserCodeException) and carry
    its traceback as text: the worker's own last line says what happened."""
    text = str(error)
    if _DIRECT_CAUSE in text:
        lines = [line.strip() for line in text.split(_DIRECT_CAUSE)[0].splitlines()]
        if any(lines):
            return [line for line in lines if line][-1]
    inner = getattr(error, "cause", None)
    if isinstance(inner, BaseException) and inner is not error:
        return _one_line(inner)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
