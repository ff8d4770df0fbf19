"""Limits of the service: k, text length, batch size and body size are settings, enforced
with a 4xx that names the limit and its variable; long texts are stored in full."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from service.http.schemas import API_MAX_K, MAX_TEXT_CHARS
from service.settings import ServiceSettings
from tests.service_support import app_client, build_index, hashing_settings


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    build_index(tmp_path / "index")
    return tmp_path / "index"


def test_a_lower_k_limit_is_enforced_on_both_related_routes(index_dir: Path) -> None:
    with app_client(hashing_settings(index_dir), ServiceSettings(max_k=5)) as client:
        assert len(client.get("/articles/libya-1/related?k=5").json()["related"]) == 5
        over = client.get("/articles/libya-1/related?k=6")
        assert over.status_code == 422
        assert over.json()["detail"] == "k=6 is over this service's limit of 5 (NEWSREC_MAX_K)"
        text = client.post("/related", json={"title": "Libya talks", "k": 6})
        assert text.status_code == 422 and "NEWSREC_MAX_K" in text.json()["detail"]
        assert client.post("/related", json={"title": "Libya talks", "k": 5}).status_code == 200


def test_the_default_k_limit_is_the_api_ceiling(index_dir: Path) -> None:
    with app_client(hashing_settings(index_dir)) as client:
        assert client.get(f"/articles/libya-1/related?k={API_MAX_K}").status_code == 200
        assert client.get(f"/articles/libya-1/related?k={API_MAX_K + 1}").status_code == 422


def test_a_text_over_the_limit_is_refused_and_nothing_is_written(index_dir: Path) -> None:
    service = ServiceSettings(max_text_chars=1000)
    with app_client(hashing_settings(index_dir), service) as client:
        long = {"title": "Long read", "body": "x" * 1001}
        reply = client.put("/articles/long", json=long)
        assert reply.status_code == 422
        assert reply.json()["detail"] == (
            "article 'long': body is 1,001 characters; at most 1,000 per title or body "
            "(NEWSREC_MAX_TEXT_CHARS)"
        )
        bulk = [{"id": "fine", "title": "Fine"}, {"id": "long", **long}]
        assert client.post("/articles", json={"articles": bulk}).status_code == 422
        assert client.get("/articles/fine").status_code == 404  # the batch is all or nothing
        title = client.put("/articles/t", json={"title": "T" * 1001})
        assert title.status_code == 422 and "title is 1,001" in title.json()["detail"]
        assert client.put("/articles/long", json={**long, "body": "x" * 1000}).status_code == 201


@pytest.mark.slow
def test_a_long_article_is_stored_in_full_and_still_related(index_dir: Path) -> None:
    body = " ".join(f"flood river rain evacuation word{n}" for n in range(5000))
    assert 150_000 < len(body) < MAX_TEXT_CHARS
    with app_client(hashing_settings(index_dir)) as client:
        assert (
            client.put(
                "/articles/feature", json={"title": "Flood feature", "body": body}
            ).status_code
            == 201
        )
        assert client.get("/articles/feature").json()["body"] == body
        related = client.get("/articles/feature/related?k=3").json()["related"]
        assert [item["id"] for item in related][:1] and related[0]["id"].startswith("flood")


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSREC_MAX_K", "20")
    monkeypatch.setenv("NEWSREC_MAX_TEXT_CHARS", "50000")
    monkeypatch.setenv("NEWSREC_MAX_BODY_BYTES", "65536")
    monkeypatch.setenv("NEWSREC_MAX_BULK_ARTICLES", "50")
    settings = ServiceSettings()
    assert (settings.max_k, settings.max_text_chars) == (20, 50_000)
    assert (settings.max_body_bytes, settings.max_bulk_articles) == (65_536, 50)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("max_k", 0),
        ("max_k", API_MAX_K + 1),
        ("max_text_chars", MAX_TEXT_CHARS + 1),
        ("max_body_bytes", 10),
    ],
)
def test_a_limit_out_of_range_is_a_settings_error(name: str, value: int) -> None:
    with pytest.raises(ValidationError, match=name):
        ServiceSettings(**{name: value})
