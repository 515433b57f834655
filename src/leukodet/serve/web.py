"""The hematologist's web page: ``/`` and its script and style sheet under ``/static/``, from this package.

The page (``static/index.html``, ``app.js``, ``patch.js``, ``app.css``) uses nothing from the network: no CDN,
no web fonts, plain JavaScript calling the service's own ``/v1`` API. It is served with a Content-Security-Policy
that lets it load scripts, styles, images and data from this service only. Only the files listed in
:data:`STATIC` are served; any other name is 404.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, HTTPException, Response

__all__ = ["PAGE_POLICY", "STATIC", "router"]

STATIC: dict[str, str] = {
    "app.js": "text/javascript; charset=utf-8",
    "patch.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
"""The files under ``/static/`` and their types."""

PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""Content-Security-Policy of the page: everything from this service, nothing from anywhere else."""

_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}

router = APIRouter(include_in_schema=False)


def _read(name: str) -> bytes:
    return resources.files("leukodet.serve").joinpath("static", name).read_bytes()


@router.get("/")
def page() -> Response:
    """The web page."""
    headers = {**_HEADERS, "Content-Security-Policy": PAGE_POLICY}
    return Response(_read("index.html"), media_type="text/html; charset=utf-8", headers=headers)


@router.get("/static/{name}")
def static(name: str) -> Response:
    """One of the page's files (:data:`STATIC`)."""
    if name not in STATIC:
        raise HTTPException(404, "Not Found")
    return Response(_read(name), media_type=STATIC[name], headers=_HEADERS)
