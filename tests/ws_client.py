"""The common part of the scripted websocket clients the tests drive.

A background task reads the socket and hands each text message, decoded, to
``_on_message``; by default it is recorded in ``received`` and ``expect`` waits
(with a timeout, never a sleep) for the next one of a type, ``expect_where`` for
the next one a predicate accepts. ``AgentSocket`` adds the agent console's hello
and ``seq`` resumption.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, Protocol

import aiohttp


class WsConnector(Protocol):
    """What opens the socket: aiohttp's ``TestClient``, or ``tests.server_process.HttpClient``."""

    def ws_connect(self, path: str, **kwargs: Any) -> Any: ...


class WsClient:
    def __init__(self, client: WsConnector) -> None:
        self.client = client
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.received: list[dict[str, Any]] = []
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None

    async def _open(self, path: str, headers: dict[str, str]) -> aiohttp.ClientWebSocketResponse:
        self.ws = await self.client.ws_connect(path, headers=headers)
        return self.ws

    def _start_reading(self) -> None:
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            if await self._on_message(json.loads(msg.data)):
                return

    async def _on_message(self, data: dict[str, Any]) -> bool:
        """Take one message from the server; True stops reading."""
        self.received.append(data)
        await self._inbox.put(data)
        return False

    async def send(self, type_: str, **fields: Any) -> None:
        assert self.ws is not None
        await self.ws.send_json({"type": type_, **fields})

    async def expect_where(self, predicate: Callable[[dict[str, Any]], bool],
                           timeout: float = 10) -> dict[str, Any]:
        """The next message ``predicate`` accepts (others before it are kept in ``received``)."""
        async with asyncio.timeout(timeout):
            while True:
                message = await self._inbox.get()
                if predicate(message):
                    return message

    async def expect(self, type_: str, timeout: float = 10, **match: Any) -> dict[str, Any]:
        """The next message of ``type_`` with the ``match`` fields; an ``error`` instead fails at once."""

        def wanted(message: dict[str, Any]) -> bool:
            if message["type"] == type_ and all(message.get(k) == v for k, v in match.items()):
                return True
            if message["type"] == "error" and type_ != "error":
                raise AssertionError(f"server refused: {message}")
            return False

        return await self.expect_where(wanted, timeout)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await self._reader
            self._reader = None


class AgentSocket(WsClient):
    """An agent console's socket: the ``hello``, and ``last_seq`` for resuming where it left off."""

    def __init__(self, client: WsConnector, token: str) -> None:
        super().__init__(client)
        self.token = token
        self.hello: dict[str, Any] = {}
        self.last_seq = 0

    async def connect(self, *, resume: bool = False) -> dict[str, Any]:
        path = f"/agent/ws?last_seq={self.last_seq}" if resume else "/agent/ws"
        ws = await self._open(path, {"Authorization": f"Bearer {self.token}"})
        self.hello = await ws.receive_json(timeout=10)
        assert self.hello["type"] == "hello", self.hello
        if not resume:
            self.last_seq = self.hello["seq"]
        self._start_reading()
        return self.hello
