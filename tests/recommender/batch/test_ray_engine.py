"""`--engine ray`: the model runs in a Ray Data actor pool on a local Ray instance (2 CPUs).

The Ray path must leave exactly what the local path leaves: the same vectors (bit for bit
with the hashing embedder, within float tolerance with the real model), the same topics,
the same tagged output. The actors tag what they encode: the driver's tagger, wrapped to
count, scores only the vectors no actor computed (an index's stored ones). A dead cluster
address is one line and exit code 2, in seconds.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embeddings import Embedder
from recommender import Article, ArticleIndex, Settings, load_articles, open_index
from recommender.articles import content_hash
from recommender.batch import ray_engine as ray_batch
from recommender.batch.job_texts import file_texts, plan_texts
from recommender.batch.ray_cluster import RayUnavailableError, check_reachable
from recommender.batch.ray_engine import RayBatch, StreamedEmbedder
from recommender.errors import InvalidArticleError
from recommender.index.files import MANIFEST_FILE
from recommender.index.records import AssignedTopics
from recommender.system import build_embedder, index_tagger
from recommender.topics import TopicAssignment, TopicTagger, build_tagger, tag_file
from service.cli.main import main
from tests.conftest import MODEL_INSTALLED, SEEDS_DIR, modules_imported_after, parquet_copy

pytestmark = pytest.mark.ray

ray = pytest.importorskip("ray", reason="the `ray` extra is not installed")

SEEDS = SEEDS_DIR / "articles.jsonl"


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    """One Ray instance for the module; the code under test finds it and keeps it."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


