"""/docs served offline, the favicon, and every page counted under its route in /metrics."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.settings import ServiceSettings
from tests.service_support import app_client, build_index, hashing_settings


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("service-docs")
    build_index(directory)
    return directory


@pytest.fixture
def client(index_dir: Path) -> Iterator[TestClient]:
    with app_client(hashing_settings(index_dir), ServiceSettings(read_only=True)) as client:
        yield client


def _linked(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


def test_docs_page_links_only_to_this_service(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    links = _linked(page.text)
    assert links, page.text
    assert all(link.startswith("/") and not link.startswith("//") for link in links), links
    assert "cdn" not in page.text.lower()
    for link in links:
        reply = client.get(link)
        assert reply.status_code == 200, link
        assert reply.content
    script = client.get("/docs/assets/swagger-ui-bundle.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert b"SwaggerUIBundle" in script.content


def test_docs_assets_serve_only_the_page_files(client: TestClient) -> None:
    assert client.get("/docs/assets/swagger-ui.css").status_code == 200
    for name in ("LICENSE", "swagger-editor.js", "..%2F..%2Fcore.py", "nope.js"):
        reply = client.get(f"/docs/assets/{name}")
        assert reply.status_code == 404, name
        assert "detail" in reply.json()


def test_redoc_from_a_cdn_is_gone(client: TestClient) -> None:
    assert client.get("/redoc").status_code == 404


def test_favicon_is_an_icon(client: TestClient) -> None:
    reply = client.get("/favicon.ico")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "image/x-icon"
    assert reply.content[:4] == b"\x00\x00\x01\x00"  # the ICO header


def test_pages_and_files_are_counted_under_their_route(client: TestClient) -> None:
    for url in ("/", "/docs", "/favicon.ico", "/openapi.json", "/static/app.js"):
        assert client.get(url).status_code == 200, url
    assert client.get("/no/such/page").status_code == 404
    lines = [
        line
        for line in client.get("/metrics").text.splitlines()
        if line.startswith("newsrec_http_requests_total{")
    ]
    for route in ("/", "/docs", "/favicon.ico", "/openapi.json", "/static"):
        assert f'newsrec_http_requests_total{{method="GET",route="{route}",status="200"}} 1.0' in (
            lines
        ), (route, lines)
    # Only the page that does not exist is unmatched.
    unmatched = [line for line in lines if 'route="unmatched"' in line]
    assert unmatched == [
        'newsrec_http_requests_total{method="GET",route="unmatched",status="404"} 1.0'
    ]
