"""`newsrec migrate`: a FAISS index's vectors moved to Qdrant and back, without the model.

The seeds are indexed once with the hashing embedder; each test works on a copy. Qdrant
runs in qdrant-client's local mode (in process, kept in the index directory): a test double
with the server's API, not a production store. After a migration the index must open on
Qdrant with no setting, answer related and slots as FAISS exact did, under the filters too;
a second run must change nothing; an interrupted copy must resume where it stopped; and
every refusal must be one line with exit code 2.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("qdrant_client")

from recommender import (
    IndexCorruptError,
    IndexMismatchError,
    InvalidInputError,
    Recommender,
    RelatedFilters,
    Settings,
    load_articles,
    open_index,
)
from recommender.dates import PublishedTime
from recommender.index.article_index import ArticleIndex
from recommender.index.files import QDRANT_LOCAL_DIR
from recommender.index.migrate import (
    CHECKPOINT_FILE,
    MigrationReport,
    QdrantMigration,
    migrate_to_faiss,
)
from recommender.index.records import AssignedTopics
from recommender.index.vectors.choice import BackendChoice, recorded_backend
from recommender.index.vectors.qdrant_index import QdrantVectorIndex
from service.cli.main import main
from tests.conftest import SEEDS_DIR

pytestmark = pytest.mark.slow

LOCAL = BackendChoice.qdrant(None, None)  # local mode in the index directory
FILTERS = [
    RelatedFilters(),
    RelatedFilters(since="2025-06-01"),
    RelatedFilters(max_age_days=30),
    RelatedFilters(topic="politics"),
    RelatedFilters(topic="disaster", until="2025-09-30"),
]
Answers = dict[str, list[tuple[str, float]]]
SOME_IDS = [
    json.loads(row)["id"]
    for row in (SEEDS_DIR / "articles.jsonl").read_text(encoding="utf-8").splitlines()[::20]
]


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOME", "VECTOR_BACKEND", "QDRANT_URL", "QDRANT_COLLECTION"):
        monkeypatch.delenv(f"NEWSREC_{name}", raising=False)
    monkeypatch.setenv("NEWSREC_EMBEDDER", "hashing")
    for name, value in (
        ("TRANSFORMERS_VERBOSITY", "error"),
        ("HF_HUB_DISABLE_PROGRESS_BARS", "1"),
        ("TOKENIZERS_PARALLELISM", "false"),
    ):
        monkeypatch.setenv(name, value)  # main() sets these; monkeypatch undoes them


def _open(directory: Path, *, writable: bool = False, **settings: object) -> ArticleIndex:
    return open_index(Settings(index_dir=directory, **settings), writable=writable)  # type: ignore[arg-type]


def _answers(index: ArticleIndex) -> tuple[dict[int, Answers], dict[str, tuple[str, str]]]:
    recommender = Recommender(index, list_depth=0)  # every list ranked live, on the backend
    ids = list(index.ids())
    related = {
        number: {
            article_id: [(hit.id, round(hit.score, 5)) for hit in hits]
            for article_id, hits in recommender.related_many(ids, k=10, filters=filters).items()
        }
        for number, filters in enumerate(FILTERS)
    }
    slots = {
        article_id: (found.previous and found.previous.id, found.next and found.next.id)
        for article_id, found in recommender.slots_many(ids).items()
    }
    return related, slots  # type: ignore[return-value]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[object, object]]:
    """The seeds on FAISS (exact at this size), and its answers."""
    directory = tmp_path_factory.mktemp("seeded") / "index"
    with pytest.MonkeyPatch.context() as patch:
        for name in ("VECTOR_BACKEND", "QDRANT_URL", "QDRANT_COLLECTION"):
            patch.delenv(f"NEWSREC_{name}", raising=False)
        with _open(directory, writable=True, embedder="hashing") as index:
            index.upsert(load_articles([SEEDS_DIR / "articles.jsonl"]).articles)
            index.save()
            assert index.vector_kind == "exact"
            answers = _answers(index)
    return directory, answers


@pytest.fixture
def index_dir(seeded: tuple[Path, object], tmp_path: Path) -> Path:
    return Path(shutil.copytree(seeded[0], tmp_path / "index"))


@pytest.fixture
def faiss_answers(seeded: tuple[Path, tuple[object, object]]) -> tuple[object, object]:
    return seeded[1]


def _migrate(
    directory: Path,
    target: BackendChoice = LOCAL,
    *,
    replace: bool = False,
    embedder: str | None = None,
    **options: object,
) -> MigrationReport:
    settings = {"embedder": embedder} if embedder else {}
    with (
        _open(directory, writable=True, **settings) as index,
        QdrantMigration.connect(index, target, replace=replace) as migration,
    ):
        return migration.run(**options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def migrated_once(seeded: tuple[Path, object], tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Local mode commits each point on its own (16 ms here): migrate once, copy for each test.
    directory = Path(shutil.copytree(seeded[0], tmp_path_factory.mktemp("migrated") / "index"))
    with pytest.MonkeyPatch.context() as patch:
        for name in ("VECTOR_BACKEND", "QDRANT_URL", "QDRANT_COLLECTION"):
            patch.delenv(f"NEWSREC_{name}", raising=False)
        report = _migrate(directory, embedder="hashing")
    assert (report.copied, report.resumed, report.sampled, report.already) == (105, 0, 105, False)
    return directory


@pytest.fixture
def migrated(migrated_once: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(migrated_once, tmp_path / "migrated"))


# -- the copy ------------------------------------------------------------------------------------


def test_a_migrated_index_opens_on_qdrant_and_answers_as_faiss_exact(
    migrated: Path, faiss_answers: tuple[object, object]
) -> None:
    with _open(migrated) as index:  # no backend setting: the index's record decides
        assert index.vector_kind == "qdrant"
        assert len(index.vectors) == len(index) == 105
        assert _answers(index) == faiss_answers
    manifest = json.loads((migrated / "newsrec-manifest.json").read_text())
    assert manifest["index_type"] == "qdrant"
    assert not list(migrated.glob("newsrec-vectors-*.faiss"))  # the stale snapshot is gone
    assert not (migrated / CHECKPOINT_FILE).exists()


def test_running_again_changes_nothing(migrated: Path) -> None:
    with _open(migrated) as index:
        generation = index.store.generation
    manifest = (migrated / "newsrec-manifest.json").read_text()
    report = _migrate(migrated)
    assert (report.already, report.copied, report.sampled) == (True, 0, 105)
    with _open(migrated) as index:
        assert index.store.generation == generation
        assert len(index.vectors) == 105
    assert (
        json.loads((migrated / "newsrec-manifest.json").read_text())["generation"]
        == (json.loads(manifest)["generation"])
    )


def test_a_collection_behind_the_store_is_copied_again_not_blessed(migrated: Path) -> None:
    """A writer committed new topics to the store and died before Qdrant's update: the
    count still agrees, and a sample may miss the point, but the manifest is behind the
    store's generation, so the run copies again instead of declaring the collection in step."""
    with _open(migrated, writable=True) as index:
        article_id = next(iter(index.ids()))  # no article is about elections yet
        row = index.row_id(article_id)
        index.store.set_topics({row: AssignedTopics((("elections", 0.9, None),), "elections")})
        # (the writer dies here: no `describe` on the collection, no `save`)
    report = _migrate(migrated, sample=0)  # a sample that misses the stale point
    assert (report.already, report.copied) == (False, 105)
    with _open(migrated) as index:
        assert index.vector_kind == "qdrant"
        hits = Recommender(index, list_depth=0).related(
            next(i for i in index.ids() if i != article_id),
            k=105,
            filters=RelatedFilters(topic="elections"),
        )
        assert [hit.id for hit in hits] == [article_id]
    assert _migrate(migrated).already  # in step now: nothing to copy


