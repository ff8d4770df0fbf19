"""The one write path (recommender/writer.py): plan -> apply -> refresh lists -> save."""

from __future__ import annotations

import errno
import json
import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from embeddings import ProgressCallback
from recommender import (
    Article,
    InvalidInputError,
    Recommender,
    Settings,
    build_recommender,
    open_index,
)
from recommender.index.files import MANIFEST_FILE
from recommender.index.upsert_plan import UpsertPlan
from recommender.ranking.list_refresh import owners_to_rank
from recommender.ranking.relevance_floor import load_floor
from recommender.topics import build_tagger
from recommender.writer import IndexWriter, PhasedProgress, WriteHooks, WriteOptions
from tests.service_support import corpus, hashing_settings


class RecordingHooks(WriteHooks):
    """Records each phase as it is entered, so the sequence's order can be checked."""

    def __init__(self) -> None:
        self.phases: list[str] = []
        self.advanced = 0

    @contextmanager
    def _phase(self, name: str) -> Iterator[None]:
        self.phases.append(name)
        yield

    def reading(self) -> AbstractContextManager[object]:
        return self._phase("reading")

    def writing(self) -> AbstractContextManager[object]:
        return self._phase("writing")

    @contextmanager
    def applying(self, plan: UpsertPlan) -> Iterator[ProgressCallback | None]:
        self.phases.append(f"applying {len(plan.changed)}")

        def advance(done: int) -> None:
            self.advanced += done

        yield advance

    def committing(self) -> AbstractContextManager[object]:
        return self._phase("committing")

    def applied(self, upserted: Sequence[str], deleted: Sequence[str]) -> None:
        self.phases.append(f"applied +{len(upserted)} -{len(deleted)}")

    def lists_stored(self) -> None:
        self.phases.append("lists stored")

    @contextmanager
    def list_phases(self) -> Iterator[PhasedProgress | None]:
        self.phases.append("list phases")

        def start(label: str, total: int) -> ProgressCallback:
            self.phases.append(f"{label} {total}")
            return lambda _done: None

        yield start

    def saving(self) -> AbstractContextManager[object]:
        return self._phase("saving")


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return hashing_settings(tmp_path / "index", **overrides)


def _manifest_generation(settings: Settings) -> int:
    manifest = json.loads((settings.index_dir / MANIFEST_FILE).read_text("utf-8"))
    return int(manifest["generation"])


def _stored_lists(recommender: Recommender) -> dict[str, list[str]]:
    """Each article's stored related ids, read back as a request would."""
    ids = sorted(recommender.index.ids())
    return {i: [hit.id for hit in hits] for i, hits in recommender.related_many(ids, 10).items()}


