"""ArticleIndex: upsert accounting, delete, persistence, identity, locking and crash recovery."""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from embeddings import HashingEmbedder
from recommender import (
    Article,
    ArticleIndex,
    IndexBusyError,
    IndexMismatchError,
    InvalidInputError,
    Recommender,
    UpsertReport,
)
from recommender.index.files import MANIFEST_FILE
from recommender.topics.assignment import TopicAssignment, TopicScore
from tests.conftest import make_article

OpenIndex = Callable[..., ArticleIndex]


def _article(article_id: str, topic: str, seed: int, **fields: object) -> Article:
    """An article built from its topic's words: same topic -> related, never a duplicate."""
    rng = random.Random(seed)
    vocabulary = [f"{topic}{i}" for i in range(30)]
    sentences = [" ".join(rng.choices(vocabulary, k=8)) for _ in range(6)]
    return make_article(article_id, f"{topic} news {seed}", ". ".join(sentences), **fields)


def _corpus() -> list[Article]:
    topics = ["harbour", "election", "vaccine"]
    return [
        _article(f"{topic}-{n}", topic, seed=10 * t + n, published=f"2024-0{n + 1}-1{t}")
        for t, topic in enumerate(topics)
        for n in range(4)
    ]


def _related_everywhere(index: ArticleIndex, k: int = 5) -> dict[str, list[tuple[str, float]]]:
    recommender = Recommender(index)
    lists = recommender.related_many(sorted(index.ids()), k)
    return {key: [(hit.id, hit.score) for hit in hits] for key, hits in lists.items()}


def _stored_vector(index: ArticleIndex, article_id: str) -> np.ndarray:
    return index.vectors.vectors_of(np.asarray([index.row_id(article_id)]))[0]


def _snapshots(directory: Path) -> list[Path]:
    return sorted(directory.glob("newsrec-vectors-*.faiss"))


# -- upsert accounting ------------------------------------------------------------------------


def test_first_upsert_adds_and_encodes_every_article(open_test_index: OpenIndex) -> None:
    index = open_test_index()
    corpus = _corpus()

    report = index.upsert(corpus)

    assert report == UpsertReport(added=12, updated=0, unchanged=0, encoded=12)
    assert len(index) == 12
    assert sorted(index.ids()) == sorted(article.id for article in corpus)
    assert len(index.vectors) == 12
    assert index.article("harbour-2") == corpus[2]


def test_upsert_of_unchanged_articles_is_a_no_op(open_test_index: OpenIndex) -> None:
    index = open_test_index()
    index.upsert(_corpus())
    generation = index.info().generation

    report = index.upsert(_corpus())

    assert report == UpsertReport(added=0, updated=0, unchanged=12, encoded=0)
    assert index.info().generation == generation


def test_changed_text_is_re_embedded(open_test_index: OpenIndex, embedder: HashingEmbedder) -> None:
    index = open_test_index()
    corpus = _corpus()
    index.upsert(corpus)
    changed = make_article("harbour-1", corpus[1].title, "entirely new words about a storm")

    report = index.upsert([changed, corpus[0]])

    assert report == UpsertReport(added=0, updated=1, unchanged=1, encoded=1)
    assert index.article("harbour-1").body == "entirely new words about a storm"
    np.testing.assert_allclose(
        _stored_vector(index, "harbour-1"), embedder.encode([changed.text])[0], atol=1e-6
    )
    assert len(index.vectors) == len(index) == 12


def test_metadata_only_change_is_an_update_without_encoding(open_test_index: OpenIndex) -> None:
    index = open_test_index()
    corpus = _corpus()
    index.upsert(corpus)
    vector_before = _stored_vector(index, "vaccine-3").copy()
    original = corpus[11]
    retagged = make_article(
        original.id, original.title, original.body, published="2025-01-01", source="Wire"
    )

    report = index.upsert([retagged])

    assert report == UpsertReport(added=0, updated=1, unchanged=0, encoded=0)
    stored = index.article("vaccine-3")
    assert (stored.source, stored.published) == ("Wire", "2025-01-01")
    np.testing.assert_array_equal(_stored_vector(index, "vaccine-3"), vector_before)
    assert len(index.vectors) == 12


def test_same_text_under_two_ids_is_encoded_once(open_test_index: OpenIndex) -> None:
    index = open_test_index()
    original = _article("wire-1", "storm", seed=1)
    copy = make_article("wire-2", original.title, original.body, source="Other outlet")

    report = index.upsert([original, copy])

    assert report == UpsertReport(added=2, updated=0, unchanged=0, encoded=1)
    np.testing.assert_array_equal(_stored_vector(index, "wire-1"), _stored_vector(index, "wire-2"))
    assert len(index.vectors) == 2


