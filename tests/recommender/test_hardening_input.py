"""Input that parses but cannot be kept (issue 18, defects 1 and 2, and NaN): unpaired
surrogate escapes, NaN and infinities, extra fields nested past the documented depth.
Refused with 422 on HTTP (never a 500, also when the 422 would echo the input) and as a
row error by `newsrec index` (one line, exit 2), so no accepted article is unreadable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from recommender import article_from_mapping
from recommender.articles import MAX_FIELD_DEPTH
from service.cli.main import main
from service.settings import ServiceSettings
from tests.service_support import app_client, build_index, hashing_settings

JSON = {"content-type": "application/json"}
SURROGATE = '"x\\ud800"'  # a JSON escape: valid JSON syntax, no valid text


def _nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    build_index(tmp_path / "index")
    return tmp_path / "index"


@pytest.fixture
def client(index_dir: Path) -> Iterator[TestClient]:
    with app_client(hashing_settings(index_dir), ServiceSettings()) as client:
        yield client


def _send(client: TestClient, method: str, path: str, body: str) -> tuple[int, object]:
    reply = client.request(method, path, content=body.encode(), headers=JSON)
    assert reply.headers["content-type"] == "application/json"
    return reply.status_code, reply.json()["detail"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/articles/s1", f'{{"title": "ok", "body": "b", "x": {SURROGATE}}}'),
        ("PUT", "/articles/s1", f'{{"title": {SURROGATE}, "body": "b"}}'),
        # The title with a surrogate and a wrong type elsewhere: the 422 echoes the input.
        ("PUT", "/articles/s1", f'{{"title": {SURROGATE}, "body": 5}}'),
        ("PUT", "/articles/s1", f'{{"title": "ok", {SURROGATE}: 1}}'),
        ("POST", "/articles", f'{{"articles": [{{"id": "a", "title": {SURROGATE}}}]}}'),
        ("POST", "/related", f'{{"title": {SURROGATE}}}'),
        ("POST", "/topics", f'{{"title": {SURROGATE}}}'),
        ("POST", "/summary", f'{{"title": {SURROGATE}, "body": "One. Two."}}'),
    ],
)
def test_an_unpaired_surrogate_is_a_422_on_every_route(
    client: TestClient, method: str, path: str, body: str
) -> None:
    status, detail = _send(client, method, path, body)
    assert status == 422
    assert "unpaired surrogate" in str(detail)
    assert client.get("/articles/s1").status_code == 404


def test_paired_surrogates_and_escaped_backslashes_are_text(client: TestClient) -> None:
    body = '{"title": "smile \\ud83d\\ude00", "body": "b", "path": "C:\\\\ud800"}'
    assert client.put("/articles/e1", content=body.encode(), headers=JSON).status_code == 201
    stored = client.get("/articles/e1").json()
    assert stored["title"] == "smile \U0001f600" and stored["path"] == "C:\\ud800"


def test_the_words_nan_and_infinity_in_text_are_text(client: TestClient) -> None:
    body = '{"title": "NaN, Infinity and 1e400 in a headline", "note": "\\\\ud800"}'
    assert client.put("/articles/words", content=body.encode(), headers=JSON).status_code == 201


@pytest.mark.slow
@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_nan_and_infinities_are_refused_not_stored_as_null(client: TestClient, number: str) -> None:
    status, detail = _send(client, "PUT", "/articles/n1", f'{{"title": "t", "score": {number}}}')
    assert status == 422 and "JSON does not have" in str(detail)
    # And where a 422 would echo the number back (a field of the wrong type):
    assert _send(client, "POST", "/related", f'{{"title": "t", "k": {number}}}')[0] == 422
    assert _send(client, "POST", "/related", f'{{"title": "t", "x": [{number}]}}')[0] == 422
    assert client.get("/articles/n1").status_code == 404


def test_extra_fields_nest_at_most_the_documented_depth(client: TestClient) -> None:
    at_limit = f'{{"title": "t", "tree": {_nested(MAX_FIELD_DEPTH)}}}'
    assert client.put("/articles/deep", content=at_limit.encode(), headers=JSON).status_code == 201
    assert client.get("/articles/deep").json()["tree"] == json.loads(_nested(MAX_FIELD_DEPTH))
    for depth in (MAX_FIELD_DEPTH + 1, 256, 900):
        body = f'{{"title": "t", "tree": {_nested(depth)}}}'
        status, detail = _send(client, "PUT", "/articles/deeper", body)
        assert status == 422 and f"deeper than {MAX_FIELD_DEPTH} levels" in str(detail)
    assert client.get("/articles/deeper").status_code == 404
    # Deep in a field of the wrong type, where the 422 echoes it back:
    status, _ = _send(client, "PUT", "/articles/deeper", f'{{"title": {_nested(990)}}}')
    assert status == 422
    # Too deep for the JSON parser itself: still a 422 in the JSON error shape.
    status, detail = _send(client, "PUT", "/articles/deeper", f'{{"title": {_nested(100_000)}}}')
    assert status == 422 and "too deeply" in str(detail)


def test_the_core_refuses_the_same_rows() -> None:
    for row, phrase in (
        ({"id": "a", "title": "x\ud800"}, "unpaired surrogate"),
        ({"id": "a", "title": "t", "x": float("nan")}, "JSON does not have"),
        ({"id": "a", "title": "t", "x": {"y": [float("-inf")]}}, "JSON does not have"),
        ({"id": "a", "title": "t", "x": json.loads(_nested(MAX_FIELD_DEPTH + 1))}, "deeper"),
    ):
        with pytest.raises(ValueError, match=phrase):
            article_from_mapping(row)
    kept = article_from_mapping({"id": "a", "title": "t", "x": json.loads(_nested(32))})
    assert kept.extra["x"] == json.loads(_nested(32))


@pytest.mark.parametrize(
    ("line", "phrase"),
    [
        (f'{{"id": "a", "title": "t", "x": {_nested(MAX_FIELD_DEPTH + 1)}}}', "deeper than 32"),
        ('{"id": "a", "title": "t", "x": NaN}', "JSON does not have"),
        (f'{{"id": "a", "title": {SURROGATE}}}', "unpaired surrogate"),
    ],
)
def test_newsrec_index_refuses_them_in_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    line: str,
    phrase: str,
) -> None:
    monkeypatch.setenv("NEWSREC_EMBEDDER", "hashing")
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"id": "ok", "title": "fine"}\n' + line + "\n", encoding="utf-8")
    code = main(["index", str(rows), "--index-dir", str(tmp_path / "index")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "line 2" in err and phrase in err
