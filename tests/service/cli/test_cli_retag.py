"""The CLI's topic wiring: index-time tags in related output, --topic, and retag."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from service.cli.main import main
from tests.topics_corpus import keyword_text


@pytest.fixture
def indexed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NEWSREC_EMBEDDER", "hashing")
    rng = random.Random(5)
    corpus = tmp_path / "articles.jsonl"
    rows = [
        {"id": f"{label}-{n}", "title": f"{label} {n}", "body": keyword_text([label], rng)}
        for label in ("sport", "politics")
        for n in range(4)
    ]
    corpus.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    directory = tmp_path / "index"
    assert main(["index", str(corpus), "--index-dir", str(directory)]) == 0
    return directory


def test_related_json_carries_topics_and_filters_by_topic(
    indexed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["related", "sport-0", "--json", "--index-dir", str(indexed)]) == 0
    hits = json.loads(capsys.readouterr().out)["related"]
    assert all(isinstance(hit["topics"], list) for hit in hits)
    labels = {label for hit in hits for label in hit["topics"]}
    assert labels, "the zero-shot tagger labels indexed articles"
    chosen = sorted(labels)[0]
    code = main(["related", "sport-0", "--json", "--topic", chosen, "--index-dir", str(indexed)])
    assert code == 0
    assert all(chosen in hit["topics"] for hit in json.loads(capsys.readouterr().out)["related"])


def test_unknown_topic_is_one_line_and_exit_2(
    indexed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    code = main(["related", "sport-0", "--topic", "weather", "--index-dir", str(indexed)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.count("\n") == 1 and "unknown topic 'weather'" in captured.err


def test_retag_rewrites_every_article(indexed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["retag", "--index-dir", str(indexed)]) == 0
    assert "retagged 8 articles" in capsys.readouterr().out