@pytest.fixture
def hashing_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSREC_EMBEDDER", "hashing")
    monkeypatch.delenv("NEWSREC_HOME", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv("NEWSREC_RAY_ADDRESS", raising=False)


class CountingTagger:
    """A real tagger that counts the rows it scores in this process. The actors get their
    own copies (their counts stay in their processes): what the driver's copy counts is
    what the driver tagged itself."""

    def __init__(self, inner: TopicTagger) -> None:
        self.inner = inner
        self.rows = 0

    labels = property(lambda self: self.inner.labels)
    embedder_name = property(lambda self: self.inner.embedder_name)
    dimension = property(lambda self: self.inner.dimension)
    threshold = property(lambda self: self.inner.threshold)
    iptc = property(lambda self: self.inner.iptc)
    reads_terms = property(lambda self: self.inner.reads_terms)

    def scores(self, vectors: np.ndarray, terms: Any = None) -> np.ndarray:
        self.rows += len(vectors)
        return self.inner.scores(vectors, terms)

    def tag(
        self, vectors: np.ndarray, *, threshold: float | None = None, terms: Any = None
    ) -> list[TopicAssignment]:
        self.rows += len(vectors)
        return self.inner.tag(vectors, threshold=threshold, terms=terms)


def _counting_job(settings: Settings) -> tuple[RayBatch, list[CountingTagger]]:
    """A job tagging with the configured tagger, wrapped to count; the list gets the
    driver's copy once built."""
    builder = index_tagger(settings)
    built: list[CountingTagger] = []

    def build(embedder: Embedder) -> TopicTagger:
        assert builder is not None
        built.append(CountingTagger(builder(embedder)))
        return built[-1]

    return RayBatch(settings, tagger=build if builder is not None else None), built


def _index_locally(settings: Settings, articles: list[Article]) -> None:
    with open_index(settings, writable=True) as index:
        index.upsert(articles)
        index.save()


def _index_on_ray(settings: Settings, articles: list[Article], job: RayBatch) -> int:
    """The CLI's sequence, through the core; returns how many texts went to Ray."""
    with open_index(settings, writable=True, embedder=job.embedder, tagger=job.tagger) as index:
        plan = index.plan_upsert(articles)
        texts = plan_texts(index, plan)
        with job.encoding(texts):
            index.apply(plan)
        index.save()
    return len(texts)


def _contents(settings: Settings) -> dict[str, tuple[np.ndarray, object]]:
    """Article id -> (stored vector, assigned topics)."""
    with open_index(settings) as index:
        return {
            article_id: (_vector(index, article_id), index.topics_of(article_id))
            for article_id in index.ids()
        }


def _assert_same_topics(found: object, expected: object) -> None:
    """Same labels in the same order, codes and primary; the scores equal up to float32
    rounding: the actors score in batches of their own, and a matrix product's sums can
    round differently for another batch shape (the local engine's scores also move with
    its write batch size)."""
    if expected is None:
        assert found is None
        return
    assert isinstance(found, AssignedTopics) and isinstance(expected, AssignedTopics)
    assert found.primary == expected.primary
    assert [(label, code) for label, _, code in found.topics] == [
        (label, code) for label, _, code in expected.topics
    ]
    scores = [[score for _, score, _ in topics.topics] for topics in (found, expected)]
    np.testing.assert_allclose(*scores, rtol=0, atol=1e-6)


def _assert_same_tagged(found: str, expected: str) -> None:
    """Tagged outputs (JSON Lines) with the same rows and topics; scores, rounded to 4
    decimals there, may differ by one rounding step (see `_assert_same_topics`)."""
    pairs = zip(found.splitlines(), expected.splitlines(), strict=True)
    for found_row, expected_row in ((json.loads(a), json.loads(b)) for a, b in pairs):
        found_topics, expected_topics = found_row.pop("topics"), expected_row.pop("topics")
        assert found_row == expected_row
        assert [{**t, "score": None} for t in found_topics] == [
            {**t, "score": None} for t in expected_topics
        ]
        np.testing.assert_allclose(
            [t["score"] for t in found_topics],
            [t["score"] for t in expected_topics],
            rtol=0,
            atol=1.5e-4,
        )


def _vector(index: ArticleIndex, article_id: str) -> np.ndarray:
    key = index.article(article_id).content_hash
    return index.store.vectors_by_hash([key], index.embedder.dimension)[key]


def _prompts_encoded_by_a_tagger(settings: Settings) -> int:
    """How many texts building the configured tagger encodes (the zero-shot prompts)."""
    counting = StreamedEmbedder(build_embedder(settings))
    build_tagger(counting, model_dir=settings.topic_model)
    return counting.encoded_here


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_ray_path_stores_the_local_vectors_and_topics(tmp_path: Path) -> None:
    articles = load_articles([SEEDS]).articles
    local = Settings(index_dir=tmp_path / "local", embedder="hashing")
    # Its own prompt cache, empty: the driver encodes the prompts once, as a first run does.
    on_ray = Settings(
        index_dir=tmp_path / "ray", embedder="hashing", prompt_cache_dir=tmp_path / "prompts"
    )
    job, driver_taggers = _counting_job(on_ray)

    _index_locally(local, articles)
    sent = _index_on_ray(on_ray, articles, job)

    expected, found = _contents(local), _contents(on_ray)
    assert sent == len({article.content_hash for article in articles}) and job.actors_used == 2
    assert found.keys() == expected.keys() == {article.id for article in articles}
    for article_id, (vector, topics) in expected.items():
        np.testing.assert_array_equal(found[article_id][0], vector)
        _assert_same_topics(found[article_id][1], topics)
    # The driver encoded no article (only the zero-shot tagger's prompts) and tagged none:
    # every topic is the actors' (the tagger was built once, on the driver, and shipped).
    assert job.embedder.encoded_here == _prompts_encoded_by_a_tagger(on_ray) > 0
    assert [tagger.rows for tagger in driver_taggers] == [0]
    assert job.tagger().scored_here == 0


def test_stored_vectors_are_tagged_on_the_driver_the_rest_on_the_actors(tmp_path: Path) -> None:
    articles = load_articles([SEEDS]).articles
    # The second run changes ten articles' section only: their text keeps its stored vector.
    again = [replace(a, section="Moved") for a in articles[:10]] + articles[10:]
    local = Settings(index_dir=tmp_path / "local", embedder="hashing")
    on_ray = Settings(index_dir=tmp_path / "ray", embedder="hashing")
    for batch in (articles[:60], again):
        _index_locally(local, batch)
    _index_on_ray(on_ray, articles[:60], RayBatch(on_ray, tagger=index_tagger(on_ray)))

    job, driver_taggers = _counting_job(on_ray)
    sent = _index_on_ray(on_ray, again, job)

    stored = {a.content_hash for a in articles[:60]}
    assert sent == len({a.content_hash for a in articles[60:]} - stored) > 0
    assert [tagger.rows for tagger in driver_taggers] == [10] == [job.tagger().scored_here]
    expected, found = _contents(local), _contents(on_ray)
    assert found.keys() == expected.keys()
    for article_id, (_, topics) in expected.items():
        _assert_same_topics(found[article_id][1], topics)


def test_tagging_a_file_on_ray_uses_the_actors_scores(tmp_path: Path) -> None:
    settings = Settings(embedder="hashing")
    articles = load_articles([SEEDS]).articles
    embedder = build_embedder(settings)
    # An index's vectors for the first 20 texts: those are not sent, and tagged here.
    reused = {a.content_hash: embedder.encode([a.text])[0] for a in articles[:20]}

    def lookup(hashes: Any) -> Mapping[str, np.ndarray]:
        return {key: reused[key] for key in hashes if key in reused}

    tag_file(SEEDS, tmp_path / "local.jsonl", build_tagger(embedder), embedder, vectors_for=lookup)
    job, driver_taggers = _counting_job(settings)
    with job.encoding(file_texts(SEEDS, vectors_for=lookup)):
        report = tag_file(
            SEEDS, tmp_path / "ray.jsonl", job.tagger(), job.embedder, vectors_for=lookup
        )

    assert (report.written, report.reused) == (len(articles), len(reused))
    assert [tagger.rows for tagger in driver_taggers] == [len(reused)]
    _assert_same_tagged(
        (tmp_path / "ray.jsonl").read_text(encoding="utf-8"),
        (tmp_path / "local.jsonl").read_text(encoding="utf-8"),
    )


def test_only_texts_without_a_stored_vector_go_to_ray(tmp_path: Path) -> None:
    articles = load_articles([SEEDS]).articles
    settings = Settings(index_dir=tmp_path / "index", embedder="hashing", tag_on_index=False)
    _index_locally(settings, articles[:60])

    job = RayBatch(settings)
    sent = _index_on_ray(settings, articles, job)
    again = _index_on_ray(settings, articles, RayBatch(settings))

    assert sent == len(
        {a.content_hash for a in articles[60:]} - {a.content_hash for a in articles[:60]}
    )
    assert again == 0 and job.embedder.encoded_here == 0
    with open_index(settings) as index:
        assert len(index) == len(articles)


def test_tagging_a_file_sends_only_what_it_still_needs(tmp_path: Path) -> None:
    articles = load_articles([SEEDS]).articles
    out = tmp_path / "out.jsonl"  # a resumed run: one row written, then a torn line
    out.write_text(json.dumps({"id": articles[0].id}) + '\n{"id": "tor', encoding="utf-8")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(SEEDS.read_text(encoding="utf-8") + '{"id": "x"}\n', encoding="utf-8")

    texts = file_texts(SEEDS, output=out)

    assert list(texts) == list(dict.fromkeys(a.content_hash for a in articles[1:]))
    with pytest.raises(InvalidArticleError, match=r"bad\.jsonl, line 106"):
        file_texts(bad)
    assert len(file_texts(bad, skip_invalid=True)) == len({a.content_hash for a in articles})


@pytest.mark.parametrize("ray_input", ["jsonl", "parquet"])
def test_cli_index_and_tag_on_ray_match_local(
    ray_input: str,
    tmp_path: Path,
    hashing_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    driver_taggers: list[CountingTagger] = []

    def counting_build_tagger(embedder: Embedder, **options: Any) -> TopicTagger:
        driver_taggers.append(CountingTagger(build_tagger(embedder, **options)))
        return driver_taggers[-1]

    # Every tagger the commands build in this process (the driver) counts what it scores.
    monkeypatch.setattr("recommender.system.build_tagger", counting_build_tagger)
    monkeypatch.setattr("service.cli.topics.build_tagger", counting_build_tagger)

    def run(*argv: str) -> tuple[str, list[int]]:
        """stdout, and the rows each tagger built on the driver scored."""
        driver_taggers.clear()
        capsys.readouterr()
        code = main(list(argv))
        captured = capsys.readouterr()
        assert code == 0, captured.err
        return captured.out, [tagger.rows for tagger in driver_taggers]

    source = SEEDS if ray_input == "jsonl" else parquet_copy(SEEDS, tmp_path / "seeds.parquet")
    on_ray = ("--engine", "ray")
    tagged_here = {
        "index local": run("index", str(SEEDS), "--index-dir", str(tmp_path / "local"))[1],
        "index ray": run("index", str(source), "--index-dir", str(tmp_path / "ray"), *on_ray)[1],
        "tag local": run("tag", str(SEEDS), "-o", str(tmp_path / "local.jsonl"))[1],
        "tag ray": run("tag", str(source), "-o", str(tmp_path / "ray.jsonl"), *on_ray)[1],
    }
    related = {
        engine: run(
            "related",
            "sec-libya-01",
            "tech-quillon-01",
            "--json",
            "--index-dir",
            str(tmp_path / engine),
        )[0]
        for engine in ("local", "ray")
    }

    # Locally the one tagger scores every article; on Ray it is built once, here, and
    # scores none: the actors did.
    assert tagged_here == {
        "index local": [105],
        "index ray": [0],
        "tag local": [105],
        "tag ray": [0],
    }
    assert related["ray"] == related["local"] and related["ray"].count('"related"') == 2
    tagged = (tmp_path / "ray.jsonl").read_text(encoding="utf-8")
    _assert_same_tagged(tagged, (tmp_path / "local.jsonl").read_text(encoding="utf-8"))
    assert len(tagged.splitlines()) == 105 and '"primary_topic"' in tagged


def test_cli_tag_on_ray_reweights_by_the_files_topic_shares_as_local_does(
    tmp_path: Path, hashing_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = {engine: tmp_path / f"{engine}.jsonl" for engine in ("local", "ray")}

    assert main(["tag", str(SEEDS), "-o", str(outputs["local"])]) == 0
    assert main(["tag", str(SEEDS), "-o", str(outputs["ray"]), "--engine", "ray"]) == 0

    shares = {
        engine: json.loads(path.with_name(path.name + ".topic-shares.json").read_text())
        for engine, path in outputs.items()
    }
    assert shares["ray"] == shares["local"] and shares["local"]["rows"] == 105
    _assert_same_tagged(outputs["ray"].read_text(), outputs["local"].read_text())


@pytest.mark.parametrize("via", ["--ray-address", "RAY_ADDRESS", "NEWSREC_RAY_ADDRESS"])
@pytest.mark.parametrize("command", ["index", "tag"])
def test_a_dead_cluster_address_is_one_line_and_exit_2(
    via: str,
    command: str,
    tmp_path: Path,
    hashing_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    address = f"127.0.0.1:{_closed_port()}"
    argv = [command, str(SEEDS), "--engine", "ray"]
    argv += ["--index-dir", str(tmp_path / "index")] if command == "index" else []
    if via == "--ray-address":
        argv += ["--ray-address", address]
    else:
        monkeypatch.setenv(via, address)

    started = time.perf_counter()
    code = main(argv)
    seconds = time.perf_counter() - started

    captured = capsys.readouterr()
    # Ray is running in this process (the fixture): it must not be used instead.
    assert (code, captured.out) == (2, "")
    assert captured.err.count("\n") == 1
    assert captured.err.startswith(f"error: cannot reach the Ray cluster at {address}")
    assert seconds < 10 and not (tmp_path / "index").exists()


def test_an_open_port_that_is_not_ray_is_one_line_and_exit_2(tmp_path: Path) -> None:
    # A port that accepts connections (the dashboard's, the client server's without ray://)
    # passes the TCP check; Ray's own connect would then retry for many minutes. Run as a
    # process of its own: here, the module's Ray would be used instead, and a connect left
    # retrying would outlive the test.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        environment = {
            key: value
            for key, value in os.environ.items()
            if key not in ("RAY_ADDRESS", "NEWSREC_RAY_ADDRESS", "NEWSREC_HOME")
        }
        environment["NEWSREC_EMBEDDER"] = "hashing"
        argv = [sys.executable, "-m", "service.cli.main", "index", str(SEEDS), "--engine", "ray"]
        argv += ["--index-dir", str(tmp_path / "index"), "--ray-address", address]

        started = time.perf_counter()
        finished = subprocess.run(
            argv, capture_output=True, text=True, env=environment, timeout=60, check=False
        )
        seconds = time.perf_counter() - started

    assert (finished.returncode, finished.stdout) == (2, ""), finished.stderr
    assert finished.stderr.count("\n") == 1, finished.stderr  # no warnings from Ray either
    assert finished.stderr.startswith(f"error: no Ray cluster answered at {address} within")
    # The index is opened before Ray connects: nothing was published in it.
    assert seconds < 15 and not (tmp_path / "index" / MANIFEST_FILE).exists()


def test_an_actor_that_dies_fails_the_job_instead_of_hanging(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class DyingActor(ray_batch._EncodeActor):
        """Exits on a marker text as an OOM-killed or crashed worker does (defined here, so
        Ray ships the class by value)."""

        def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            if any("CRASH" in str(text) for text in batch["text"]):
                os._exit(137)
            return super().__call__(batch)

    def dying_class(settings: Settings, tagger: TopicTagger | None) -> type:
        return type("EncodeActor", (DyingActor,), {"settings": settings, "tagger": tagger})

    monkeypatch.setattr(ray_batch, "_encoder_class", dying_class)
    job = RayBatch(Settings(embedder="hashing", tag_on_index=False))
    texts = [f"text {number}" for number in range(40)] + ["CRASH text"]
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            with job.encoding({content_hash(text): text for text in texts}):
                job.embedder.encode(texts)
        except BaseException as error:
            outcome.append(error)
        else:
            outcome.append(None)

    # Restarted and retried forever, the job would never end: give it a minute.
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(60)

    assert outcome, "the job hung on an actor that keeps dying"
    assert isinstance(outcome[0], RayUnavailableError)
    assert "\n" not in str(outcome[0]) and "died" in str(outcome[0])


def test_a_job_warns_of_no_deprecated_ray_option() -> None:
    job = RayBatch(Settings(embedder="hashing", tag_on_index=False))
    texts = [f"text {number}" for number in range(8)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with job.encoding({content_hash(text): text for text in texts}):
            job.embedder.encode(texts)
    assert [str(w.message) for w in caught if "ray_remote_args" in str(w.message)] == []


def test_addresses_are_checked_by_their_port() -> None:
    port = _closed_port()
    for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}"):
        with pytest.raises(RayUnavailableError, match="Connection refused"):
            check_reachable(address, timeout=2)
    with pytest.raises(RayUnavailableError, match="not a Ray address"):
        check_reachable("127.0.0.1:http")
    # The dashboard's address: refused by name, not read as a host called "http".
    with pytest.raises(RayUnavailableError, match=r"not a Ray address: 'http://.*dashboard"):
        check_reachable(f"http://127.0.0.1:{port}")
    check_reachable(None)  # a local instance: nothing to reach


def test_without_ray_installed_the_engine_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    job = RayBatch(Settings(embedder="hashing"))
    with pytest.raises(RayUnavailableError, match=r"pip install -e '\.\[ray\]'"):
        job.check()


def test_the_core_imports_without_ray() -> None:
    assert modules_imported_after("import recommender, recommender.batch.ray_engine", ["ray"]) == []


@pytest.mark.model
@pytest.mark.skipif(not MODEL_INSTALLED, reason="the MiniLM model is not installed")
def test_the_real_model_on_ray_gives_the_local_vectors_and_topics(tmp_path: Path) -> None:
    articles = load_articles([SEEDS]).articles[:20]
    local = Settings(index_dir=tmp_path / "local", embedder="minilm")
    on_ray = Settings(index_dir=tmp_path / "ray", embedder="minilm")

    _index_locally(local, articles)
    job, driver_taggers = _counting_job(on_ray)
    _index_on_ray(on_ray, articles, job)

    expected, found = _contents(local), _contents(on_ray)
    assert found.keys() == expected.keys() and len(found) == 20
    assert [tagger.rows for tagger in driver_taggers] == [0]  # the actors tagged
    for article_id, (vector, topics) in expected.items():
        # Batches are padded differently on the actors: equal up to float rounding.
        np.testing.assert_allclose(found[article_id][0], vector, atol=1e-5)
        assert found[article_id][1].primary == topics.primary  # type: ignore[union-attr]
        found_labels = [label for label, _, _ in found[article_id][1].topics]  # type: ignore[union-attr]
        assert found_labels == [label for label, _, _ in topics.topics]  # type: ignore[union-attr]