def test_a_text_already_stored_under_another_id_is_not_encoded_again(
    open_test_index: OpenIndex,
) -> None:
    index = open_test_index()
    corpus = _corpus()
    index.upsert(corpus)
    republished = make_article("reprint", corpus[4].title, corpus[4].body)
    rewritten = make_article("harbour-0", corpus[5].title, corpus[5].body)

    report = index.upsert([republished, rewritten])

    assert report == UpsertReport(added=1, updated=1, unchanged=0, encoded=0)
    np.testing.assert_array_equal(
        _stored_vector(index, "harbour-0"), _stored_vector(index, corpus[5].id)
    )


def test_upsert_on_a_read_only_index_is_refused(open_test_index: OpenIndex) -> None:
    writer = open_test_index()
    writer.upsert(_corpus())
    writer.save()
    writer.close()
    reader = open_test_index(writable=False)

    with pytest.raises(InvalidInputError):
        reader.upsert([_article("new", "storm", seed=3)])

    assert len(reader) == 12


# -- delete ------------------------------------------------------------------------------------


def test_delete_removes_present_ids_and_returns_the_missing_ones(
    open_test_index: OpenIndex,
) -> None:
    index = open_test_index()
    index.upsert(_corpus())

    missing = index.delete(["harbour-0", "no-such-id", "harbour-0", "election-2"])

    assert missing == ["no-such-id"]
    assert "harbour-0" not in index
    assert "election-2" not in index
    assert len(index) == len(index.vectors) == 10
    related = _related_everywhere(index, k=9)
    listed = {hit for hits in related.values() for hit, _ in hits}
    assert not listed & {"harbour-0", "election-2"}


def test_delete_survives_save_and_reopen(open_test_index: OpenIndex, tmp_path: Path) -> None:
    index = open_test_index()
    index.upsert(_corpus())
    index.save()
    index.delete(["vaccine-1"])
    index.save()
    index.close()

    reopened = open_test_index(writable=False)

    assert "vaccine-1" not in reopened
    assert len(reopened) == len(reopened.vectors) == 11


# -- persistence -------------------------------------------------------------------------------


def test_save_then_read_only_reopen_gives_identical_related_results(
    open_test_index: OpenIndex,
) -> None:
    index = open_test_index()
    index.upsert(_corpus())
    index.save()
    before = _related_everywhere(index)
    index.close()

    reopened = open_test_index(writable=False)

    assert _related_everywhere(reopened) == before
    assert len(reopened.vectors) == len(reopened) == 12


def test_save_keeps_a_single_snapshot_matching_the_manifest(
    open_test_index: OpenIndex, tmp_path: Path
) -> None:
    index = open_test_index()
    index.upsert(_corpus()[:6])
    index.save()
    index.upsert(_corpus()[6:])
    index.save()

    manifest = json.loads((tmp_path / "index" / MANIFEST_FILE).read_text(encoding="utf-8"))
    snapshots = _snapshots(tmp_path / "index")
    assert [path.name for path in snapshots] == [manifest["vectors_file"]]
    assert manifest["generation"] == index.info().generation
    assert manifest["articles"] == 12
    assert manifest["embedder"] == index.embedder.name


def test_unrelated_user_files_in_the_directory_survive(
    open_test_index: OpenIndex, tmp_path: Path
) -> None:
    directory = tmp_path / "shared-folder"
    (directory / "photos").mkdir(parents=True)
    user_files = {
        directory / "notes.txt": b"my notes\n",
        directory / "photos" / "cat.jpg": bytes(range(256)),
        directory / "manifest.json": b'{"mine": true}',
        directory / "vectors.faiss": b"not newsrec's",
    }
    for path, content in user_files.items():
        path.write_bytes(content)

    index = open_test_index(directory)
    index.upsert(_corpus())
    index.save()
    index.delete(["harbour-1"])
    index.upsert([_article("late", "storm", seed=9)])
    index.save()
    index.close()

    for path, content in user_files.items():
        assert path.read_bytes() == content
    created = {p.name for p in directory.iterdir()} - {p.name for p in user_files} - {"photos"}
    assert all(name.startswith("newsrec") for name in created), created
    assert sorted(p.name for p in (directory / "photos").iterdir()) == ["cat.jpg"]


def test_an_existing_empty_directory_can_hold_a_new_index(
    open_test_index: OpenIndex, tmp_path: Path
) -> None:
    directory = tmp_path / "empty"
    directory.mkdir()

    index = open_test_index(directory)
    index.upsert(_corpus()[:2])

    assert len(index) == 2


# -- identity and locking ----------------------------------------------------------------------


