"""`tag` and `topics train|eval` through a CLI runner, on the hashing embedder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from recommender import load_articles, open_index
from recommender.settings import Settings
from recommender.topics import InvalidTopicModelError, TopicModelMismatchError
from recommender.topics.taxonomy import InvalidTaxonomyError
from service.cli.topics import register
from tests.conftest import PROJECT_ROOT
from tests.topics_corpus import keyword_rows, write_jsonl


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("NEWSREC_EMBEDDER", "hashing")
    application = typer.Typer(pretty_exceptions_enable=False)

    @application.callback()
    def _main() -> None:
        """A stand-in for the newsrec app, which the lead registers these commands on."""

    register(application)
    return application


def _run(app: typer.Typer, *args: str) -> tuple[int, str, str, BaseException | None]:
    result = CliRunner().invoke(app, [str(arg) for arg in args])
    return result.exit_code, result.stdout, result.stderr, result.exception


def test_tag_writes_topics_and_resumes(app: typer.Typer, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", keyword_rows(6))
    out = tmp_path / "out.jsonl"

    code, stdout, _, error = _run(app, "tag", source, "-o", out, "--threshold", "0.0")
    again, stdout_again, _, _ = _run(app, "tag", source, "-o", out)

    assert (code, error, again) == (0, None, 0)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 6 and all(len(row["topics"]) == 12 for row in rows)
    assert "6 tagged" in stdout and "6 already in the output" in stdout_again


def test_tag_reweights_by_the_files_topic_shares_unless_turned_off(
    app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", keyword_rows(6))
    out, off = tmp_path / "out.jsonl", tmp_path / "off.jsonl"

    code, stdout, _, _ = _run(app, "tag", source, "-o", out)
    monkeypatch.setenv("NEWSREC_TOPIC_SHARE_ROWS", "0")
    code_off, stdout_off, _, _ = _run(app, "tag", source, "-o", off)

    assert (code, code_off) == (0, 0)
    stored = json.loads((tmp_path / "out.jsonl.topic-shares.json").read_text())
    assert stored["rows"] == 6 and len(stored["shares"]) == 12
    assert sum(stored["shares"]) == pytest.approx(1.0)
    assert "re-weighted by the shares of the first 6 rows" in stdout
    assert not (tmp_path / "off.jsonl.topic-shares.json").exists()
    assert "re-weighted" not in stdout_off


def test_tag_reads_the_prompt_vectors_a_first_run_cached(
    app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "prompts"
    monkeypatch.setenv("NEWSREC_PROMPT_CACHE_DIR", str(cache))
    source = write_jsonl(tmp_path / "in.jsonl", keyword_rows(6))

    code, _, _, _ = _run(app, "tag", source, "-o", tmp_path / "first.jsonl")
    (cached,) = cache.glob("*.npy")
    written = cached.stat().st_mtime_ns
    again, _, _, _ = _run(app, "tag", source, "-o", tmp_path / "second.jsonl")

    assert (code, again) == (0, 0)
    assert cached.stat().st_mtime_ns == written  # read, not encoded and written again
    first, second = ((tmp_path / name).read_text() for name in ("first.jsonl", "second.jsonl"))
    assert first == second


def test_tag_without_output_streams_json_lines_on_stdout(app: typer.Typer, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", keyword_rows(3))

    code, stdout, stderr, _ = _run(app, "tag", source)

    assert code == 0
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert [line["id"] for line in lines] == ["a0000", "a0001", "a0002"]
    assert "3 tagged" in stderr


def test_tag_reuses_an_index(app: typer.Typer, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", keyword_rows(4))
    settings = Settings(index_dir=tmp_path / "index", embedder="hashing")
    with open_index(settings, writable=True) as index:
        index.upsert(load_articles([source]).articles)
        index.save()

    code, stdout, _, error = _run(
        app, "tag", source, "-o", tmp_path / "out.jsonl", "--index-dir", tmp_path / "index"
    )

    assert (code, error) == (0, None)
    assert "0 texts encoded, 4 vectors reused" in stdout


def test_train_then_eval_and_tag_with_the_model(app: typer.Typer, tmp_path: Path) -> None:
    labelled = write_jsonl(tmp_path / "labelled.jsonl", keyword_rows(45))
    model = tmp_path / "model"

    code, stdout, _, error = _run(app, "topics", "train", labelled, "--out", model, "--cv", "3")
    assert (code, error) == (0, None)
    assert "cross-validated (3 folds): accuracy 1.0000" in stdout
    assert "model with 3 labels (disaster, politics, sport)" in stdout

    code, stdout, _, error = _run(app, "topics", "eval", labelled, "--model", model, "--json")
    assert (code, error) == (0, None)
    report = json.loads(stdout)
    assert report["accuracy"] == 1.0 and report["rows"] == 45

    code, stdout, _, error = _run(app, "topics", "eval", labelled, "--model", model)
    assert "macro-F1: 1.0000" in stdout and "confusion matrix" in stdout

    out = tmp_path / "out.jsonl"
    _run(app, "tag", labelled, "-o", out, "--model", model)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {row["primary_topic"] for row in rows} == {"disaster", "politics", "sport"}


def test_eval_with_a_label_field_and_a_mapping(app: typer.Typer, tmp_path: Path) -> None:
    rows = [
        {"id": "w1", "title": "The striker scored in the cup final", "topic": "Sports"},
        {"id": "w2", "title": "Voters go to the polls in the election", "topic": "Politics"},
    ]
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"sport": "Sports", "politics": "Politics"}), "utf-8")

    code, stdout, _, error = _run(
        app,
        "topics",
        "eval",
        write_jsonl(tmp_path / "wcep.jsonl", rows),
        "--label-field",
        "topic",
        "--map",
        mapping,
        "--json",
    )

    assert (code, error) == (0, None)
    assert set(json.loads(stdout)["per_class"]) == {"Sports", "Politics"}


def test_errors_are_newsrec_errors_for_the_main_entry_point(
    app: typer.Typer, tmp_path: Path
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", keyword_rows(2))
    bad_taxonomy = tmp_path / "t.json"
    bad_taxonomy.write_text('{"topics": []}', "utf-8")

    _, _, _, no_model = _run(app, "tag", source, "--model", tmp_path)
    _, _, _, bad = _run(app, "tag", source, "--taxonomy", bad_taxonomy)

    assert isinstance(no_model, InvalidTopicModelError)
    assert isinstance(bad, InvalidTaxonomyError)


def test_a_model_of_another_embedder_is_refused(
    app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    labelled = write_jsonl(tmp_path / "labelled.jsonl", keyword_rows(12))
    _run(app, "topics", "train", labelled, "--out", tmp_path / "model", "--cv", "0")
    monkeypatch.setenv("NEWSREC_EMBEDDER", "minilm")  # only its name is needed to refuse

    _, _, _, error = _run(app, "tag", labelled, "--model", tmp_path / "model")

    assert isinstance(error, TopicModelMismatchError)
    assert "all-MiniLM-L6-v2" in str(error)


@pytest.mark.slow
def test_registered_on_the_newsrec_app_an_error_is_one_line_and_exit_2(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", keyword_rows(2))
    bad_taxonomy = tmp_path / "t.yaml"
    bad_taxonomy.write_text("topics: [unclosed", "utf-8")
    code = (
        "import sys; from service.cli.main import app, main; "
        "from service.cli.topics import register; "
        "register(app); sys.exit(main(sys.argv[1:]))"
    )

    completed = subprocess.run(
        [sys.executable, "-c", code, "tag", str(source), "--taxonomy", str(bad_taxonomy)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT_ROOT,
        env={**os.environ, "NEWSREC_EMBEDDER": "hashing"},
    )

    assert completed.returncode == 2
    assert completed.stderr == f"error: {bad_taxonomy}: not valid YAML at line 1\n"
    assert completed.stdout == ""
