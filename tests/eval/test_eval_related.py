"""`newsrec eval related`: systems side by side on a corpus whose right answers are known.

The keyword corpus (tests/eval_corpus.py) gives every story words no other article has, so a
system that reads text must rank a query's story mates above everything else, and one that
does not (random, recency) must not.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.quality.related_eval import SYSTEM_NAMES, check_systems, run_related_eval
from recommender import InvalidInputError, Settings
from service.cli.main import main
from tests.eval_corpus import MEMBERS, STORIES, keyword_rows, write_jsonl
from tests.service_support import running_server

pytestmark = pytest.mark.slow

pytest.importorskip("ranx")
pytest.importorskip("bm25s")

TEXT_SYSTEMS = ("tfidf", "bm25", "dense", "hybrid", "default")


@pytest.fixture
def hashing_settings(tmp_path: Path) -> Settings:
    return Settings(embedder="hashing", index_dir=tmp_path / "unused")


@pytest.fixture
def corpus_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "corpus.jsonl", keyword_rows())


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("report")


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory, report_dir: Path) -> dict:
    """One evaluation of every system, shared by the tests that only read it."""
    scratch = tmp_path_factory.mktemp("outcome")
    corpus = write_jsonl(scratch / "corpus.jsonl", keyword_rows())
    settings = Settings(embedder="hashing", index_dir=scratch / "unused")
    return run_related_eval(corpus, k=5, report_dir=report_dir, settings=settings)


def test_every_story_member_is_a_query(outcome: dict) -> None:
    assert outcome["queries"] == len(STORIES) * MEMBERS
    assert outcome["articles"] == len(keyword_rows())
    assert outcome["systems"] == list(SYSTEM_NAMES)


def test_text_systems_rank_story_mates_first(outcome: dict) -> None:
    for system in TEXT_SYSTEMS:
        metrics = outcome["metrics"][system]
        assert metrics["ndcg@5"] == pytest.approx(1.0), system
        assert metrics["mrr"] == pytest.approx(1.0), system
    assert outcome["metrics"]["random"]["ndcg@5"] < 0.9


def test_beyond_accuracy_metrics_are_bounded(outcome: dict) -> None:
    for system, metrics in outcome["metrics"].items():
        for name in ("coverage", "diversity", "duplicates", "slot_fill", "slot_same_story"):
            assert 0.0 <= metrics[name] <= 1.0, (system, name)
    # The story mates are dated around each query: the default fills both slots with them.
    assert outcome["metrics"]["default"]["slot_same_story"] > 0.5
    assert outcome["metrics"]["default"]["duplicates"] == 0.0


def test_default_is_compared_with_the_best_baseline(outcome: dict) -> None:
    plain = outcome["plain"]
    assert plain["best_baseline"] in SYSTEM_NAMES
    assert plain["best_baseline"] != "default"
    assert plain["target"]["reference"] in ("tfidf", "bm25", "dense")
    assert set(plain["significance"]) == set(outcome["accuracy_metrics"])


def test_report_has_tables_plots_and_examples(outcome: dict, report_dir: Path) -> None:
    report = report_dir / "report.md"
    text = report.read_text(encoding="utf-8")
    for system in SYSTEM_NAMES:
        assert f"| {system} |" in text
    assert "![" in text
    plots = sorted(report_dir.glob("*.png"))
    assert any(plot.name.startswith("bars-ndcg") for plot in plots)
    assert any(plot.name.startswith("scores-") for plot in plots)
    for plot in plots:
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert plot.name in text


def test_a_near_duplicate_counts_once_when_collapsed(
    tmp_path: Path, hashing_settings: Settings
) -> None:
    rows = keyword_rows()
    copy = dict(rows[0], id="storm-0-copy")  # republished word for word
    path = write_jsonl(tmp_path / "with-copy.jsonl", [*rows, copy])
    found = run_related_eval(path, k=5, systems=["tfidf", "default"], settings=hashing_settings)
    # Plain judging rewards showing the copy; collapsed judging does not.
    assert found["metrics"]["tfidf"]["duplicates"] > 0.0
    assert found["metrics"]["default"]["duplicates"] == 0.0
    collapsed = found["collapsed"]["metrics"]
    assert collapsed["default"]["ndcg@5"] >= collapsed["tfidf"]["ndcg@5"]


def test_via_http_matches_in_process(
    corpus_file: Path, hashing_settings: Settings, tmp_path: Path
) -> None:
    from recommender import load_articles, open_index
    from service.http.app import create_app
    from service.settings import ServiceSettings

    index_dir = tmp_path / "served"
    settings = hashing_settings.model_copy(update={"index_dir": index_dir})
    with open_index(settings, writable=True) as index:
        index.upsert(load_articles([corpus_file]).articles)
        index.save()
    in_process = run_related_eval(
        corpus_file, k=5, systems=["default"], settings=settings, index_dir=index_dir
    )
    app = create_app(settings, ServiceSettings(access_log=False))
    with running_server(app) as base:
        over_http = run_related_eval(
            corpus_file, k=5, systems=["default"], settings=settings, via_http=base
        )
    assert over_http["via_http"] == base
    for metric in in_process["accuracy_metrics"]:
        assert over_http["metrics"]["default"][metric] == pytest.approx(
            in_process["metrics"]["default"][metric]
        ), metric


def test_unknown_system_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="unknown system 'elastic'"):
        check_systems(["tfidf", "elastic"])


def test_cli_prints_the_table_and_refuses_bad_input(
    corpus_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("NEWSREC_EMBEDDER", "hashing")
    code = main(["eval", "related", str(corpus_file), "--systems", "tfidf,default", "-k", "5"])
    captured = capsys.readouterr()
    assert code == 0
    assert "default" in captured.out and "ndcg@5" in captured.out
    code = main(["eval", "related", str(corpus_file), "--systems", "elastic"])
    captured = capsys.readouterr()
    assert code == 2
    assert "unknown system 'elastic'" in captured.err
    assert "Traceback" not in captured.err
    code = main(["eval", "related", str(tmp_path / "missing.jsonl")])
    assert code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
