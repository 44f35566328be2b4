"""Routes for the console's page, its static files, its map, and the local API docs.

Every HTML answer carries a Content-Security-Policy that allows scripts, styles, images and
connections from this origin only, with no inline script: a script injected into a page through
some field could neither run nor send anything elsewhere. Static files are listed up front (an
allow-list read at start-up), so a path can never reach outside the folder.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Annotated

import fastapi_offline
from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from app.api.deps import Context
from app.errors import NotFound

STATIC = Path(__file__).resolve().parent / "static"
_SWAGGER = Path(fastapi_offline.__file__).resolve().parent / "static"
_CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; media-src 'self'; font-src 'self'; manifest-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI sets style attributes at run time; scripts stay same-origin files only.
_DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_PAGE_HEADERS = {"X-Frame-Options": "DENY", "Cross-Origin-Opener-Policy": "same-origin"}
_DOCS_FILES = {
    "swagger-ui-bundle.js": _SWAGGER / "swagger-ui-bundle.js",
    "swagger-ui.css": _SWAGGER / "swagger-ui.css",
    "favicon.png": _SWAGGER / "favicon.png",
    "docs-init.js": STATIC / "docs" / "docs-init.js",
}


def _static_files() -> dict[str, Path]:
    return {
        p.relative_to(STATIC).as_posix(): p
        for p in STATIC.rglob("*")
        if p.is_file() and p.name != "index.html" and p.relative_to(STATIC).parts[0] != "docs"
    }


_CONSOLE_FILES = _static_files()
router = APIRouter(include_in_schema=False)


def _page(path: Path, csp: str) -> FileResponse:
    return FileResponse(
        path,
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": csp, **_PAGE_HEADERS},
    )


def _asset(path: Path) -> FileResponse:
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix == ".js":
        media_type = "text/javascript; charset=utf-8"
    elif path.suffix == ".json":
        media_type = "application/json"
    return FileResponse(path, media_type=media_type)


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=307)


@router.get("/console")
async def console_no_slash() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=307)


@router.get("/console/")
async def console_page() -> FileResponse:
    return _page(STATIC / "index.html", _CONSOLE_CSP)


@router.get("/console/map.json")
async def console_map(context: Context) -> Response:
    """The default region's outlines and stations: public reference data, no sign-in needed."""
    from app.console.mapdata import region_map

    settings = context.settings
    data = region_map(settings.geo.default_region, tuple(settings.geo.extra_region_dirs))
    if data is None:
        raise NotFound("The region has no reference bundle.")
    return JSONResponse(data, headers={"Cache-Control": "private, max-age=3600"})


@router.get("/console/{name:path}")
async def console_asset(name: Annotated[str, PathParam(max_length=200)]) -> FileResponse:
    path = _CONSOLE_FILES.get(name)
    if path is None:
        raise NotFound("No such console file.")
    return _asset(path)


@router.get("/docs")
async def docs_page() -> FileResponse:
    return _page(STATIC / "docs" / "index.html", _DOCS_CSP)


@router.get("/docs/assets/{name}")
async def docs_asset(name: str) -> FileResponse:
    path = _DOCS_FILES.get(name)
    if path is None:
        raise NotFound("No such docs file.")
    return _asset(path)
