"""A scripted agent console over the real websocket, for tests.

It records every message, tracks the last ``seq`` and checks that numbered
events arrive without gaps or repeats; ``expect`` waits (with a timeout, never
a sleep) for the next message of a type.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient


class AgentConsole:
    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.token = token
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.hello: dict[str, Any] = {}
        self.last_seq = 0
        self.received: list[dict[str, Any]] = []
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None

    async def connect(self, *, resume: bool = False) -> dict[str, Any]:
        path = f"/agent/ws?last_seq={self.last_seq}" if resume else "/agent/ws"
        self.ws = await self.client.ws_connect(path, headers={"Authorization": f"Bearer {self.token}"})
        self.hello = await self.ws.receive_json(timeout=10)
        assert self.hello["type"] == "hello", self.hello
        if not resume:
            self.last_seq = self.hello["seq"]
        self._reader = asyncio.create_task(self._read())
        return self.hello

    async def _read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if data.get("seq") is not None:
                assert data["seq"] == self.last_seq + 1, f"gap or repeat: {self.last_seq} then {data}"
                self.last_seq = data["seq"]
            self.received.append(data)
            await self._inbox.put(data)

    async def disconnect(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await self._reader
        self._inbox = asyncio.Queue()

    async def send(self, type_: str, **fields: Any) -> None:
        assert self.ws is not None
        await self.ws.send_json({"type": type_, **fields})

    async def expect(self, type_: str, timeout: float = 10, **match: Any) -> dict[str, Any]:
        """The next message of ``type_`` (others before it are kept in ``received``)."""
        async with asyncio.timeout(timeout):
            while True:
                message = await self._inbox.get()
                if message["type"] == type_ and all(message.get(k) == v for k, v in match.items()):
                    return message
                if message["type"] == "error" and type_ != "error":
                    raise AssertionError(f"server refused: {message}")

    async def offer(self, timeout: float = 10) -> str:
        """Wait for an offer; return its interaction id."""
        return (await self.expect("offer", timeout))["interaction"]["id"]

    async def available(self) -> None:
        await self.send("state", state="available")
        await self.expect("state", state="available")

    async def accept(self, interaction_id: str) -> dict[str, Any]:
        await self.send("accept", interaction_id=interaction_id)
        return await self.expect("assigned")

    async def reply(self, interaction_id: str, text: str) -> dict[str, Any]:
        msg_id = uuid.uuid4().hex
        await self.send("reply", interaction_id=interaction_id, text=text, client_msg_id=msg_id)
        return await self.expect("ack", client_msg_id=msg_id)