@pytest.mark.parametrize("writable", [False, True])
def test_opening_with_another_embedder_is_refused(
    open_test_index: OpenIndex, tmp_path: Path, writable: bool
) -> None:
    index = open_test_index()
    index.upsert(_corpus()[:3])
    index.save()
    index.close()

    with pytest.raises(IndexMismatchError, match="hashing-bow-64"):
        ArticleIndex.open(tmp_path / "index", HashingEmbedder(dimension=64), writable=writable)

    # the refused writer released the lock, and the index is unchanged
    again = open_test_index()
    assert len(again) == 3


def test_a_second_writer_is_refused_while_the_first_is_open(
    open_test_index: OpenIndex, embedder: HashingEmbedder, tmp_path: Path
) -> None:
    first = open_test_index()
    first.upsert(_corpus()[:2])

    with pytest.raises(IndexBusyError):
        ArticleIndex.open(tmp_path / "index", embedder, writable=True)

    reader = open_test_index(writable=False)  # readers are never blocked
    assert len(reader) == 2
    first.close()
    second = open_test_index()
    assert len(second) == 2


@pytest.mark.parametrize("exists", [True, False])
def test_read_only_open_without_an_index_is_invalid_input(
    embedder: HashingEmbedder, tmp_path: Path, exists: bool
) -> None:
    directory = tmp_path / "nothing-here"
    if exists:
        directory.mkdir()

    with pytest.raises(InvalidInputError, match="nothing-here"):
        ArticleIndex.open(directory, embedder, writable=False)

    assert not exists or list(directory.iterdir()) == []
    assert exists or not directory.exists()


# -- crash consistency -------------------------------------------------------------------------


@pytest.mark.parametrize("writable", [False, True])
def test_crash_after_commit_before_save_rebuilds_vectors_from_the_store(
    open_test_index: OpenIndex, writable: bool
) -> None:
    index = open_test_index()
    index.upsert(_corpus())
    index.save()
    late = [_article(f"harbour-late-{n}", "harbour", seed=100 + n) for n in range(3)]
    index.upsert(late)
    index.close()  # the process "dies" here: the store committed, no snapshot was saved

    reopened = open_test_index(writable=writable)

    assert len(reopened) == len(reopened.vectors) == 15
    related = {hit.id for hit in Recommender(reopened).related("harbour-0", k=6)}
    assert {article.id for article in late} <= related


def test_crash_before_the_first_save_rebuilds_vectors(open_test_index: OpenIndex) -> None:
    index = open_test_index()
    index.upsert(_corpus())
    index.close()

    reopened = open_test_index(writable=False)

    assert len(reopened) == len(reopened.vectors) == 12
    assert len(Recommender(reopened).related("election-0", k=11)) == 11


def test_crash_after_a_text_change_serves_the_new_vector(
    open_test_index: OpenIndex, embedder: HashingEmbedder
) -> None:
    # Same article count as the saved snapshot: only the generation reveals it is stale.
    index = open_test_index()
    corpus = _corpus()
    index.upsert(corpus)
    index.save()
    moved = make_article("harbour-3", "vaccine trial", corpus[8].body + " and a harbour")
    index.upsert([moved])
    index.close()

    reopened = open_test_index(writable=False)

    np.testing.assert_allclose(
        _stored_vector(reopened, "harbour-3"), embedder.encode([moved.text])[0], atol=1e-6
    )
    top = Recommender(reopened).related("harbour-3", k=3)
    assert {hit.id for hit in top} <= {"vaccine-0", "vaccine-1", "vaccine-2", "vaccine-3"}


def _corrupt_manifest(directory: Path) -> None:
    (directory / MANIFEST_FILE).write_text('{"generation": 3, "vectors', encoding="utf-8")


def _manifest_not_an_object(directory: Path) -> None:
    (directory / MANIFEST_FILE).write_text("[1, 2, 3]\n", encoding="utf-8")


def _manifest_deleted(directory: Path) -> None:
    (directory / MANIFEST_FILE).unlink()


def _snapshot_deleted(directory: Path) -> None:
    for snapshot in _snapshots(directory):
        snapshot.unlink()


def _manifest_pointing_at_a_missing_file(directory: Path) -> None:
    manifest = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
    manifest["vectors_file"] = "newsrec-vectors-999.faiss"
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest), encoding="utf-8")


def _leftover_temporary_snapshot(directory: Path) -> None:
    # a crash in the middle of writing the next snapshot
    (directory / ".newsrec-vectors-99.faiss.tmp").write_bytes(b"\x00half written")


