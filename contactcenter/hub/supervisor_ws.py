"""``/supervisor/ws``: live queue, agent and alert numbers for supervisors.

On connect the server sends ``snapshot`` (the state and the last hour of chart
samples); then ``update`` at most once a second while anything changes (and
every few seconds anyway, so rolling numbers move), and every ``alert`` as it
is raised or cleared. The socket only listens for ``ping``: actions go through
the HTTP API (docs/metrics.md).

Sends are bounded per connection: only the latest update is kept (a newer one
replaces an unsent one) and at most ``ALERT_BACKLOG`` alerts; a connection that
does not take a message within ``SEND_TIMEOUT_S`` is closed and reconnects to a
fresh snapshot. Nobody else waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque

from aiohttp import WSMsgType, web

from contactcenter.api.auth import check_same_origin, require_role
from contactcenter.metrics.live import LiveMetrics
from contactcenter.model import Role
from contactcenter.websocket_shutdown import close_websockets

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 10.0
ALERT_BACKLOG = 64
MAX_MESSAGE_BYTES = 4096


class _Connection:
    __slots__ = ("latest", "queued", "wake", "ws")

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.queued: deque[str] = deque(maxlen=ALERT_BACKLOG)  # alerts and pongs, in order
        self.latest: str | None = None
        self.wake = asyncio.Event()


class SupervisorHub:
    def __init__(self, live: LiveMetrics) -> None:
        self.live = live
        self.connections: set[_Connection] = set()
        live.subscribers.append(self.publish)
        live.audience = lambda: bool(self.connections)

    def publish(self, kind: str, text: str) -> None:
        """Called by the metrics loop: hand a message to every connection without waiting."""
        for connection in self.connections:
            if kind == "update":
                connection.latest = text
            else:
                connection.queued.append(text)
            connection.wake.set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await require_role(request, Role.SUPERVISOR)
        check_same_origin(request)
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_MESSAGE_BYTES)
        await ws.prepare(request)
        connection = _Connection(ws)
        sender: asyncio.Task[None] | None = None
        self.connections.add(connection)  # before the snapshot: an update made meanwhile follows it
        try:
            await _send(ws, json.dumps(self.live.snapshot(), ensure_ascii=False))
            sender = asyncio.create_task(self._send_loop(connection))
            async for message in ws:
                if message.type == WSMsgType.TEXT and _is_ping(message.data):
                    connection.queued.append('{"type": "pong"}')
                    connection.wake.set()
        except (ConnectionError, TimeoutError) as exc:
            log.info("supervisor connection ends: %s", exc)
        finally:
            self.connections.discard(connection)
            if sender is not None:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sender
            await ws.close()
        return ws

    async def _send_loop(self, connection: _Connection) -> None:
        ws = connection.ws
        try:
            while True:
                await connection.wake.wait()
                connection.wake.clear()
                while connection.queued:
                    await _send(ws, connection.queued.popleft())
                if connection.latest is not None:
                    text, connection.latest = connection.latest, None
                    await _send(ws, text)
        except TimeoutError:
            log.warning("supervisor console not reading for %ss; closing it", SEND_TIMEOUT_S)
            await ws.close(code=1008, message=b"too slow")
        except (ConnectionError, RuntimeError) as exc:
            log.info("supervisor stream ended: %s", exc)

    async def close_all(self) -> None:
        await close_websockets(connection.ws for connection in list(self.connections))


async def _send(ws: web.WebSocketResponse, text: str) -> None:
    async with asyncio.timeout(SEND_TIMEOUT_S):
        await ws.send_str(text)


def _is_ping(data: str) -> bool:
    try:
        return json.loads(data).get("type") == "ping"
    except (ValueError, AttributeError):
        return False


SUPERVISOR_HUB: web.AppKey[SupervisorHub] = web.AppKey("supervisor_hub", SupervisorHub)