def test_upsert_runs_plan_apply_lists_save_in_that_order(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    articles = corpus()
    hooks = RecordingHooks()
    with open_index(settings, writable=True) as index:
        writer = IndexWriter(build_recommender(settings, index), WriteOptions(), hooks)

        report = writer.upsert(articles)

    assert report.added == len(articles)
    assert hooks.advanced == len(articles)  # the apply's progress came through the hook
    assert hooks.phases[:5] == [
        "reading",  # plan
        f"applying {len(articles)}",
        "writing",
        "committing",
        f"applied +{len(articles)} -0",
    ]
    assert hooks.phases[5:7] == ["list phases", f"storing related lists {len(articles)}"]
    assert hooks.phases[-1] == "saving"


def test_upsert_leaves_every_list_stored_as_a_live_ranking_answers_and_saved(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path)
    with open_index(settings, writable=True) as index:
        IndexWriter(build_recommender(settings, index), WriteOptions.for_batch(settings)).upsert(
            corpus()
        )
        generation = index.generation

    assert _manifest_generation(settings) == generation  # saved: readers see the write
    with open_index(settings) as index:
        recommender = build_recommender(settings, index)
        assert owners_to_rank(recommender) == []
        assert index.store.related_lists.count() == len(index) == len(corpus())
        live = build_recommender(hashing_settings(settings.index_dir, related_list_depth=0), index)
        assert _stored_lists(recommender) == _stored_lists(live)


def test_after_apply_runs_before_the_lists_are_refreshed(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    seen: list[tuple[int, int]] = []
    with open_index(settings, writable=True) as index:
        recommender = build_recommender(settings, index)
        writer = IndexWriter(recommender, WriteOptions.for_batch(settings))

        writer.upsert(
            corpus(),
            after_apply=lambda: seen.append((len(index), len(owners_to_rank(recommender)))),
        )

        assert seen == [(len(corpus()), len(corpus()))]  # applied, no list stored yet
        assert owners_to_rank(recommender) == []


def test_delete_reports_the_missing_ids_and_no_stored_list_keeps_a_deleted_article(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path)
    with open_index(settings, writable=True) as index:
        recommender = build_recommender(settings, index)
        writer = IndexWriter(recommender, WriteOptions.for_batch(settings))
        writer.upsert(corpus())
        victim = _stored_lists(recommender)["flood-1"][0]  # someone's related item

        outcome = writer.delete([victim, "no-such-id", victim])

        assert outcome.deleted == 1
        assert outcome.missing == ["no-such-id"]
        assert owners_to_rank(recommender) == []
        assert all(victim not in ids for ids in _stored_lists(recommender).values())
        generation = index.generation
    assert _manifest_generation(settings) == generation


def test_a_failing_save_leaves_the_previous_version_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path)
    first, second = corpus()[:6], corpus()[6:]
    with open_index(settings, writable=True) as index:
        writer = IndexWriter(build_recommender(settings, index), WriteOptions.for_batch(settings))
        writer.upsert(first)
    published = (settings.index_dir / MANIFEST_FILE).read_text("utf-8")

    def disk_full(temporary: Path, final: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("recommender.index.saving.publish_file", disk_full)
    with open_index(settings, writable=True) as index:
        writer = IndexWriter(build_recommender(settings, index), WriteOptions.for_batch(settings))
        with pytest.raises(OSError, match="No space"):
            writer.upsert(second)

    # The published version is untouched (no half-written file), and the store's commit is
    # read back whole: the snapshot behind it is rebuilt from the stored vectors on open.
    assert (settings.index_dir / MANIFEST_FILE).read_text("utf-8") == published
    assert not list(settings.index_dir.glob(".*.tmp"))
    with open_index(settings) as index:
        assert len(index) == len(corpus())
        found = build_recommender(settings, index).related_many([second[0].id], 3)
        assert found[second[0].id]


def test_service_options_log_a_failed_list_refresh_and_still_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path)

    def locked(self: Recommender, article_ids: Sequence[str]) -> dict[int, object]:
        raise sqlite3.OperationalError("database is locked")

    with open_index(settings, writable=True) as index:
        recommender = build_recommender(settings, index)
        monkeypatch.setattr(Recommender, "ranked_lists", locked)
        service = IndexWriter(recommender, WriteOptions.for_service(settings))
        with caplog.at_level(logging.ERROR, logger="newsrec.writer"):
            report = service.upsert(corpus())
        assert report.added == len(corpus())
        assert "database is locked" in caplog.text
        assert _manifest_generation(settings) == index.generation  # saved all the same

        batch = IndexWriter(recommender, WriteOptions.for_batch(settings))
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            batch.upsert([Article(id="late", title="A late report on floods")])
        assert _manifest_generation(settings) < index.generation  # not saved: it failed


def test_service_options_rank_only_the_stale_lists(tmp_path: Path) -> None:
    settings = _settings(tmp_path, related_list_depth=2)  # lists shorter than the corpus
    with open_index(settings, writable=True) as index:
        index.upsert(corpus())  # through the index alone: no list stored
        recommender = build_recommender(settings, index)
        service = IndexWriter(recommender, WriteOptions.for_service(settings), RecordingHooks())

        service.upsert([Article(id="new", title="Floods: the river rises again")])

        without = set(owners_to_rank(recommender))
        assert index.row_id("new") not in without  # the written article's list is stored
        assert 0 < len(without) < len(index)  # the rest is left to the background fill
        assert "list phases" not in service.hooks.phases  # type: ignore[attr-defined]


def test_fill_lists_stores_what_is_missing_once_and_stops_when_asked(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with open_index(settings, writable=True) as index:
        index.upsert(corpus())
        index.save()
        recommender = build_recommender(settings, index)
        writer = IndexWriter(recommender, WriteOptions(lists_per_hold=5))

        assert writer.fill_lists(stopped=lambda: True).stored == 0
        bars: list[tuple[str, int]] = []
        advanced: list[int] = []

        def start(label: str, total: int) -> ProgressCallback:
            bars.append((label, total))
            return advanced.append

        filled = writer.fill_lists(progress=start)

        assert (filled.stored, filled.total) == (len(index), len(index))
        assert bars == [("ranking", len(index))]
        assert advanced[:2] == [5, 5] and sum(advanced) == len(index)
        assert writer.fill_lists().stored == 0
        assert writer.fill_lists(everything=True).stored == len(index)


def test_retag_tags_every_article_again_and_saves(tmp_path: Path) -> None:
    settings = _settings(tmp_path, tag_on_index=False)
    with open_index(settings, writable=True) as index:
        writer = IndexWriter(build_recommender(settings, index), WriteOptions.for_batch(settings))
        writer.upsert(corpus())
        assert index.topics_of("flood-1") is None

        count = writer.retag(build_tagger(index.embedder))

        assert count == len(index)
        assert index.topics_of("flood-1") is not None
        generation = index.generation
    assert _manifest_generation(settings) == generation


@pytest.mark.parametrize(("options", "kept"), [("batch", True), ("service", False)])
def test_a_batch_write_keeps_the_calibrated_floor(tmp_path: Path, options: str, kept: bool) -> None:
    settings = _settings(tmp_path, relevance_floor="calibrated")
    chosen = (
        WriteOptions.for_batch(settings)
        if options == "batch"
        else WriteOptions.for_service(settings)
    )
    with open_index(settings, writable=True) as index:
        IndexWriter(build_recommender(settings, index), chosen).upsert(corpus())

    assert (load_floor(settings.index_dir) is not None) is kept


def test_a_pinned_reader_keeps_its_version_while_the_writer_writes(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with open_index(settings, writable=True) as index:
        writer = IndexWriter(build_recommender(settings, index), WriteOptions.for_batch(settings))
        writer.upsert(corpus())
        with pytest.raises(InvalidInputError, match="nothing to pin"):
            index.pin_read_version()
        with open_index(settings) as pinned, open_index(settings) as unpinned:
            pinned.pin_read_version()

            writer.upsert([Article(id="late", title="A late report on floods")])

            assert "late" not in pinned and len(pinned) == len(corpus())
            assert "late" in unpinned and len(unpinned) == len(corpus()) + 1


def test_refresh_lists_ranks_again_when_the_list_settings_change_and_tells_readers(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path)
    with open_index(settings, writable=True) as index:
        IndexWriter(build_recommender(settings, index), WriteOptions.for_batch(settings)).upsert(
            corpus()
        )
    before = json.loads((settings.index_dir / MANIFEST_FILE).read_text("utf-8"))
    retuned = hashing_settings(settings.index_dir, related_list_depth=5)  # other lists
    with open_index(retuned, writable=True) as index:
        recommender = build_recommender(retuned, index)
        assert len(owners_to_rank(recommender)) == len(index)  # the old lists do not fit

        stored = IndexWriter(recommender, WriteOptions.for_batch(retuned)).refresh_lists()

        assert stored == len(index)
        assert owners_to_rank(recommender) == []
    after = json.loads((settings.index_dir / MANIFEST_FILE).read_text("utf-8"))
    assert after["related_lists_version"] != before.get("related_lists_version")
