"""``contactcenter serve``: run until SIGINT/SIGTERM, then shut down in order.

Shutdown: stop accepting connections, let in-flight requests finish (bounded),
close websockets and background tasks (cleanup_ctx), close the pool, stop the
embedded PostgreSQL.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import socket

from aiohttp import web

from contactcenter.api.app import build_app
from contactcenter.config import Settings
from contactcenter.runtime import ensure_admin, open_database

log = logging.getLogger(__name__)


class ListenError(RuntimeError):
    """The server cannot listen on ``server.host``:``server.port`` (in use, not permitted, unknown host)."""


def _listen_error(host: str, port: int, exc: OSError) -> ListenError:
    """One line naming the address: the OSError's own text is a bind() traceback to IT."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if isinstance(exc, socket.gaierror):
        return ListenError(f"cannot listen on {where}: unknown host {host!r} (server.host or --host)")
    if exc.errno == errno.EADDRINUSE:
        return ListenError(f"cannot listen on {where}: the address is already in use "
                           "(another server on that port? change server.port or --port)")
    reason = exc.strerror or str(exc)
    return ListenError(f"cannot listen on {where}: {reason}")


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
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise _listen_error(settings.server.host, settings.server.port, exc) from None
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
