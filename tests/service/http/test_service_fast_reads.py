"""The stored-list fast path: same answers as ranking live, everything else to the routes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from recommender import RelatedFilters, build_recommender, open_index
from recommender.ranking.list_refresh import owners_to_rank, store_lists_of
from service.http.fast_reads import StoredListReads
from service.http.live_index import LiveIndex
from service.http.related_reads import answer_now, related_request, slots_request
from service.settings import ServiceSettings
from tests.service_support import AWKWARD_IDS, app_client, build_index, corpus, hashing_settings


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("fast-reads") / "index"
    settings = build_index(directory)
    with open_index(settings, writable=True) as index:
        recommender = build_recommender(settings, index)
        store_lists_of(recommender, owners_to_rank(recommender))
    return directory


@pytest.fixture(scope="module")
def stored(index_dir: Path) -> Iterator[TestClient]:
    with app_client(hashing_settings(index_dir)) as client:
        yield client


@pytest.fixture(scope="module")
def live(index_dir: Path) -> Iterator[TestClient]:
    settings = hashing_settings(index_dir, related_list_depth=0)
    # Read-only: the other app holds the index's write lock.
    with app_client(settings, ServiceSettings(read_only=True)) as client:
        yield client


IDS = [article.id for article in corpus()]


@pytest.mark.parametrize("query", ["", "?k=1", "?k=5", "?k=20"])
def test_stored_answers_equal_live_ranking(
    stored: TestClient, live: TestClient, query: str
) -> None:
    for article_id in IDS:
        path = f"/articles/{quote(article_id, safe='')}/related{query}"
        fast, ranked = stored.get(path), live.get(path)
        assert fast.status_code == ranked.status_code == 200
        assert fast.json() == ranked.json(), article_id
        assert fast.headers["content-type"] == "application/json"


def test_stored_slots_equal_live_ranking(stored: TestClient, live: TestClient) -> None:
    for article_id in IDS:
        path = f"/articles/{quote(article_id, safe='')}/slots"
        assert stored.get(path).json() == live.get(path).json(), article_id


def test_awkward_ids_take_the_fast_path_too(stored: TestClient) -> None:
    fast = StoredListReads(stored.app)
    for article_id in AWKWARD_IDS:
        path = f"/articles/{quote(article_id, safe='')}/related"
        reply = stored.get(path)
        assert reply.status_code == 200 and reply.json()["id"] == article_id
        assert fast._answer(_scope(stored, path)) == reply.content


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/articles/no-such-id/related", 404),
        ("/articles/no-such-id/slots", 404),
        ("/articles/libya-1/related?k=0", 422),
        ("/articles/libya-1/related?k=101", 422),
        ("/articles/libya-1/related?k=ten", 422),
        ("/articles/libya-1/related?k=5&topic=nonsense", 422),
        ("/articles/libya-1/related?k=3&since=2025-09-01", 200),
        ("/articles/libya-1/related?explain=true", 200),
    ],
)
def test_other_requests_reach_the_routes(stored: TestClient, path: str, status: int) -> None:
    reply = stored.get(path)
    assert reply.status_code == status, reply.text
    if status != 200:
        assert "detail" in reply.json()
    elif "explain" in path:
        assert all("why" in item for item in reply.json()["related"])
    else:
        assert all(item["published"] >= "2025-09-01" for item in reply.json()["related"])


def test_fast_reads_are_counted_by_route(index_dir: Path) -> None:
    # A fresh app (read-only: the module's app holds the write lock) counts from zero.
    with app_client(hashing_settings(index_dir), ServiceSettings(read_only=True)) as fresh:
        fresh.get("/articles/libya-2/related?k=4")
        fresh.get("/articles/libya-2/slots")
        metrics = fresh.get("/metrics").text
    for route in ("related", "slots"):
        label = f'route="/articles/{{article_id:path}}/{route}",status="200"'
        assert any(label in line and line.endswith(" 1.0") for line in metrics.splitlines())


def _scope(client: TestClient, path: str, query: bytes = b"") -> dict[str, object]:
    return {"type": "http", "method": "GET", "path": path, "query_string": query, "app": client.app}


def test_plain_requests_are_answered_before_the_routes(stored: TestClient) -> None:
    fast = StoredListReads(stored.app)
    for article_id in IDS:
        path = f"/articles/{quote(article_id, safe='')}"
        answer = fast._answer(_scope(stored, f"{path}/related", b"k=7"))
        assert answer == stored.get(f"{path}/related?k=7").content
        assert fast._answer(_scope(stored, f"{path}/slots")) == stored.get(f"{path}/slots").content
    for path, query in [
        ("/articles/libya-1/related", b"k=5&topic=cup"),
        ("/articles/libya-1/related", b"k=0"),
        ("/articles/libya-1/slots", b"explain=true"),
        ("/articles/no-such-id/related", b""),
        ("/articles/libya-1/topics", b""),
    ]:
        assert fast._answer(_scope(stored, path, query)) is None, (path, query)


def _live_index(client: TestClient) -> LiveIndex:
    live_index: LiveIndex = client.app.state.live  # type: ignore[attr-defined]
    return live_index


def test_the_fast_layer_and_the_route_read_through_one_path(stored: TestClient) -> None:
    live_index = _live_index(stored)
    article_id = IDS[1]
    request = related_request(article_id, 4, RelatedFilters())
    at_once = answer_now(live_index, request)  # from the stored list (or the cache)
    assert at_once is not None
    assert stored.get(f"/articles/{quote(article_id, safe='')}/related?k=4").content == at_once
    # The route, given a parameter the fast layer leaves to it, answers the same list.
    routed = stored.get(f"/articles/{quote(article_id, safe='')}/related?k=4&min_score=-1")
    assert routed.json()["related"] == json.loads(at_once)["related"]
    slots = answer_now(live_index, slots_request(article_id))
    assert slots == stored.get(f"/articles/{quote(article_id, safe='')}/slots").content


def test_an_explained_list_is_never_answered_from_the_stored_lists(stored: TestClient) -> None:
    live_index = _live_index(stored)
    article_id = IDS[2]
    request = related_request(article_id, 3, RelatedFilters(), explain=True)
    assert request.stored is None
    assert answer_now(live_index, request) is None  # only the live ranking explains
    answered = stored.get(f"/articles/{quote(article_id, safe='')}/related?k=3&explain=true")
    assert all("why" in item for item in answered.json()["related"])
    # Once ranked, the same request is answered from the response cache at once.
    assert answer_now(live_index, request) == answered.content


def test_without_stored_lists_only_the_cache_answers_at_once(live: TestClient) -> None:
    live_index = _live_index(live)
    article_id = IDS[3]
    request = related_request(article_id, 7, RelatedFilters())  # a k no other test asks
    assert answer_now(live_index, request) is None  # related_list_depth=0: nothing stored read
    answered = live.get(f"/articles/{quote(article_id, safe='')}/related?k=7")
    assert answered.status_code == 200
    assert answer_now(live_index, request) == answered.content
