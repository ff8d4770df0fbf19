"""`newsrec tag` on bad input, through the newsrec entry point: checked before the model
loads, one line on stderr, exit 2, nothing written; writing through a partial file that a
re-run resumes from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.cli import main as cli
from service.cli import topics as cli_topics
from tests.topics_corpus import keyword_rows, write_jsonl


class ModelLoaded(AssertionError):
    """Raised if a run gets as far as building the embedder."""


@pytest.fixture(autouse=True)
def hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSREC_EMBEDDER", "hashing")


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to build the embedder fails the test: bad input must be found first."""

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise ModelLoaded("the embedder was built before the input was checked")

    monkeypatch.setattr(cli_topics, "build_embedder", refuse)


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_a_missing_input_is_one_line_before_the_model_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_model: None
) -> None:
    out = tmp_path / "out.jsonl"

    code, stdout, stderr = run(capsys, "tag", tmp_path / "missing.jsonl", "-o", out)

    assert code == 2
    assert stderr == f"error: {tmp_path / 'missing.jsonl'}: no such file\n"
    assert stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_a_bad_row_never_touches_an_existing_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_model: None
) -> None:
    rows: list[Any] = keyword_rows(5)
    good = write_jsonl(tmp_path / "good.jsonl", rows)
    out = tmp_path / "out.jsonl"
    out.write_text(json.dumps({"id": "earlier", "topics": []}) + "\n", "utf-8")
    before = out.read_bytes()
    rows[3] = {"id": "x", "title": "a date that is not one", "published": "yesterday"}
    bad = write_jsonl(tmp_path / "bad.jsonl", rows)

    code, _, stderr = run(capsys, "tag", bad, "-o", out)

    assert code == 2
    assert stderr.count("\n") == 1 and stderr.startswith(f"error: {bad}, line 4: ")
    assert out.read_bytes() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "bad.jsonl",
        "good.jsonl",
        "out.jsonl",
    ]
    assert good.exists()


def test_a_repeated_id_is_found_before_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_model: None
) -> None:
    rows = keyword_rows(3)
    source = write_jsonl(tmp_path / "in.jsonl", [*rows, rows[0]])

    code, _, stderr = run(capsys, "tag", source, "-o", tmp_path / "out.jsonl")

    assert code == 2
    assert stderr == f"error: {source}, line 4: duplicate id 'a0000' (first at line 1)\n"
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize(
    ("make_out", "message"),
    [
        (lambda tmp: tmp / "no" / "such" / "out.jsonl", "no such directory"),
        (lambda tmp: tmp, "exists and is not a file"),
        (lambda tmp: tmp / "in.jsonl", "must not be the input"),
    ],
)
def test_an_output_that_cannot_be_written_is_refused_first(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_model: None,
    make_out: Any,
    message: str,
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", keyword_rows(3))
    before = source.read_bytes()

    code, _, stderr = run(capsys, "tag", source, "-o", make_out(tmp_path))

    assert code == 2
    assert stderr.count("\n") == 1 and message in stderr
    assert source.read_bytes() == before
    assert [path.name for path in tmp_path.iterdir()] == ["in.jsonl"]


def test_a_directory_where_the_topic_shares_go_is_refused_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_model: None
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", keyword_rows(3))
    (tmp_path / "out.jsonl.topic-shares.json").mkdir()

    code, _, stderr = run(capsys, "tag", source, "-o", tmp_path / "out.jsonl")

    assert code == 2
    assert stderr.count("\n") == 1 and "topic-shares.json: exists and is not a file" in stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_an_output_that_is_not_a_tagging_output_is_kept_and_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_model: None
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", keyword_rows(3))
    out = tmp_path / "notes.jsonl"
    out.write_text("my notes, not JSON\n", "utf-8")

    code, _, stderr = run(capsys, "tag", source, "-o", out)

    assert code == 2
    assert stderr == f"error: {out}, line 1: not a row of a tagging output; choose another -o\n"
    assert out.read_text("utf-8") == "my notes, not JSON\n"
    assert not (tmp_path / "notes.jsonl.partial").exists()


def test_a_missing_index_dir_is_refused_before_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_model: None
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", keyword_rows(3))

    code, _, stderr = run(
        capsys, "tag", source, "-o", tmp_path / "out.jsonl", "--index-dir", tmp_path / "none"
    )

    assert (code, stderr) == (2, f"error: {tmp_path / 'none'}: no such index directory\n")
    assert not (tmp_path / "out.jsonl").exists()


def test_an_interrupted_run_leaves_a_partial_file_that_the_rerun_finishes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", keyword_rows(6))
    out = tmp_path / "out.jsonl"
    partial = tmp_path / "out.jsonl.partial"
    real_tag_file = cli_topics.tag_file

    def interrupted_after_one_batch(*args: Any, **kwargs: Any) -> Any:
        def progress(_rows: int) -> None:
            raise KeyboardInterrupt

        return real_tag_file(*args, **{**kwargs, "progress": progress})

    monkeypatch.setattr(cli_topics, "tag_file", interrupted_after_one_batch)
    # Topic shares of the first 2 rows: the first batch is not held back for more.
    monkeypatch.setenv("NEWSREC_TOPIC_SHARE_ROWS", "2")
    code, _, _ = run(capsys, "tag", source, "-o", out, "--batch-size", "2")

    assert code == 130
    assert not out.exists()
    assert [row["id"] for row in lines(partial)] == ["a0000", "a0001"]
    assert (tmp_path / "out.jsonl.topic-shares.json").is_file()

    monkeypatch.setattr(cli_topics, "tag_file", real_tag_file)
    code, stdout, _ = run(capsys, "tag", source, "-o", out, "--batch-size", "2")

    assert code == 0
    assert "4 tagged, 2 already in the output" in stdout
    assert not partial.exists()
    assert [row["id"] for row in lines(out)] == [f"a{n:04d}" for n in range(6)]


def test_a_rerun_on_a_longer_input_adds_the_new_rows_to_a_complete_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = keyword_rows(5)
    out = tmp_path / "out.jsonl"
    code, _, _ = run(capsys, "tag", write_jsonl(tmp_path / "in.jsonl", rows[:3]), "-o", out)
    assert code == 0
    first = out.read_bytes()

    code, stdout, _ = run(capsys, "tag", write_jsonl(tmp_path / "in.jsonl", rows), "-o", out)

    assert code == 0
    assert "2 tagged, 3 already in the output" in stdout
    assert out.read_bytes().startswith(first)
    assert [row["id"] for row in lines(out)] == [row["id"] for row in rows]
    assert not (tmp_path / "out.jsonl.partial").exists()


def test_a_model_of_another_embedder_fails_in_one_line_without_a_progress_bar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    labelled = write_jsonl(tmp_path / "labelled.jsonl", keyword_rows(12))
    code, _, _ = run(capsys, "topics", "train", labelled, "--out", tmp_path / "model", "--cv", "0")
    assert code == 0
    monkeypatch.setenv("NEWSREC_EMBEDDER", "minilm")  # only its name is needed to refuse

    code, _, stderr = run(
        capsys, "tag", labelled, "-o", tmp_path / "out.jsonl", "--model", tmp_path / "model"
    )

    assert code == 2
    assert stderr.count("\n") == 1 and "all-MiniLM-L6-v2" in stderr
    assert not (tmp_path / "out.jsonl").exists()
    assert not (tmp_path / "out.jsonl.partial").exists()
