"""k has one bound per layer: the core ranks at most MAX_RANKED_K items per call, the HTTP API
accepts at most API_MAX_K (or the service's lower NEWSREC_MAX_K), checked by one function
that both the fast stored-list reads and the routes call."""

from __future__ import annotations

from pathlib import Path

import pytest

from recommender.ranking.recommender import MAX_RANKED_K
from service.http.schemas import API_MAX_K
from service.settings import ServiceSettings
from tests.service_support import app_client, build_index, hashing_settings


def test_the_api_ceiling_is_within_what_the_core_ranks() -> None:
    assert 1 <= API_MAX_K <= MAX_RANKED_K


@pytest.mark.parametrize(("k", "allowed"), [(0, False), (1, True), (7, True), (8, False)])
def test_allows_k_is_the_services_bound(k: int, allowed: bool) -> None:
    assert ServiceSettings(max_k=7).allows_k(k) is allowed


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built once: the tests only read it.
    directory = tmp_path_factory.mktemp("k") / "index"
    build_index(directory)
    return directory


@pytest.mark.parametrize("query", ["k=0", "k=8", "k=99999", ""])
def test_a_k_the_service_refuses_is_a_422_on_the_fast_path_too(index_dir: Path, query: str) -> None:
    # A plain `?k=N` (or none: k=10) is what the stored-list reads answer before routing; a k
    # they must not answer falls through to the route, which names the limit.
    with app_client(hashing_settings(index_dir), ServiceSettings(max_k=7)) as client:
        reply = client.get(f"/articles/libya-1/related?{query}")
    assert reply.status_code == 422, reply.text


def test_a_k_within_the_limit_is_answered(index_dir: Path) -> None:
    with app_client(hashing_settings(index_dir), ServiceSettings(max_k=7)) as client:
        reply = client.get("/articles/libya-1/related?k=7")
    assert reply.status_code == 200
    assert len(reply.json()["related"]) == 7
