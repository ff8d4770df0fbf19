"""Schemathesis against the service's own OpenAPI schema: no 5xx, no schema violations.

A bounded run (a few examples per operation and mode); the long one is
`python -m tests.harness.fuzz_service --examples 500`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.harness.fuzz_service import fuzz_service
from tests.service_support import app_client, build_index

pytestmark = pytest.mark.fuzz


@pytest.mark.slow
def test_generated_requests_get_documented_answers_and_no_server_error() -> None:
    report = fuzz_service(examples=12, random_seed=1)
    assert report.failures == {}, "\n\n".join(report.failures.values())
    assert report.cases > 150
    assert not [status for status in report.by_status if status >= 500]
    assert report.by_status[200] and report.by_status[422]  # both valid and invalid requests


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    with app_client(build_index(tmp_path / "index")) as client:
        yield client  # type: ignore[misc]


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/articles/x", "/related", "/topics"])
def test_a_body_that_is_not_utf8_is_a_422_like_any_malformed_json(
    client: TestClient, path: str
) -> None:
    method = client.put if path == "/articles/x" else client.post
    reply = method(
        path, content=b'{"title": "\xff\xfe"}', headers={"content-type": "application/json"}
    )
    assert reply.status_code == 422
    assert reply.json() == {"detail": "the request body is not valid JSON: it is not UTF-8 text"}


def test_edge_errors_are_in_the_schema(client: TestClient) -> None:
    """413 (body limit) and 503 (not loaded) come from the edge, not a route: documented."""
    paths = client.get("/openapi.json").json()["paths"]
    assert {"413", "503"} <= set(paths["/topics"]["post"]["responses"])
    assert {"413", "503"} <= set(paths["/articles/{article_id}"]["put"]["responses"])
    assert "413" not in paths["/articles/{article_id}/related"]["get"]["responses"]
    assert set(paths["/healthz"]["get"]["responses"]) == {"200"}


def test_a_schema_valid_text_can_still_be_over_the_body_limit(client: TestClient) -> None:
    # 200,000 astral characters are valid by the schema but 2.4 MB each as JSON escapes.
    title = "\U0001f600" * 200_000
    body = json.dumps({"title": title, "body": title})  # ASCII escapes, as schemathesis sends
    reply = client.post("/topics", content=body, headers={"content-type": "application/json"})
    assert reply.status_code == 413
    assert "413" in client.get("/openapi.json").json()["paths"]["/topics"]["post"]["responses"]
