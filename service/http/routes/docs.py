"""`/docs` (Swagger UI) and `/favicon.ico`, served by this service alone.

FastAPI's own `/docs` loads Swagger UI's script and styles from a CDN: without internet the
page is blank. Here they come from the `swagger-ui-py` package, which ships Swagger UI's
built files (version 5, which reads the OpenAPI 3.1 that FastAPI writes); the favicon is
ours. Nothing on the page comes from another host.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from service.http.routes.demo import STATIC_DIR

DOCS_ASSETS = "/docs/assets"
# Only what the page loads; the package ships other bundles (the editor, ES modules).
_ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
}

router = APIRouter(include_in_schema=False)


def swagger_ui_dir() -> Path:
    """The folder of Swagger UI's files in the installed `swagger-ui-py` package.

    Found without importing the package: its `__init__` loads its web-framework adapters,
    which the service does not use.
    """
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed (pip install -e '.[service]')")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


@router.get("/docs")
async def docs(request: Request) -> HTMLResponse:
    # Behind a proxy that mounts the service under a prefix, links carry the prefix.
    root = request.scope.get("root_path", "").rstrip("/")
    return get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} API",
        swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{root}/favicon.ico",
        oauth2_redirect_url=None,
    )


@router.get(DOCS_ASSETS + "/{name}")
async def docs_asset(name: str) -> FileResponse:
    media_type = _ASSET_TYPES.get(name)
    if media_type is None:
        raise HTTPException(404, f"no docs asset {name!r}")
    return FileResponse(swagger_ui_dir() / name, media_type=media_type)


@router.get("/favicon.ico")
async def favicon() -> FileResponse:
    return FileResponse(STATIC_DIR / "favicon.ico", media_type="image/x-icon")