@pytest.mark.slow
@pytest.mark.parametrize(
    "damage",
    [
        _corrupt_manifest,
        _manifest_not_an_object,
        _manifest_deleted,
        _snapshot_deleted,
        _manifest_pointing_at_a_missing_file,
        _leftover_temporary_snapshot,
    ],
)
@pytest.mark.parametrize("writable", [False, True])
def test_damaged_manifest_or_snapshot_is_recovered_from_the_store(
    open_test_index: OpenIndex,
    tmp_path: Path,
    damage: Callable[[Path], None],
    writable: bool,
) -> None:
    index = open_test_index()
    index.upsert(_corpus())
    index.save()
    before = _related_everywhere(index)
    index.close()
    damage(tmp_path / "index")

    reopened = open_test_index(writable=writable)

    assert len(reopened.vectors) == len(reopened) == 12
    assert _related_everywhere(reopened) == before


def test_stale_manifest_from_a_crash_mid_save_is_recovered(
    open_test_index: OpenIndex, tmp_path: Path
) -> None:
    directory = tmp_path / "index"
    index = open_test_index()
    index.upsert(_corpus()[:8])
    index.save()
    stale_manifest = (directory / MANIFEST_FILE).read_text(encoding="utf-8")
    index.upsert(_corpus()[8:])
    index.save()
    index.close()
    # the new snapshot was published, the manifest still describes the old generation
    (directory / MANIFEST_FILE).write_text(stale_manifest, encoding="utf-8")

    reopened = open_test_index()

    assert len(reopened.vectors) == len(reopened) == 12
    assert "vaccine-0" in {hit.id for hit in Recommender(reopened).related("vaccine-1", k=3)}
    reopened.save()  # and a save brings the manifest back in step
    manifest = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
    assert manifest["generation"] == reopened.info().generation
    assert manifest["articles"] == 12


@pytest.mark.parametrize(("saved_as", "opened_as"), [("hnsw", "hnsw"), ("exact", "hnsw")])
def test_hnsw_index_survives_delete_save_and_reopen(
    open_test_index: OpenIndex, saved_as: str, opened_as: str
) -> None:
    index = open_test_index(index_type=saved_as)
    index.upsert(_corpus())
    index.delete(["election-1"])
    index.save()
    before = _related_everywhere(index)
    index.close()

    reopened = open_test_index(writable=False, index_type=opened_as)

    assert reopened.vectors.kind == opened_as
    assert len(reopened.vectors) == len(reopened) == 11
    after = _related_everywhere(reopened)
    assert after.keys() == before.keys()
    for key, hits in before.items():
        assert [hit for hit, _ in after[key]] == [hit for hit, _ in hits]
        # exact and HNSW may sum the same inner product in another order
        assert [score for _, score in after[key]] == pytest.approx([s for _, s in hits], abs=1e-6)


def test_summaries_kept_in_memory_follow_every_write(open_test_index: OpenIndex) -> None:
    index = open_test_index()
    index.upsert(_corpus())
    kept = index.store.keep_summaries_in_memory()
    assert len(kept) == len(index)
    changed = _article("harbour-1", "harbour", seed=99, published="2024-05-05")
    index.upsert([changed, _article("late-0", "election", seed=42)])
    index.delete(["vaccine-2"])
    index.retag(_OnlyTopic("economy"))
    in_memory = index.store.summaries_by_row_id(index.catalog.row_ids.tolist())
    index.store._summaries = None  # read the same rows from SQLite
    from_disk = index.store.summaries_by_row_id(index.catalog.row_ids.tolist())
    assert in_memory == from_disk
    assert in_memory[index.row_id("harbour-1")].title == changed.title
    assert {s.id for s in in_memory.values()} == set(index.ids())
    assert all(s.topics == ("economy",) for s in in_memory.values())


class _OnlyTopic:
    """A tagger that gives every article one topic (retag's input; vectors are ignored)."""

    reads_terms = False

    def __init__(self, label: str) -> None:
        self.labels = (label,)

    def tag(self, vectors: np.ndarray, *, terms: object = None) -> list[TopicAssignment]:
        (label,) = self.labels
        return [
            TopicAssignment({label: 1.0}, (TopicScore(label, 1.0, None),), label) for _ in vectors
        ]


def test_a_schema_2_store_is_upgraded_by_a_writer_and_other_versions_refused(
    open_test_index: OpenIndex, tmp_path: Path
) -> None:
    directory = tmp_path / "index"
    index = open_test_index(directory)
    index.upsert(_corpus())
    index.save()
    index.close()

    def set_version(value: str) -> None:
        with sqlite3.connect(directory / "newsrec-store.sqlite") as db:
            db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (value,))

    set_version("2")  # a store from before stored related lists
    assert open_test_index(directory, writable=False).info().schema_version == 2
    writer = open_test_index(directory)
    assert writer.info().schema_version == 4
    writer.close()
    set_version("3")  # a store from before stories
    assert open_test_index(directory, writable=False).info().schema_version == 3
    assert open_test_index(directory).info().schema_version == 4
    set_version("5")
    with pytest.raises(IndexMismatchError, match="schema version 5"):
        open_test_index(directory, writable=False)
