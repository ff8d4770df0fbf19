"""Write endpoints: upsert, bulk, delete, limits, auth, read-only, persistence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from recommender import open_index
from service.settings import ServiceSettings
from tests.service_support import app_client, build_index, hashing_settings

TOKEN = "s3cret-token"
NEW = {
    "title": "Libya Russia defence pact signed in Moscow",
    "body": "Libya Russia security cooperation Haftar Moscow defence pact counterterrorism",
    "published": "2025-10-30T12:00:00Z",
    "source": "Test Wire",
    "desk": {"editor": "A. N. Other"},
}


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    build_index(tmp_path / "index")
    return tmp_path / "index"


@pytest.fixture
def client(index_dir: Path) -> Iterator[TestClient]:
    with app_client(hashing_settings(index_dir)) as client:
        yield client


def test_upsert_is_visible_to_the_next_request(client: TestClient) -> None:
    reply = client.put("/articles/libya%2Fpact", json=NEW)
    assert reply.status_code == 201
    assert reply.json()["status"] == "added"
    assert client.get("/articles/libya%2Fpact").json()["desk"] == {"editor": "A. N. Other"}
    related = client.get("/articles/libya-3/related", params={"k": 20}).json()["related"]
    assert "libya/pact" in [item["id"] for item in related]
    assert client.get("/articles/libya%2Fpact/slots").json()["previous"] is not None
    found = client.get("/articles", params={"q": "defence pact"}).json()["articles"]
    assert [item["id"] for item in found] == ["libya/pact"]
    assert client.get("/readyz").json()["articles"] == 17


@pytest.mark.slow
def test_upsert_again_is_unchanged_then_updated(client: TestClient) -> None:
    assert client.put("/articles/n1", json=NEW).status_code == 201
    again = client.put("/articles/n1", json={**NEW, "id": "n1"})
    assert (again.status_code, again.json()["status"]) == (200, "unchanged")
    changed = client.put("/articles/n1", json={**NEW, "title": "A new headline"})
    assert (changed.status_code, changed.json()["status"]) == (200, "updated")
    assert client.get("/articles/n1").json()["title"] == "A new headline"
    assert changed.json()["generation"] > again.json()["generation"]


def test_an_update_replaces_cached_answers(client: TestClient) -> None:
    def related_ids() -> list[str]:
        reply = client.get("/articles/cup-1/related", params={"k": 2}).json()
        return [item["id"] for item in reply["related"]]

    before = related_ids()
    assert "cup-2" in before and related_ids() == before  # the second answer is cached
    client.put("/articles/cup-2", json={"title": "Now about floods", "body": "flood river rain"})
    # cup-2 now tells another story: an answer cached before the write would still hold it.
    assert "cup-2" not in related_ids()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({**NEW, "id": "other"}, "differs from the path"),
        ({**NEW, "published": "yesterday"}, "published"),
        ({**NEW, "title": 12}, "title"),
        ({**NEW, "title": "   "}, "title"),
        ({**NEW, "topics": "security"}, "topics"),
        ({"body": "no title"}, "title"),
    ],
)
def test_put_bad_article_is_422(client: TestClient, payload: dict[str, Any], fragment: str) -> None:
    reply = client.put("/articles/n2", json=payload)
    assert reply.status_code == 422
    assert fragment in str(reply.json()["detail"])
    assert client.get("/articles/n2").status_code == 404


def test_delete(client: TestClient) -> None:
    assert client.delete("/articles/story%2Frelated").status_code == 204
    assert client.get("/articles/story%2Frelated").status_code == 404
    related = client.get("/articles/libya-1/related", params={"k": 20}).json()["related"]
    assert "story/related" not in [item["id"] for item in related]
    again = client.delete("/articles/story%2Frelated")
    assert again.status_code == 404
    assert "story/related" in again.json()["detail"]


def test_bulk_upsert(client: TestClient) -> None:
    articles = [{**NEW, "id": f"bulk-{n}", "title": f"Bulk story {n}"} for n in range(5)]
    reply = client.post("/articles", json={"articles": articles})
    assert reply.status_code == 200
    assert reply.json() | {"generation": 0} == {
        "added": 5,
        "updated": 0,
        "unchanged": 0,
        "encoded": 5,
        "generation": 0,
    }
    assert client.get("/articles/bulk-4").json()["title"] == "Bulk story 4"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("articles", "fragment"),
    [
        ([], "at least 1"),
        ([{**NEW}], "articles[0]: field 'id' is required"),
        ([{**NEW, "id": "a"}, {**NEW, "id": "a"}], "articles[1]: duplicate id 'a'"),
        ([{**NEW, "id": "a"}, {**NEW, "id": "b", "published": "soon"}], "articles[1]"),
    ],
)
def test_bulk_bad_input_is_422_and_writes_nothing(
    client: TestClient, articles: list[dict[str, Any]], fragment: str
) -> None:
    reply = client.post("/articles", json={"articles": articles})
    assert reply.status_code == 422
    assert fragment in str(reply.json()["detail"])
    assert client.get("/articles/a").status_code == 404


def test_bulk_over_the_batch_limit_is_413(index_dir: Path) -> None:
    service = ServiceSettings(max_bulk_articles=3)
    with app_client(hashing_settings(index_dir), service) as client:
        articles = [{**NEW, "id": f"b{n}"} for n in range(4)]
        reply = client.post("/articles", json={"articles": articles})
        assert reply.status_code == 413
        assert "at most 3" in reply.json()["detail"]
        assert client.post("/articles", json={"articles": articles[:3]}).status_code == 200


def test_body_over_the_size_limit_is_413(index_dir: Path) -> None:
    service = ServiceSettings(max_body_bytes=2048)
    with app_client(hashing_settings(index_dir), service) as client:
        big = {**NEW, "body": "word " * 1000}
        reply = client.put("/articles/big", json=big)
        assert reply.status_code == 413
        assert "2,048 bytes" in reply.json()["detail"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
            yield b'{"title": "t", "body": "'
            yield b"x" * 4096
            yield b'"}'

        streamed = client.put(
            "/articles/big", content=chunks(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413
        assert client.get("/articles/big").status_code == 404
        assert client.put("/articles/small", json=NEW).status_code == 201


@pytest.mark.slow
def test_writes_need_the_bearer_token_when_set(index_dir: Path) -> None:
    service = ServiceSettings(api_token=SecretStr(TOKEN))
    with app_client(hashing_settings(index_dir), service) as client:
        missing = client.put("/articles/t1", json=NEW)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == "Bearer"
        assert "detail" in missing.json()
        for header in ("Basic czNjcmV0", "Bearer", "Bearer "):
            assert (
                client.put("/articles/t1", json=NEW, headers={"Authorization": header}).status_code
                == 401
            )
        wrong = {"Authorization": "Bearer wrong"}
        assert client.put("/articles/t1", json=NEW, headers=wrong).status_code == 403
        assert client.delete("/articles/libya-1", headers=wrong).status_code == 403
        assert client.post("/articles", json={"articles": [{**NEW, "id": "x"}]}).status_code == 401
        right = {"Authorization": f"Bearer {TOKEN}"}
        assert client.put("/articles/t1", json=NEW, headers=right).status_code == 201
        assert client.delete("/articles/t1", headers=right).status_code == 204
        # Reads need no token.
        assert client.get("/articles/libya-1/related").status_code == 200
        assert client.post("/related", json={"title": "Libya"}).status_code == 200


def test_read_only_service_refuses_writes(index_dir: Path) -> None:
    service = ServiceSettings(read_only=True)
    with app_client(hashing_settings(index_dir), service) as client:
        assert client.put("/articles/r1", json=NEW).status_code == 403
        assert client.delete("/articles/libya-1").status_code == 403
        refused = client.post("/articles", json={"articles": [{**NEW, "id": "r2"}]})
        assert refused.status_code == 403
        assert "read-only" in refused.json()["detail"]
        assert client.get("/articles/libya-1").status_code == 200
        assert client.get("/readyz").json()["writable"] is False


def test_a_write_is_persisted_before_it_is_acknowledged(index_dir: Path) -> None:
    settings = hashing_settings(index_dir)
    with app_client(settings) as client:
        generation = client.put("/articles/kept", json=NEW).json()["generation"]
        # Read it back from disk while the service still runs (read-only opens no lock).
        with open_index(settings) as index:
            assert index.article("kept").title == NEW["title"]
            assert index.info().generation == generation
        manifest = (index_dir / "newsrec-manifest.json").read_text()
        assert f'"generation": {generation}' in manifest


def test_env_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSREC_API_TOKEN", TOKEN)
    monkeypatch.setenv("NEWSREC_READ_ONLY", "true")
    monkeypatch.setenv("NEWSREC_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("NEWSREC_MAX_BULK_ARTICLES", "7")
    settings = ServiceSettings()
    assert settings.api_token is not None and settings.api_token.get_secret_value() == TOKEN
    assert settings.read_only and not settings.accepts_writes
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.max_bulk_articles == 7
