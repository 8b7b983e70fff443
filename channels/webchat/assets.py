"""Serve the embeddable widget: ``/widget.js`` and the stylesheet it adopts into its shadow root.

Both are loaded by other sites' pages, so they are served to any origin
(``Access-Control-Allow-Origin: *``, ``Cross-Origin-Resource-Policy:
cross-origin``): they are public code with no secrets. ``no-cache`` means
revalidate (ETag / Last-Modified), so a deploy reaches every shop's visitors on
their next page view. Only these two files are served: no path comes from the request.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

WIDGET_DIR = Path(__file__).resolve().parents[2] / "agent_ui" / "widget"

_HEADERS = {
    "Cache-Control": "no-cache",
    "Access-Control-Allow-Origin": "*",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "X-Content-Type-Options": "nosniff",
}


def _asset(name: str, content_type: str) -> web.FileResponse:
    return web.FileResponse(WIDGET_DIR / name, headers={**_HEADERS, "Content-Type": content_type})


async def widget_js(request: web.Request) -> web.FileResponse:
    return _asset("widget.js", "text/javascript; charset=utf-8")


async def widget_css(request: web.Request) -> web.FileResponse:
    return _asset("widget.css", "text/css; charset=utf-8")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/widget.js", widget_js)
    app.router.add_get("/widget.css", widget_css)
