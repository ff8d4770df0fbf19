"""`newsrec topics adapt`, `index --adapt-topics`, `topics eval --compare`, `topics train`
with the taxonomy prior and `--taxonomy iptc`, through the newsrec entry point on the
hashing embedder."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from recommender import ArticleIndex, Settings, build_embedder
from recommender.index.lexical import term_vectors
from recommender.topics import (
    ADAPTED_MODEL_DIR,
    TrainedTagger,
    ZeroShotTagger,
    article_terms,
    load_tagger,
    resolve_taxonomy,
)
from service.cli import topics_adapt as cli_topics_adapt
from service.cli.main import main
from tests.service_support import app_client, hashing_settings
from tests.topics_corpus import TAXONOMY, site_rows, write_jsonl, write_taxonomy


@pytest.fixture(autouse=True)
def hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSREC_EMBEDDER", "hashing")
    monkeypatch.delenv("NEWSREC_HOME", raising=False)
    monkeypatch.delenv("NEWSREC_TOPIC_MODEL", raising=False)


def _run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_error(code: int, err: str, fragment: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ")
    assert fragment in lines[0] and "Traceback" not in err


def test_adapt_then_tag_with_the_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = write_jsonl(tmp_path / "archive.jsonl", site_rows(120))
    taxonomy = write_taxonomy(tmp_path / "taxonomy.json")
    model = tmp_path / "model"

    code, out, err = _run(
        capsys, "topics", "adapt", archive, "--out", model, "--taxonomy", taxonomy
    )
    assert code == 0, err
    assert f"adapted model saved to {model}" in out and "topic shares" in out

    # The archive's own rows, tagged with the model: every primary is right, also for the
    # rows written in the site's words only.
    tagged = tmp_path / "tagged.jsonl"
    code, _, err = _run(capsys, "tag", archive, "-o", tagged, "--model", model)
    assert code == 0, err
    rows = [json.loads(line) for line in tagged.read_text().splitlines()]
    assert [row["primary_topic"] for row in rows] == [row["input_topics"][0] for row in rows]
    assert all(row["topics"][0]["label"] == row["primary_topic"] for row in rows)

    # Zero-shot on the same file is not that good: the adapted model is what made it right.
    plain = tmp_path / "plain.jsonl"
    code, _, _ = _run(capsys, "tag", archive, "-o", plain, "--taxonomy", taxonomy)
    plain_rows = [json.loads(line) for line in plain.read_text().splitlines()]
    wrong = sum(row["primary_topic"] != row["input_topics"][0] for row in plain_rows)
    assert code == 0 and wrong > 10


def test_adapt_with_labels_reports_both_on_held_out_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = write_jsonl(tmp_path / "archive.jsonl", site_rows(150))
    taxonomy = write_taxonomy(tmp_path / "taxonomy.json")
    model = tmp_path / "model"

    code, out, err = _run(
        capsys, "topics", "adapt", archive, "--out", model, "--taxonomy", taxonomy,
        "--label-field", "topics",
    )  # fmt: skip

    assert code == 0, err
    assert "held-out 30 labelled rows, macro-F1: zero-shot" in out
    assert isinstance(load_tagger(model, build_embedder(Settings())), TrainedTagger)


def test_adapt_keeps_zero_shot_when_adapted_loses_on_held_out_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = cli_topics_adapt.adapt_with_holdout

    def losing(*args: object, **kwargs: object) -> object:
        checked = real(*args, **kwargs)  # type: ignore[arg-type]
        return replace(checked, adapted_macro_f1=checked.zero_shot_macro_f1 - 0.01)

    monkeypatch.setattr(cli_topics_adapt, "adapt_with_holdout", losing)
    archive = write_jsonl(tmp_path / "archive.jsonl", site_rows(60))
    taxonomy = write_taxonomy(tmp_path / "taxonomy.json")
    model = tmp_path / "model"

    code, _, err = _run(
        capsys, "topics", "adapt", archive, "--out", model, "--taxonomy", taxonomy,
        "--label-field", "topics",
    )  # fmt: skip

    assert code == 0
    assert "worse than zero-shot" in err and "saved the zero-shot tagger" in err
    assert isinstance(load_tagger(model, build_embedder(Settings())), ZeroShotTagger)


def test_adapt_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "topics", "adapt", tmp_path / "missing.jsonl", "--out", tmp_path)
    _one_error(code, err, "missing.jsonl")
    few = write_jsonl(tmp_path / "few.jsonl", site_rows(5))
    code, _, err = _run(capsys, "topics", "adapt", few, "--out", tmp_path / "m")
    _one_error(code, err, "too few to adapt")
    code, _, err = _run(
        capsys, "topics", "adapt", few, "--out", tmp_path / "m", "--label-field", "desk"
    )
    _one_error(code, err, "no row has labels in field 'desk'")
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_index_adapt_topics_keeps_the_model_in_the_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = write_jsonl(tmp_path / "archive.jsonl", site_rows(90))
    index_dir = tmp_path / "index"

    code, out, err = _run(capsys, "index", archive, "--index-dir", index_dir, "--adapt-topics")

    assert code == 0, err
    model_dir = index_dir / ADAPTED_MODEL_DIR
    assert f"adapted topic model saved to {model_dir}" in out and "90 articles retagged" in out
    embedder = build_embedder(Settings())
    adapted = load_tagger(model_dir, embedder)
    with ArticleIndex.open(index_dir, embedder) as index:
        stored = index.topics_of("s0004")
        vector = index.vectors.vectors_of(np.asarray([index.row_id("s0004")]))
        terms = article_terms([index.article("s0004")])
    assert adapted.reads_terms  # the index's stored terms fitted a lexical head
    (expected,) = adapted.tag(vector, terms=terms)
    assert stored is not None and stored.primary == expected.primary

    # Later writes tag with it; a configured model wins, and --adapt-topics then refuses.
    more = write_jsonl(tmp_path / "more.jsonl", [{"id": "new", "title": "innings wicket"}])
    assert _run(capsys, "index", more, "--index-dir", index_dir)[0] == 0
    with ArticleIndex.open(index_dir, embedder) as index:
        stored = index.topics_of("new")
        vector = index.vectors.vectors_of(np.asarray([index.row_id("new")]))
    (expected,) = adapted.tag(vector, terms=term_vectors(["innings wicket"]))
    assert stored is not None and stored.primary == expected.primary
    monkeypatch.setenv("NEWSREC_TOPIC_MODEL", str(model_dir))
    code, _, err = _run(capsys, "index", archive, "--index-dir", index_dir, "--adapt-topics")
    _one_error(code, err, "NEWSREC_TOPIC_MODEL")


def test_eval_compare_prints_every_tagger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labelled = write_jsonl(tmp_path / "labelled.jsonl", site_rows(120))
    taxonomy = write_taxonomy(tmp_path / "taxonomy.json")

    code, out, err = _run(
        capsys, "topics", "eval", labelled, "--compare", "--taxonomy", taxonomy, "--json"
    )

    assert code == 0, err
    report = json.loads(out)
    assert report["train_rows"] == 60 and report["test_rows"] == 60
    names = [row["tagger"] for row in report["taggers"]]
    assert names[:3] == ["zero-shot", "adapted, dense head only", "adapted (no labels)"]
    assert names[-1] == "trained, all labelled rows" and len(names) == 8


def test_train_with_the_prior_and_a_mapping(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = site_rows(24)
    for row in rows:  # the file names the topics its own way
        row["desk_section"] = {"sport": "Sports", "politics": "Politics", "disaster": "Disasters"}[
            row.pop("topics")[0]
        ]
    labelled = write_jsonl(tmp_path / "labelled.jsonl", rows)
    mapping = tmp_path / "map.json"
    mapping.write_text(
        json.dumps({"sport": "Sports", "politics": "Politics", "disaster": "Disasters"})
    )
    taxonomy = write_taxonomy(tmp_path / "taxonomy.json")
    model = tmp_path / "model"

    code, _, err = _run(
        capsys, "topics", "train", labelled, "--out", model, "--label-field", "desk_section",
        "--taxonomy", taxonomy, "--map", mapping, "--cv", 0,
    )  # fmt: skip

    assert code == 0, err
    tagger = TrainedTagger.load(model)
    assert tagger.labels == ("Disasters", "Politics", "Sports")
    assert tagger.training["prior_rows"] == sum(len(t.prompts) for t in TAXONOMY)
    assert dict(tagger.iptc)["Sports"] == "medtop:15000000"


def test_iptc_taxonomy_by_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", site_rows(3))
    out = tmp_path / "out.jsonl"
    code, _, err = _run(capsys, "tag", source, "-o", out, "--taxonomy", "iptc", "--threshold", 0)
    assert code == 0, err
    row = json.loads(out.read_text().splitlines()[0])
    assert len(row["topics"]) == 17
    assert {t["iptc"] for t in row["topics"]} == {f"medtop:{n:02d}000000" for n in range(1, 18)}
    code, _, err = _run(capsys, "tag", source, "-o", tmp_path / "x.jsonl", "--taxonomy", "ipct")
    _one_error(code, err, "neither a built-in taxonomy (default, iptc) nor a taxonomy file")


@pytest.mark.slow
def test_the_service_tags_with_the_index_adapted_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = write_jsonl(tmp_path / "archive.jsonl", site_rows(60))
    index_dir = tmp_path / "index"
    assert _run(capsys, "index", archive, "--index-dir", index_dir, "--adapt-topics")[0] == 0
    settings = hashing_settings(index_dir)
    adapted = load_tagger(index_dir / ADAPTED_MODEL_DIR, build_embedder(settings))
    text = "innings wicket umpire"
    (expected,) = adapted.tag(build_embedder(settings).encode([text]), terms=term_vectors([text]))

    with app_client(settings) as client:
        body = client.post("/topics", json={"title": text}).json()

    assert body["primary"] == expected.primary
    assert body["topics"][0]["score"] == round(expected.topics[0].score, 4)


@pytest.mark.slow
def test_index_tags_and_adapts_with_the_configured_taxonomy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSREC_TOPIC_TAXONOMY", "iptc")
    archive = write_jsonl(tmp_path / "archive.jsonl", site_rows(30))
    index_dir = tmp_path / "index"
    iptc_labels = set(resolve_taxonomy("iptc").labels)

    assert _run(capsys, "index", archive, "--index-dir", index_dir)[0] == 0
    with ArticleIndex.open(index_dir, build_embedder(Settings())) as index:
        stored = index.topics_of("s0001")
    assert stored is not None and stored.primary in iptc_labels

    assert _run(capsys, "index", archive, "--index-dir", index_dir, "--adapt-topics")[0] == 0
    adapted = load_tagger(index_dir / ADAPTED_MODEL_DIR, build_embedder(Settings()))
    assert set(adapted.labels) == iptc_labels