class _Crash(Exception):
    pass


_UPSERT = QdrantVectorIndex.upsert_points


def _crash_after(monkeypatch: pytest.MonkeyPatch, requests: int) -> list[np.ndarray]:
    """Make the upserts fail after `requests` of them; returns the ids each one sent."""
    sent: list[np.ndarray] = []

    def counted(self: QdrantVectorIndex, row_ids: np.ndarray, *rest: object) -> None:
        if len(sent) == requests:
            raise _Crash
        sent.append(np.asarray(row_ids).copy())
        _UPSERT(self, row_ids, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(QdrantVectorIndex, "upsert_points", counted)
    return sent


def test_an_interrupted_copy_resumes_after_its_checkpoint(
    index_dir: Path, monkeypatch: pytest.MonkeyPatch, faiss_answers: tuple[object, object]
) -> None:
    sent = _crash_after(monkeypatch, 2)
    with pytest.raises(_Crash):
        _migrate(index_dir, batch=16)
    assert sum(map(len, sent)) == 32
    with _open(index_dir) as index:  # nothing switched: still FAISS, still answering
        assert index.vector_kind == "exact"
    sent = _crash_after(monkeypatch, 100)
    report = _migrate(index_dir, batch=16)
    assert (report.resumed, report.copied) == (32, 73)
    assert sum(map(len, sent)) == 73  # only what was left was sent
    with _open(index_dir) as index:
        assert index.vector_kind == "qdrant"
        lists = Recommender(index, list_depth=0).related_many(SOME_IDS, k=10)
    unfiltered = faiss_answers[0][0]  # type: ignore[index]
    assert {
        key: [(hit.id, round(hit.score, 5)) for hit in hits] for key, hits in lists.items()
    } == {key: unfiltered[key] for key in SOME_IDS}


def test_a_store_changed_since_the_crash_is_copied_afresh(
    index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _crash_after(monkeypatch, 1)
    with pytest.raises(_Crash):
        _migrate(index_dir, batch=16)
    with _open(index_dir, writable=True) as index:  # a FAISS writer ran in between
        first, gone = list(index.ids())[:2]
        index.delete([gone])
        index.save()
    _crash_after(monkeypatch, 100)
    report = _migrate(index_dir, batch=16)
    assert (report.resumed, report.copied) == (0, 104)
    with _open(index_dir) as index:
        assert len(index.vectors) == 104
        related = Recommender(index, list_depth=0).related(first, k=104)
        assert len(related) > 50 and gone not in {hit.id for hit in related}


@pytest.mark.parametrize("replace", [False, True], ids=["run-again", "replace"])
def test_a_failed_check_is_not_resumed_past(
    index_dir: Path, monkeypatch: pytest.MonkeyPatch, replace: bool
) -> None:
    """A copied point lost after a crash fails the check; the next run (or the same one
    with --replace) copies afresh instead of resuming past the end into the same failure."""
    sent = _crash_after(monkeypatch, 2)
    with pytest.raises(_Crash):
        _migrate(index_dir, batch=16)
    lost = QdrantVectorIndex.connect(str(index_dir / QDRANT_LOCAL_DIR), "newsrec", 256)
    lost.remove(sent[0][:1])  # an operator's cleanup, a lost replica
    lost.close()
    _crash_after(monkeypatch, 100)
    if not replace:
        with pytest.raises(IndexCorruptError, match="holds 104 points for 105 articles"):
            _migrate(index_dir, batch=16)
    report = _migrate(index_dir, batch=16, replace=replace)
    assert (report.resumed, report.copied, report.already) == (0, 105, False)
    with _open(index_dir) as index:
        assert index.vector_kind == "qdrant" and len(index.vectors) == 105


def test_a_collection_it_did_not_write_is_not_overwritten(index_dir: Path) -> None:
    stranger = QdrantVectorIndex.connect(str(index_dir / QDRANT_LOCAL_DIR), "newsrec", 256)
    stranger.reset()
    stranger.add(np.asarray([1, 2]), np.ones((2, 256), dtype=np.float32) / 16)
    stranger.close()
    with pytest.raises(InvalidInputError, match="holds 2 points not known to be this index's"):
        _migrate(index_dir)
    assert _migrate(index_dir, replace=True).copied == 105


def test_a_collection_left_behind_on_the_way_back_is_not_said_to_be_foreign(
    migrated: Path,
) -> None:
    """Qdrant, FAISS, Qdrant again: the collection is this index's old copy, not a
    stranger's, but no longer known to be current; the refusal says so, --replace copies."""
    with _open(migrated, writable=True) as index:
        migrate_to_faiss(index)
    with pytest.raises(InvalidInputError) as refused:
        _migrate(migrated)
    assert "did not write" not in str(refused.value)
    assert "holds 105 points not known to be this index's current copy" in str(refused.value)
    assert "--replace overwrites them" in str(refused.value)
    assert _migrate(migrated, replace=True).copied == 105


@pytest.mark.parametrize(
    ("vector", "published", "topics", "found"),
    [
        (np.full(256, 1 / 16, np.float32), None, ("politics",), "another vector"),
        (None, PublishedTime(0.0, 0.0), None, "another payload"),
        (None, None, ("sport", "x"), "another payload"),
    ],
    ids=["vector", "date", "topics"],
)
def test_a_point_that_differs_from_the_store_is_found(
    migrated: Path,
    vector: np.ndarray | None,
    published: PublishedTime | None,
    topics: tuple[str, ...] | None,
    found: str,
) -> None:
    """Every point is in the sample here (105 < 256): a single wrong field must show."""
    with _open(migrated) as index:
        article_id = next(
            i for i in index.ids() if index.topics_of(i) and index.article(i).published
        )
        row = index.row_id(article_id)
        stored = index.vectors.vectors_of(np.asarray([row]))
        published = published or index.article(article_id).published_time
        topics = topics or index.topics_of(article_id).labels  # type: ignore[union-attr]
    vectors = QdrantVectorIndex.connect(str(migrated / QDRANT_LOCAL_DIR), "newsrec", 256)
    replacement = stored if vector is None else vector[None, :]
    vectors.upsert_points(np.asarray([row]), replacement, [published], [topics])
    vectors.close()
    with pytest.raises(IndexCorruptError, match=f"{found} for article {article_id!r}"):
        _migrate(migrated)


def test_the_other_backend_is_refused_by_name(migrated: Path) -> None:
    with pytest.raises(IndexMismatchError, match=r"migrate --to faiss"):
        _open(migrated, vector_backend="faiss")
    with pytest.raises(IndexMismatchError, match=r"not from collection 'other'"):
        _open(migrated, qdrant_collection="other")
    with _open(migrated, vector_backend="qdrant", qdrant_collection="newsrec") as index:
        assert index.vector_kind == "qdrant"  # naming the recorded one is fine


def test_a_faiss_index_is_not_opened_on_qdrant(index_dir: Path) -> None:
    with pytest.raises(IndexMismatchError, match=r"migrate --to qdrant"):
        _open(index_dir, vector_backend="qdrant", qdrant_url=":memory:")


def test_an_index_from_before_the_record_opens_as_asked_and_is_recorded(index_dir: Path) -> None:
    with sqlite3.connect(index_dir / "newsrec-store.sqlite") as db:
        db.execute("DELETE FROM meta WHERE key = 'vector_backend'")
    db.close()
    with _open(index_dir) as index:  # a reader records nothing
        assert (index.vector_kind, recorded_backend(index.store.meta())) == ("exact", None)
    with _open(index_dir, writable=True, vector_backend="qdrant", qdrant_url=":memory:") as index:
        assert index.vector_kind == "qdrant"  # as before the record: the writer fills it
        assert len(index.vectors) == 105
    with _open(index_dir) as index:  # the writer recorded Qdrant
        assert index.vector_kind == "qdrant"
    with pytest.raises(IndexMismatchError, match="migrate --to faiss"):
        _open(index_dir, vector_backend="faiss")


def test_back_to_faiss(migrated: Path, faiss_answers: tuple[object, object]) -> None:
    with _open(migrated, writable=True) as index:
        report = migrate_to_faiss(index)
    assert (report.target, report.copied) == ("FAISS", 105)
    with _open(migrated) as index:
        assert index.vector_kind == "exact"
        assert _answers(index) == faiss_answers
    assert list(migrated.glob("newsrec-vectors-*.faiss"))
    with _open(migrated, writable=True) as index:
        assert migrate_to_faiss(index).already


# -- the command ---------------------------------------------------------------------------------


Result = tuple[int, list[str], list[str]]  # exit code, stdout lines, stderr lines
Run = Callable[..., Result]


@pytest.fixture
def newsrec(capsys: pytest.CaptureFixture[str]) -> Run:
    """Runs `newsrec` in process."""

    def _run(*argv: str) -> Result:
        capsys.readouterr()
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out.splitlines(), captured.err.splitlines()

    return _run


def _one_error(result: Result, fragment: str) -> None:
    code, _, err = result
    assert code == 2
    assert len(err) == 1, err
    assert err[0].startswith("error: ") and fragment in err[0], err[0]


def test_the_command_migrates_then_has_nothing_to_do(newsrec: Run, index_dir: Path) -> None:
    where = ("--index-dir", str(index_dir))
    before = newsrec("related", "--json", "-k", "5", *SOME_IDS, *where)
    code, out, _ = newsrec("migrate", "--to", "qdrant", *where)
    assert code == 0
    assert out == [out[0]] and out[0].startswith(
        "migrated 105 articles to Qdrant collection 'newsrec' at local mode: 105 copied;"
    )
    assert newsrec("related", "--json", "-k", "5", *SOME_IDS, *where) == before
    code, out, _ = newsrec("migrate", "--to", "qdrant", *where)
    assert code == 0 and out[0].startswith("already migrated: 105 articles")
    _one_error(
        newsrec("migrate", "--to", "qdrant", "--collection", "other", *where), "already migrated"
    )
    code, out, _ = newsrec("migrate", "--to", "faiss", *where)
    assert code == 0 and out[0].startswith("migrated 105 articles to FAISS")
    assert newsrec("info", "--json", *where)[1][0].count('"index_type": "exact"') == 1


def test_the_command_fails_in_one_line(
    newsrec: Run, index_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _one_error(
        newsrec("migrate", "--to", "qdrant", "--index-dir", str(tmp_path / "none")),
        "no newsrec index in",
    )
    assert not (tmp_path / "none").exists()
    _one_error(
        newsrec(
            "migrate", "--to", "qdrant", "--qdrant-url", "http://127.0.0.1:9",
            "--index-dir", str(index_dir),
        ),
        "cannot reach Qdrant at http://127.0.0.1:9",
    )  # fmt: skip
    _one_error(newsrec("migrate", "--to", "elsewhere", "--index-dir", str(index_dir)), "--to")
    assert newsrec("migrate", "--to", "qdrant", "--index-dir", str(index_dir))[0] == 0
    monkeypatch.setenv("NEWSREC_VECTOR_BACKEND", "faiss")
    _one_error(
        newsrec("related", "--index-dir", str(index_dir), *SOME_IDS),
        "unset NEWSREC_VECTOR_BACKEND, or move them back with `newsrec migrate --to faiss`",
    )


def test_the_wire_bench_runs(index_dir: Path) -> None:
    from eval.bench.qdrant_wire import bench_migrate, bench_retrieve

    report = bench_migrate(index_dir)
    assert report["points"] == 105 and report["JSON bytes/point"] > 256 * 8
    assert bench_retrieve(points=5, dimension=8, repeat=1)["points"] == 5
