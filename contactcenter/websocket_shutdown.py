"""Close every websocket of a hub at shutdown, all at once and within a bound.

Closing one socket waits for the peer's close frame (aiohttp waits up to 10 s).
One socket after another, a few stalled clients, or just thousands of healthy
ones, would hold shutdown for minutes, past any orchestrator's grace period,
and the server would then be killed instead of stopping cleanly. So the close
frames go out together, and whoever has not answered within ``timeout`` is
not waited for (the runner's cleanup drops those connections).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from aiohttp import web

SHUTDOWN_CLOSE_TIMEOUT_S = 5.0


async def close_websockets(sockets: Iterable[web.WebSocketResponse], *,
                           timeout: float = SHUTDOWN_CLOSE_TIMEOUT_S) -> None:
    """Send every open socket a 1001 close and wait at most ``timeout`` seconds for them all."""
    closing = [asyncio.create_task(ws.close(code=1001, message=b"server shutting down"))
               for ws in sockets if not ws.closed]
    if not closing:
        return
    _, late = await asyncio.wait(closing, timeout=timeout)
    for task in late:
        task.cancel()
    for task in closing:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
