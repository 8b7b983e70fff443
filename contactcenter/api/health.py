"""Liveness and readiness for load balancers and orchestrators.

``/healthz`` says the process answers; ``/readyz`` says it can do its job: the
database answers within two seconds and every migration is applied.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from contactcenter.api.keys import DB
from contactcenter.db import StoreError
from contactcenter.db.migrations import is_current

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    try:
        async with asyncio.timeout(2):
            async with request.app[DB].connection() as tx:
                current = await is_current(tx.conn)
    except (StoreError, TimeoutError) as exc:
        return web.json_response({"status": "unavailable", "database": str(exc) or "timeout"}, status=503)
    if not current:
        return web.json_response({"status": "unavailable", "database": "migrations pending"}, status=503)
    return web.json_response({"status": "ready"})
