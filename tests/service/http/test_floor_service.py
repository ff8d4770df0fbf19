"""The relevance floor through the HTTP API and the CLI: `floor=calibrated` and `withheld`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recommender.ranking.relevance_floor import FLOOR_FILE
from service.cli.main import main
from service.settings import ServiceSettings
from tests.recommender.ranking.test_floor import floor_corpus
from tests.service_support import app_client, build_index, hashing_settings


@pytest.fixture
def floor_dir(tmp_path: Path) -> Path:
    build_index(tmp_path / "index", floor_corpus())
    return tmp_path / "index"


@pytest.mark.slow
def test_http_related_counts_what_the_floor_withheld(floor_dir: Path) -> None:
    settings = hashing_settings(floor_dir, relevance_floor_one_in=100)
    with app_client(settings, ServiceSettings()) as client:
        plain = client.get("/articles/lonely/related", params={"k": 10}).json()
        assert len(plain["related"]) == 10 and plain["withheld"] == 0
        floored = client.get(
            "/articles/lonely/related", params={"k": 10, "floor": "calibrated"}
        ).json()
        assert floored["withheld"] == 10 - len(floored["related"]) > 0
        shown = [item["id"] for item in floored["related"]]
        assert shown == [item["id"] for item in plain["related"] if item["id"] in set(shown)]
        story = client.get(
            "/articles/story-0/related", params={"k": 10, "floor": "calibrated"}
        ).json()
        assert len(story["related"]) == 10 and story["withheld"] == 0
        assert client.get("/articles/lonely/related", params={"floor": "high"}).status_code == 422
    assert (floor_dir / FLOOR_FILE).is_file()


@pytest.mark.slow
def test_http_floor_on_by_setting_and_off_by_request(floor_dir: Path) -> None:
    settings = hashing_settings(floor_dir, relevance_floor="calibrated", relevance_floor_one_in=100)
    with app_client(settings, ServiceSettings()) as client:
        default = client.get("/articles/lonely/related", params={"k": 10}).json()
        assert default["withheld"] > 0
        declined = client.get("/articles/lonely/related", params={"k": 10, "floor": "off"}).json()
        assert declined["withheld"] == 0 and len(declined["related"]) == 10
        # The page options re-rank a deeper list: no count is given.
        page = client.get("/articles/lonely/related", params={"k": 10, "diversity": 0.5}).json()
        assert "withheld" not in page


def _related(
    capsys: pytest.CaptureFixture[str], index_dir: Path, *options: str
) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["related", "lonely", "-k", "10", *options, "--index-dir", str(index_dir)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.slow
def test_cli_related_json_says_how_many_were_withheld(
    floor_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSREC_EMBEDDER", "hashing")
    monkeypatch.setenv("NEWSREC_RELEVANCE_FLOOR_ONE_IN", "100")
    code, out, err = _related(capsys, floor_dir, "--json")
    assert code == 0 and err == ""
    line = json.loads(out)
    assert line["withheld"] == 0 and len(line["related"]) == 10
    code, out, _ = _related(capsys, floor_dir, "--floor", "calibrated", "--json")
    floored = json.loads(out)
    assert code == 0 and floored["withheld"] == 10 - len(floored["related"]) > 0
    code, out, _ = _related(capsys, floor_dir, "--floor", "calibrated")
    assert code == 0 and f"({floored['withheld']} more under the relevance floor withheld)" in out
    code, out, err = _related(capsys, floor_dir, "--floor", "high")
    assert code == 2 and out == "" and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "high" in err


@pytest.mark.slow
def test_newsrec_index_keeps_the_floor_when_it_is_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSREC_EMBEDDER", "hashing")
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        "".join(
            json.dumps({"id": a.id, "title": a.title, "body": a.body}) + "\n"
            for a in floor_corpus()
        ),
        encoding="utf-8",
    )
    index_dir = tmp_path / "index"
    assert main(["index", str(corpus), "--index-dir", str(index_dir)]) == 0
    assert not (index_dir / FLOOR_FILE).exists()  # off: nothing estimated
    monkeypatch.setenv("NEWSREC_RELEVANCE_FLOOR", "calibrated")
    assert main(["index", str(corpus), "--index-dir", str(index_dir)]) == 0
    assert (index_dir / FLOOR_FILE).is_file()
    code, out, _ = _related(capsys, index_dir, "--json")
    assert code == 0 and json.loads(out)["withheld"] > 0
