"""Read endpoints of the HTTP service, through TestClient, with the hashing embedder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from service.settings import ServiceSettings
from tests.service_support import AWKWARD_IDS, CountingEmbedder, app_client, build_index

RELATED_FIELDS = {"id", "title", "score", "published", "source", "topics", "story"}
SLOT_FIELDS = RELATED_FIELDS | {"kind"}  # a slot says whether it continues the story


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("service-reads")
    build_index(directory)
    return directory


@pytest.fixture
def client(index_dir: Path) -> Iterator[TestClient]:
    from tests.service_support import hashing_settings

    with app_client(hashing_settings(index_dir), ServiceSettings(read_only=True)) as client:
        yield client


def path(article_id: str, suffix: str = "") -> str:
    return f"/articles/{quote(article_id, safe='')}{suffix}"


# -- related -------------------------------------------------------------------------------


def test_related_has_the_cli_shape_and_finds_the_story(client: TestClient) -> None:
    reply = client.get("/articles/libya-1/related", params={"k": 3})
    assert reply.status_code == 200
    body = reply.json()
    assert body["id"] == "libya-1"
    assert len(body["related"]) == 3
    assert all(set(item) == RELATED_FIELDS for item in body["related"])
    assert "libya-1" not in [item["id"] for item in body["related"]]
    scores = [item["score"] for item in body["related"]]
    assert scores == sorted(scores, reverse=True)
    assert {item["id"] for item in body["related"]} <= {
        "libya-2",
        "libya-3",
        *AWKWARD_IDS,
    }


@pytest.mark.parametrize("k", [0, 101, -1])
def test_related_k_out_of_bounds_is_422(client: TestClient, k: int) -> None:
    reply = client.get("/articles/libya-1/related", params={"k": k})
    assert reply.status_code == 422
    assert "detail" in reply.json()


def test_related_k_at_the_bounds(client: TestClient) -> None:
    assert len(client.get("/articles/libya-1/related?k=1").json()["related"]) == 1
    assert client.get("/articles/libya-1/related?k=100").status_code == 200


def test_related_unknown_id_is_404_json(client: TestClient) -> None:
    reply = client.get("/articles/no-such-article/related")
    assert reply.status_code == 404
    assert reply.json() == {"detail": "no article with id 'no-such-article' in the index"}


@pytest.mark.parametrize(
    "params",
    [{"since": "yesterday"}, {"until": "2025-13-01"}, {"topic": "no-such-topic"}],
)
def test_related_bad_date_or_topic_is_422(client: TestClient, params: dict[str, str]) -> None:
    reply = client.get("/articles/libya-1/related", params=params)
    assert reply.status_code == 422
    assert isinstance(reply.json()["detail"], str)


def test_related_filters(client: TestClient) -> None:
    excluded = client.get(
        "/articles/libya-1/related", params={"k": 5, "exclude": ["libya-2", "libya-3"]}
    ).json()
    assert not {"libya-2", "libya-3"} & {item["id"] for item in excluded["related"]}
    windowed = client.get(
        "/articles/libya-1/related", params={"k": 20, "since": "2025-09-01", "until": "2025-09-30"}
    ).json()
    assert [item["published"][:7] for item in windowed["related"]] == ["2025-09"] * 2


def test_related_by_id_never_runs_the_model(index_dir: Path) -> None:
    from tests.service_support import hashing_settings

    embedder = CountingEmbedder()
    service = ServiceSettings(read_only=True)
    with app_client(hashing_settings(index_dir), service, embedder=embedder) as client:
        for article_id in ("libya-1", "cup-2", *AWKWARD_IDS):
            assert client.get(path(article_id, "/related")).status_code == 200
            assert client.get(path(article_id, "/slots")).status_code == 200
    assert embedder.encoded == 0


# -- slots ---------------------------------------------------------------------------------


def test_slots_previous_before_next_after(client: TestClient) -> None:
    body = client.get("/articles/libya-2/slots").json()
    assert set(body) == {"id", "previous", "next"}
    assert body["id"] == "libya-2"
    assert body["previous"]["id"] == "libya-1"
    assert body["previous"]["published"] < "2025-09-03T14:40"
    assert body["next"]["published"] > "2025-09-03T14:40"
    assert set(body["next"]) == SLOT_FIELDS
    assert body["previous"]["kind"] == body["next"]["kind"] == "story"


def test_slots_unknown_id_is_404(client: TestClient) -> None:
    assert client.get("/articles/nope/slots").status_code == 404


# -- ids with any character ----------------------------------------------------------------


@pytest.mark.parametrize("article_id", AWKWARD_IDS)
def test_percent_encoded_ids_work_everywhere(client: TestClient, article_id: str) -> None:
    article = client.get(path(article_id))
    assert article.status_code == 200, article.json()
    assert article.json()["id"] == article_id
    assert client.get(path(article_id, "/related")).json()["id"] == article_id
    assert client.get(path(article_id, "/slots")).json()["id"] == article_id
    assert client.get(path(article_id, "/topics")).json()["id"] == article_id


def test_an_id_ending_in_related_is_not_a_related_list(client: TestClient) -> None:
    # "story/related" is an article; "story%2Frelated" must open it, not the list of "story".
    assert client.get("/articles/story%2Frelated").json()["title"] == "Libya follow-up 7"
    assert client.get("/articles/story/related").status_code == 404  # no article "story"


def test_an_unencoded_slash_still_reaches_the_article(client: TestClient) -> None:
    reply = client.get("/articles/world/europe/2025/talks")
    assert reply.status_code == 200
    assert reply.json()["id"] == "world/europe/2025/talks"
    related = client.get("/articles/world/europe/2025/talks/related?k=2").json()
    assert related["id"] == "world/europe/2025/talks"


# -- article, topics, search ---------------------------------------------------------------


def test_article_is_the_stored_record_with_extra_fields(client: TestClient) -> None:
    body = client.get(path("café/naïve ünïcode")).json()
    assert body["note"] == "awkward id"
    assert body["rank"] == 6
    assert body["published"] == "2025-10-06T09:00:00Z"
    assert client.get("/articles/nope").status_code == 404


def test_article_topics(client: TestClient) -> None:
    body = client.get("/articles/cup-1/topics").json()
    assert set(body) == {"id", "topics", "primary", "assigned_at_index_time"}
    assert body["assigned_at_index_time"] is True
    assert isinstance(body["primary"], str)
    assert client.get("/articles/nope/topics").status_code == 404


def test_title_search(client: TestClient) -> None:
    body = client.get("/articles", params={"q": "CUP report"}).json()
    assert [item["id"] for item in body["articles"]] == ["cup-3", "cup-2", "cup-1"]
    newest = client.get("/articles", params={"limit": 2}).json()["articles"]
    assert [item["id"] for item in newest] == ["story/related", "café/naïve ünïcode"]
    assert client.get("/articles", params={"q": "zzz-nothing"}).json()["articles"] == []


@pytest.mark.parametrize("limit", [0, 101])
def test_title_search_limit_bounds(client: TestClient, limit: int) -> None:
    assert client.get("/articles", params={"limit": limit}).status_code == 422


# -- text endpoints ------------------------------------------------------------------------


def test_related_to_a_new_text(client: TestClient) -> None:
    reply = client.post(
        "/related",
        json={"title": "Flood rescue", "body": "flood river rain evacuation dam", "k": 2},
    )
    assert reply.status_code == 200
    assert [item["id"][:5] for item in reply.json()["related"]] == ["flood", "flood"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "payload",
    [
        {"title": "x", "k": 0},
        {"title": "x", "k": 101},
        {"title": ""},
        {"title": "   "},
        {"body": "no title"},
        {"title": "x", "unknown": 1},
        {"title": "x", "filters": {"since": "not a date"}},
        {"title": "x", "filters": {"topic": "no-such-topic"}},
        {"title": "x", "published": "yesterday"},
    ],
)
def test_related_to_text_bad_input_is_422(client: TestClient, payload: dict[str, object]) -> None:
    reply = client.post("/related", json=payload)
    assert reply.status_code == 422
    assert "detail" in reply.json()


def test_topics_of_a_text(client: TestClient) -> None:
    reply = client.post("/topics", json={"title": "Cup final", "body": "goal penalty stadium"})
    assert reply.status_code == 200
    body = reply.json()
    assert set(body) == {"topics", "primary"}
    assert all(set(topic) == {"label", "score", "iptc", "confident"} for topic in body["topics"])
    assert body["topics"][0]["label"] == body["primary"]
    assert client.post("/topics", json={"title": "  "}).status_code == 422
    assert client.post("/topics", json={}).status_code == 422


def test_malformed_json_is_422(client: TestClient) -> None:
    reply = client.post(
        "/related", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert reply.status_code == 422


# -- operations ----------------------------------------------------------------------------


def test_health_ready_and_unknown_routes(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["ready"] is True and ready["articles"] == 16
    assert client.get("/no/such/route").json() == {"detail": "Not Found"}
    assert client.patch("/articles/libya-1").status_code == 405


def test_metrics_count_requests_by_route_and_report_the_index(client: TestClient) -> None:
    client.get("/articles/libya-1/related")
    client.get("/articles/nope/related")
    text = client.get("/metrics").text
    assert (
        'newsrec_http_requests_total{method="GET",route="/articles/{article_id:path}/related",'
        'status="200"}' in text
    )
    assert 'route="/articles/{article_id:path}/related",status="404"' in text
    assert "newsrec_http_request_duration_seconds_bucket" in text
    assert "newsrec_index_articles 16.0" in text
    assert "newsrec_index_ready 1.0" in text


def test_request_logs_go_to_stdout(client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    client.get("/articles/libya-1/slots")
    captured = capsys.readouterr()
    assert '"GET /articles/libya-1/slots" 200' in captured.out
    assert "/articles/libya-1/slots" not in captured.err


def test_demo_page_and_openapi(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "Earlier in this story" in page.text and "/static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert (
        "/articles/{article_id}/related" in paths or "/articles/{article_id:path}/related" in paths
    )
    assert "/topics" in paths and "/related" in paths
    assert "/stories" in paths and "/stories/{story_id}" in paths


def test_not_ready_until_the_index_loads(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient as Client

    from service.http.app import create_app
    from tests.service_support import hashing_settings

    app = create_app(hashing_settings(tmp_path / "missing"), ServiceSettings(read_only=True))
    with Client(app) as client:
        assert client.get("/healthz").status_code == 200
        reply = client.get("/readyz")
        assert reply.status_code == 503
        assert "no newsrec index" in reply.json()["detail"]
        related = client.get("/articles/x/related")
        assert related.status_code == 503
        assert related.headers["retry-after"] == "1"


def test_cors_only_for_configured_origins(index_dir: Path) -> None:
    from tests.service_support import hashing_settings

    service = ServiceSettings(read_only=True, cors_origins=["https://news.example"])
    with app_client(hashing_settings(index_dir), service) as client:
        allowed = client.get("/healthz", headers={"Origin": "https://news.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://news.example"
        other = client.get("/healthz", headers={"Origin": "https://elsewhere.example"})
        assert "access-control-allow-origin" not in other.headers
