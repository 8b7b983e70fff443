"""Shutdown closes every websocket at once and does not wait on clients that never answer."""

from __future__ import annotations

import asyncio
import time

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from contactcenter.websocket_shutdown import close_websockets


async def test_clients_that_never_answer_the_close_do_not_hold_shutdown() -> None:
    sockets: list[web.WebSocketResponse] = []
    joined = asyncio.Event()

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sockets.append(ws)
        if len(sockets) == 4:
            joined.set()
        async for _ in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    async with TestServer(app, host="127.0.0.1", port=0) as server, aiohttp.ClientSession() as session:
        stalled = [await session.ws_connect(server.make_url("/ws")) for _ in range(3)]  # never read again
        polite = await session.ws_connect(server.make_url("/ws"))
        reader = asyncio.create_task(polite.receive())
        await asyncio.wait_for(joined.wait(), 10)

        started = time.monotonic()
        await close_websockets(sockets, timeout=0.5)
        # one after another, each stalled close would wait aiohttp's 10 s for the answer
        assert time.monotonic() - started < 5
        message = await asyncio.wait_for(reader, 5)
        assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, 1001)
        for ws in stalled:
            await ws.close()
        await polite.close()
