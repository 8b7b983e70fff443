"""Serve the agent console: ``/console`` and its static files from ``agent_ui/console/``.

The console is plain ES modules and CSS with no build step, so serving it is
reading files. Every response carries a strict Content-Security-Policy (no
inline script or style, same-origin connections only): customer text is
rendered as text, and the policy is the second wall should that ever slip.
Only known file types under the console folder are served; anything that
resolves outside it (``..``, absolute paths, symlinks out) is a plain 404, so
a probe learns nothing about the file system.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from contactcenter.api.errors import ApiError

AGENT_UI = Path(__file__).resolve().parents[2] / "agent_ui"
CONSOLE_DIR = AGENT_UI / "console"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# Explicit types: module scripts are refused by browsers unless served as JavaScript,
# and nosniff means a wrong guess breaks the page rather than being corrected.
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
}

routes = web.RouteTableDef()


@routes.get("/")
async def root(request: web.Request) -> web.Response:
    """People type the bare host name; the console is the only page there is."""
    raise web.HTTPFound("/console")


@routes.get("/console/")
async def console_slash(request: web.Request) -> web.Response:
    """One address for the page, so relative links and bookmarks agree."""
    raise web.HTTPMovedPermanently("/console")


@routes.get("/console")
async def console_page(request: web.Request) -> web.FileResponse:
    # no-cache (revalidate, not no-store): a deploy must reach every open console on its next load.
    return web.FileResponse(
        CONSOLE_DIR / "index.html",
        headers={**SECURITY_HEADERS, "Content-Type": CONTENT_TYPES[".html"], "Cache-Control": "no-cache"},
    )


@routes.get("/console/static/{path:.+}")
async def console_static(request: web.Request) -> web.FileResponse:
    path = static_file(request.match_info["path"])
    # Modules import each other by URL with no version in it, so they revalidate too (ETag/Last-Modified).
    return web.FileResponse(
        path, headers={**SECURITY_HEADERS, "Content-Type": CONTENT_TYPES[path.suffix], "Cache-Control": "no-cache"}
    )


def static_file(relative: str) -> Path:
    """The console file ``relative`` names, or a 404 if it is missing, of an unknown type, or outside the folder."""
    root = CONSOLE_DIR.resolve()
    try:
        candidate = (root / relative).resolve()
        inside = candidate.is_relative_to(root) and candidate.is_file()
    except (OSError, ValueError):  # NUL bytes, names too long, loops
        inside = False
    if not inside or candidate.suffix not in CONTENT_TYPES or any(
        part.startswith(".") for part in candidate.relative_to(root).parts
    ):
        raise ApiError(404, "not_found", "no such console file")
    return candidate
