"""`newsrec stories tune`: the story clustering learned from labels, through the CLI
(hashing embedder): written and reclustered only when it wins held out; errors in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recommender import Article, Settings, open_index
from recommender.index.files import acquire_write_lock
from recommender.stories.profile import (
    TUNED_STORY_SETTINGS,
    load_story_profile,
    story_profile_path,
)
from tests.recommender.stories.test_story_tuning import write_labels, year_apart_corpus
from tests.service.cli.test_cli import Cli, cli  # noqa: F401  (the fixture)


def _indexed(cli: Cli, tmp_path: Path, *, one_story_per_topic: bool) -> Path:  # noqa: F811
    """The corpus indexed without its stories (an editorial story would be the answer);
    returns its labels file."""
    articles, labels = year_apart_corpus(one_story_per_topic=one_story_per_topic)
    result = cli("index", str(_write_corpus(tmp_path / "corpus.jsonl", articles)))
    assert result.code == 0, result.err
    return write_labels(tmp_path / "labels.jsonl", labels)


def _write_corpus(path: Path, articles: list[Article], editorial: int = 0) -> Path:
    """The articles as a JSONL corpus; the first `editorial` carry a `story` (an editor's)."""
    rows = [
        {"id": a.id, "title": a.title, "body": a.body, "published": a.published}
        | ({"story": "desk"} if number < editorial else {})
        for number, a in enumerate(articles)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "━" not in line]


def _same_story(index_dir: Path, first: str, second: str) -> bool:
    with open_index(Settings(index_dir=index_dir, embedder="hashing")) as index:
        rows = [index.row_id(first), index.row_id(second)]
        stories = index.stories.stories_of(rows)
    return stories[rows[0]] == stories[rows[1]]


def test_tune_writes_the_profile_reclusters_and_reset_removes_it(
    cli: Cli,  # noqa: F811
    tmp_path: Path,
) -> None:
    labels = _indexed(cli, tmp_path, one_story_per_topic=True)
    assert not _same_story(cli.index_dir, "topic5x-1", "topic5x-2")  # a year apart: split
    dry = cli("stories", "tune", str(labels), "--dry-run")
    assert dry.code == 0, dry.err
    assert "dry run" in dry.out and not story_profile_path(cli.index_dir).exists()

    result = cli("stories", "tune", str(labels))
    assert result.code == 0, result.err
    assert "held-out BCubed F1: default" in result.out
    assert "story profile written" in result.out
    profile = load_story_profile(cli.index_dir)
    assert profile is not None
    assert profile.held_out["bcubed_f1_tuned"] > profile.held_out["bcubed_f1_default"]
    # Reclustered under it: the stored stories join the year-apart articles.
    assert _same_story(cli.index_dir, "topic5x-1", "topic5x-2")
    assert not _same_story(cli.index_dir, "topic5x-1", "topic6x-1")

    reset = cli("stories", "tune", "--reset")
    assert reset.code == 0, reset.err
    assert "story profile removed" in reset.out
    assert not story_profile_path(cli.index_dir).exists()
    assert not _same_story(cli.index_dir, "topic5x-1", "topic5x-2")  # the default again


def test_tune_refuses_where_the_default_is_right_and_writes_nothing(
    cli: Cli,  # noqa: F811
    tmp_path: Path,
) -> None:
    labels = _indexed(cli, tmp_path, one_story_per_topic=False)
    result = cli("stories", "tune", str(labels))
    assert result.code == 2
    # One line besides the progress bars of the work done before the verdict.
    assert _error_lines(result.err) == [result.err_lines[-1]]
    assert "no story profile written" in result.err_lines[-1]
    assert "Traceback" not in result.err
    assert not story_profile_path(cli.index_dir).exists()


def test_an_explicit_setting_wins_over_the_profile(
    cli: Cli,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    labels = _indexed(cli, tmp_path, one_story_per_topic=True)
    assert cli("stories", "tune", str(labels)).code == 0
    assert _same_story(cli.index_dir, "topic5x-1", "topic5x-2")
    # The shipped values, named explicitly (the same as the defaults: named is what counts),
    # win over the profile's: the year apart splits again.
    shipped = Settings()
    for name in TUNED_STORY_SETTINGS:
        monkeypatch.setenv(f"NEWSREC_{name.upper()}", str(getattr(shipped, name)))
    assert cli("stories", "recluster").code == 0
    assert not _same_story(cli.index_dir, "topic5x-1", "topic5x-2")


def test_a_malformed_profile_is_one_line_and_exit_2(
    cli: Cli,  # noqa: F811
    tmp_path: Path,
) -> None:
    labels = _indexed(cli, tmp_path, one_story_per_topic=True)
    story_profile_path(cli.index_dir).write_text('{"version": 1, "settings": {"warp": 1}}')
    for args in (("stories", "recluster"), ("index", str(tmp_path / "corpus.jsonl"))):
        result = cli(*args)
        assert result.code == 2, args
        assert len(result.err_lines) == 1 and "unknown settings" in result.err
        assert "Traceback" not in result.err
    # --reset clears it; tuning again (which never reads it) replaces it with a sound one.
    assert cli("stories", "tune", "--reset").code == 0
    assert cli("stories", "recluster").code == 0
    story_profile_path(cli.index_dir).write_text("{not json")
    assert cli("stories", "tune", str(labels)).code == 0
    assert load_story_profile(cli.index_dir) is not None


def test_tune_says_when_labelled_articles_hold_editorial_stories(
    cli: Cli,  # noqa: F811
    tmp_path: Path,
) -> None:
    articles, labels = year_apart_corpus(one_story_per_topic=True)
    assert cli("index", str(_write_corpus(tmp_path / "corpus.jsonl", articles, 3))).code == 0
    result = cli("stories", "tune", str(write_labels(tmp_path / "l.jsonl", labels)), "--dry-run")
    assert result.code == 0, result.err
    assert "note: 3 labelled articles hold an editorial story" in result.out


def test_bad_label_files_are_one_line(cli: Cli, tmp_path: Path) -> None:  # noqa: F811
    missing = cli("stories", "tune", str(tmp_path / "missing.jsonl"))
    assert missing.code == 2 and len(missing.err_lines) == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "story": ["x"]}\n', encoding="utf-8")
    result = cli("stories", "tune", str(bad))
    assert result.code == 2 and "'story' must be a string" in result.err
    assert cli("stories", "tune").code == 2  # neither labels nor --reset


def test_reset_refuses_a_labels_file_or_dry_run_and_keeps_the_profile(
    cli: Cli,  # noqa: F811
    tmp_path: Path,
) -> None:
    labels = _indexed(cli, tmp_path, one_story_per_topic=True)
    assert cli("stories", "tune", str(labels)).code == 0
    for args in (("--reset", "--dry-run"), ("--reset", str(labels))):
        result = cli("stories", "tune", *args)
        assert result.code == 2, args
        assert result.err_lines == ["error: --reset takes no labels file and no --dry-run"]
        assert story_profile_path(cli.index_dir).exists()  # a dry run removes nothing


def test_a_running_writer_refuses_tune_before_the_profile_changes(
    cli: Cli,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The recluster needs the write lock: while another process (the service) holds it,
    tune and --reset fail in one line and leave the profile as it was, never a profile
    the stored stories were not clustered with."""
    labels = _indexed(cli, tmp_path, one_story_per_topic=True)
    lock = acquire_write_lock(cli.index_dir)
    try:
        refused = cli("stories", "tune", str(labels))
        assert refused.code == 2
        assert "being written by another process" in refused.err_lines[-1]
        assert _error_lines(refused.err) == [refused.err_lines[-1]]
        assert not story_profile_path(cli.index_dir).exists()
    finally:
        lock.close()
    assert cli("stories", "tune", str(labels)).code == 0
    written = story_profile_path(cli.index_dir).read_text(encoding="utf-8")
    lock = acquire_write_lock(cli.index_dir)
    try:
        assert cli("stories", "tune", "--reset").code == 2
        assert story_profile_path(cli.index_dir).read_text(encoding="utf-8") == written
    finally:
        lock.close()
    assert _same_story(cli.index_dir, "topic5x-1", "topic5x-2")  # still clustered under it
