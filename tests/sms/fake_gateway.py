"""A stand-in SMS provider: a real aiohttp server on 127.0.0.1:0 that records every request.

It answers Twilio's ``Messages.json`` and a generic gateway's ``/send``. By
default every message is accepted (Twilio 201 with a fresh ``SM…`` sid);
``script`` queues other answers, first in first out, to stage outages and
refusals. Tests wait on ``next()`` (a queue with a timeout), never on sleeps.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web


@dataclass(frozen=True)
class Captured:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what we answered

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeGateway:
    script: list[tuple[int, Any]] = field(default_factory=list)
    captured: list[Captured] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)  # provider ids handed out
    _queue: asyncio.Queue[Captured] = field(default_factory=asyncio.Queue)
    _runner: web.AppRunner | None = None
    base_url: str = ""

    async def start(self, port: int = 0) -> None:
        """Listen on 127.0.0.1, on an ephemeral port unless ``port`` asks for one (to come back on it)."""
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._twilio)
        app.router.add_post("/send", self._webhook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def next(self, timeout: float = 10) -> Captured:
        """The next request the gateway received."""
        async with asyncio.timeout(timeout):
            return await self._queue.get()

    def _answer(self, default: tuple[int, Any]) -> tuple[int, Any]:
        return self.script.pop(0) if self.script else default

    async def _capture(self, request: web.Request, status: int) -> None:
        captured = Captured(request.path, dict(request.headers), await request.read(), status)
        self.captured.append(captured)
        self._queue.put_nowait(captured)

    async def _twilio(self, request: web.Request) -> web.Response:
        sid = f"SM{len(self.captured):032x}"
        status, body = self._answer((201, {"sid": sid, "status": "queued"}))
        await self._capture(request, status)
        if status == 201:
            self.accepted.append(body["sid"])
        return web.json_response(body, status=status)

    async def _webhook(self, request: web.Request) -> web.Response:
        status, body = self._answer((200, {"id": f"gw-{len(self.captured)}"}))
        await self._capture(request, status)
        if 200 <= status < 300:
            self.accepted.append(body["id"])
        return web.json_response(body, status=status)
