"""Summaries and explanations through the CLI and the HTTP API (hashing embedder)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from recommender import Article, load_articles
from recommender.summaries.cache import CACHE_FILE, SummaryCache
from recommender.summaries.sentences import split_sentences
from recommender.summaries.summary import DEFAULT_METHOD, Summarizer
from service.cli.main import main
from service.settings import ServiceSettings
from tests.conftest import SEEDS_DIR
from tests.service_support import (
    AWKWARD_IDS,
    CountingEmbedder,
    app_client,
    build_index,
    hashing_settings,
)

RELATED_FIELDS = {"id", "title", "score", "published", "source", "topics", "story"}
SLOT_FIELDS = RELATED_FIELDS | {"kind"}
SEEDS = SEEDS_DIR / "articles.jsonl"


def _seeds() -> list[Article]:
    return load_articles([SEEDS]).articles


def _body(article_id: str) -> str:
    return next(article.body for article in _seeds() if article.id == article_id)


def _assert_verbatim_in_order(sentences: list[str], body: str) -> None:
    positions = [body.index(sentence) for sentence in sentences]
    assert positions == sorted(positions)
    texts = [s.text for s in split_sentences(body)]
    assert all(sentence in texts for sentence in sentences)


# -- CLI -----------------------------------------------------------------------------------


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> dict[str, Any]:
        (line,) = self.out.splitlines()
        value: dict[str, Any] = json.loads(line)
        return value


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.setenv("NEWSREC_EMBEDDER", "hashing")
    monkeypatch.setenv("NEWSREC_HOME", str(tmp_path / "index"))

    def _run(*args: str) -> Run:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    assert _run("index", str(SEEDS)).code == 0
    return _run


@pytest.mark.slow
def test_cli_summary_json_is_the_central_sentences_verbatim(run: Any, tmp_path: Path) -> None:
    result = run("summary", "sec-libya-03", "--json")
    assert result.code == 0 and result.err == ""
    found = result.json()
    assert set(found) == {"id", "sentences"} and found["id"] == "sec-libya-03"
    assert len(found["sentences"]) == 3
    _assert_verbatim_in_order(found["sentences"], _body("sec-libya-03"))
    article = next(a for a in _seeds() if a.id == "sec-libya-03")
    expected = Summarizer().summarize(article.title, article.body, 3).sentences
    assert tuple(found["sentences"]) == expected
    assert (tmp_path / "index" / CACHE_FILE).is_file()

    five = run("summary", "sec-libya-03", "--sentences", "5", "--json").json()
    assert len(five["sentences"]) == 5 and set(found["sentences"]) <= set(five["sentences"])
    text = run("summary", "sec-libya-03", "-n", "2")
    two = Summarizer().summarize(article.title, article.body, 2).sentences
    assert text.out.splitlines() == ["sec-libya-03", *(f"  - {s}" for s in two)]


@pytest.mark.slow
def test_cli_summary_is_cached_and_recomputed_when_the_article_changes(
    run: Any, tmp_path: Path
) -> None:
    first = run("summary", "env-river-01", "--json").json()["sentences"]
    article = next(a for a in _seeds() if a.id == "env-river-01")
    cache = SummaryCache.in_directory(tmp_path / "index")
    method = Summarizer().cache_method
    assert cache.get(article.content_hash, method) is not None

    # Rewrite the article: its first three sentences go, a new central one arrives.
    changed = {
        **article.to_record(),
        "body": "The Tarrow river spill reached the estuary, river officials said on Friday. "
        "Dead fish were found all along the river banks. "
        "Anglers found the river water discoloured near the spill. "
        "A band played at the town fair on Saturday evening.",
    }
    update = tmp_path / "update.jsonl"
    update.write_text(json.dumps(changed) + "\n", encoding="utf-8")
    assert run("index", str(update)).code == 0
    second = run("summary", "env-river-01", "--json").json()["sentences"]
    assert second != first
    _assert_verbatim_in_order(second, changed["body"])
    assert "A band played at the town fair on Saturday evening." not in second
    new_hash = Article(id="x", title=article.title, body=changed["body"]).content_hash
    assert cache.get(new_hash, method) is not None
    cache.close()


@pytest.mark.slow
def test_cli_summary_of_a_text_needs_no_index(run: Any) -> None:
    result = run(
        "summary",
        "--title",
        "Flood",
        "--body",
        "LONDON \u2014 The river flood forced villages to evacuate. Mr. Lee said the U.S. team "
        "would help with the river flood. A bakery opened.",
        "-n",
        "1",
        "--json",
        "--index-dir",
        "/nonexistent/index",
    )
    assert result.code == 0, result.err
    assert result.json() == {"sentences": ["The river flood forced villages to evacuate."]}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("summary", "no-such-id"), "no article with id 'no-such-id'"),
        (("summary",), "give an article id, or a text with --body"),
        (("summary", "sec-libya-01", "--title", "T"), "not both"),
        (("summary", "sec-libya-01", "--method", "magic"), "unknown summary method 'magic'"),
        (("summary", "sec-libya-01", "-n", "0"), "--sentences"),
        (("summary", "sec-libya-01", "-n", "21"), "--sentences"),
        (("explain", "sec-libya-01", "no-such-id"), "no article with id 'no-such-id'"),
    ],
)
def test_cli_errors_are_one_line_and_exit_2(run: Any, args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert result.code == 2
    (line,) = result.err.splitlines()
    assert line.startswith("error: ") and message in line


@pytest.mark.slow
def test_cli_explain_gives_why_for_related_and_slots(run: Any) -> None:
    result = run("explain", "pol-varenia-03", "-k", "3", "--json")
    assert result.code == 0
    found = result.json()
    assert set(found) == {"id", "previous", "next", "related"}
    items = [found["previous"], found["next"], *found["related"]]
    assert len(found["related"]) == 3
    for number, item in enumerate(items):
        fields = SLOT_FIELDS if number < 2 else RELATED_FIELDS
        assert set(item) == fields | {"why", "reasons"}
        assert item["why"] and item["reasons"]["coverage"] in ("earlier", "later", "same time")
    assert found["previous"]["reasons"]["coverage"] == "earlier"
    assert found["next"]["reasons"]["coverage"] == "later"
    assert "Varenia" in " ".join(found["related"][0]["reasons"]["terms"])
    # The plain commands are unchanged.
    plain = run("related", "pol-varenia-03", "-k", "3", "--json").json()
    assert [h["id"] for h in plain["related"]] == [h["id"] for h in found["related"]]
    assert all(set(hit) == RELATED_FIELDS for hit in plain["related"])
    human = run("explain", "pol-varenia-03", "-k", "1")
    assert "why: " in human.out and human.out.startswith("pol-varenia-03\n")


# -- HTTP ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("summary-service")
    from tests.service_support import corpus

    ending_in_summary = Article(
        id="notes/summary",
        title="An id that ends like the summary route",
        body="This article has an awkward id on purpose. It still gets its own summary.",
    )
    build_index(directory, [*_seeds(), *corpus(), ending_in_summary])
    return directory


@pytest.fixture
def embedder() -> CountingEmbedder:
    return CountingEmbedder()


@pytest.fixture
def client(index_dir: Path, embedder: CountingEmbedder) -> Iterator[TestClient]:
    service = ServiceSettings(read_only=True, access_log=False)
    with app_client(hashing_settings(index_dir), service, embedder=embedder) as client:
        yield client


def _path(article_id: str, suffix: str = "") -> str:
    return f"/articles/{quote(article_id, safe='')}{suffix}"


def test_article_summary(client: TestClient, embedder: CountingEmbedder) -> None:
    reply = client.get(_path("spo-cup-02", "/summary"))
    assert reply.status_code == 200
    found = reply.json()
    assert set(found) == {"id", "sentences"} and found["id"] == "spo-cup-02"
    assert len(found["sentences"]) == 3
    _assert_verbatim_in_order(found["sentences"], _body("spo-cup-02"))
    one = client.get(_path("spo-cup-02", "/summary"), params={"sentences": 1}).json()
    assert len(one["sentences"]) == 1 and one["sentences"][0] in found["sentences"]
    assert embedder.encoded == 0  # the default scorer runs no model
    assert DEFAULT_METHOD.startswith("tfidf")


@pytest.mark.slow
@pytest.mark.parametrize("article_id", [*AWKWARD_IDS, "notes/summary"])
def test_summary_of_awkward_ids(client: TestClient, article_id: str) -> None:
    reply = client.get(_path(article_id, "/summary"), params={"sentences": 1})
    assert reply.status_code == 200, reply.text
    assert reply.json()["id"] == article_id
    # The article itself is still the article, even when its id ends in "/summary".
    assert client.get(_path(article_id)).json()["id"] == article_id


@pytest.mark.parametrize("sentences", ["0", "21", "-1", "three"])
def test_summary_sentence_bounds_are_422(client: TestClient, sentences: str) -> None:
    reply = client.get(_path("spo-cup-02", "/summary"), params={"sentences": sentences})
    assert reply.status_code == 422
    assert "sentences" in json.dumps(reply.json()["detail"])


def test_summary_of_an_unknown_id_is_404(client: TestClient) -> None:
    reply = client.get(_path("no-such-article", "/summary"))
    assert reply.status_code == 404
    assert reply.json() == {"detail": "no article with id 'no-such-article' in the index"}


def test_summary_of_a_text(client: TestClient) -> None:
    body = (
        "TRIPOLI, March 3 (Reuters) - The river flood forced villages to evacuate. "
        "Rescue teams reached the flooded river villages by boat. A bakery opened."
    )
    reply = client.post("/summary", json={"title": "River flood", "body": body, "sentences": 2})
    assert reply.status_code == 200
    assert reply.json() == {
        "sentences": [
            "The river flood forced villages to evacuate.",
            "Rescue teams reached the flooded river villages by boat.",
        ]
    }


@pytest.mark.parametrize(
    "payload",
    [{"title": "T"}, {"body": ""}, {"body": "x", "sentences": 0}, {"body": "x", "more": 1}],
)
def test_summary_of_a_bad_text_is_422(client: TestClient, payload: dict[str, Any]) -> None:
    assert client.post("/summary", json=payload).status_code == 422


def test_related_and_slots_explain_on_request_only(client: TestClient) -> None:
    plain = client.get(_path("libya-1", "/related"), params={"k": 3}).json()
    assert all(set(item) == RELATED_FIELDS for item in plain["related"])
    explained = client.get(_path("libya-1", "/related"), params={"k": 3, "explain": "true"})
    assert explained.status_code == 200
    items = explained.json()["related"]
    assert [i["id"] for i in items] == [i["id"] for i in plain["related"]]
    for item in items:
        assert set(item) == RELATED_FIELDS | {"why", "reasons"}
        assert set(item["reasons"]) == {"topics", "terms", "coverage", "days_apart"}
    assert "Libya" in " ".join(items[0]["reasons"]["terms"])

    slots = client.get(_path("libya-2", "/slots"), params={"explain": "true"}).json()
    assert slots["previous"]["reasons"]["coverage"] == "earlier"
    assert slots["next"]["reasons"]["coverage"] == "later"
    assert "earlier coverage" in slots["previous"]["why"]
    assert set(client.get(_path("libya-2", "/slots")).json()["next"]) == SLOT_FIELDS


def test_related_to_a_text_explains_on_request(client: TestClient) -> None:
    query = {"title": "Haftar in Moscow", "body": "Haftar and Moscow agree on defence", "k": 2}
    plain = client.post("/related", json=query).json()
    assert all(set(item) == RELATED_FIELDS for item in plain["related"])
    explained = client.post("/related", json={**query, "explain": True}).json()
    assert all(item["why"] for item in explained["related"])
