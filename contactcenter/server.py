"""``contactcenter serve``: run until SIGINT/SIGTERM, then shut down in order.

Shutdown: stop accepting connections, let in-flight requests finish (bounded),
close websockets and background tasks (cleanup_ctx), close the pool, stop the
embedded PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from contactcenter.api.app import build_app
from contactcenter.config import Settings
from contactcenter.runtime import ensure_admin, open_database

log = logging.getLogger(__name__)


async def serve(settings: Settings, *, ready: asyncio.Event | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with open_database(settings) as db:
        await ensure_admin(db)
        app = build_app(settings, db)
        runner = web.AppRunner(app, shutdown_timeout=10, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, settings.server.host, settings.server.port)
        await site.start()
        for address in runner.addresses:
            log.info("contactcenter listening on http://%s:%s (event loop: %s)", *address[:2],
                     type(loop).__module__.split(".")[0])
        if ready is not None:
            ready.set()
        try:
            await stop.wait()
            log.info("shutting down")
        finally:
            await runner.cleanup()
    log.info("stopped")
