"""A scripted chat widget over the real ``/chat/ws``, for tests.

It records every message; ``expect`` waits (with a timeout, never a sleep) for
the next message of a type, keeping the others in ``received``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

SHOP_ORIGIN = "http://shop.test"


class ChatCustomer:
    def __init__(self, client: TestClient, widget: str = "shop", origin: str = SHOP_ORIGIN) -> None:
        self.client = client
        self.widget = widget
        self.origin = origin
        self.token: str | None = None
        self.last_id = 0
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.welcome: dict[str, Any] = {}
        self.received: list[dict[str, Any]] = []
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self.ws = await self.client.ws_connect(f"/chat/ws?widget={self.widget}", headers={"Origin": self.origin})
        self._inbox = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    async def connect(self, *, resume: bool = False, **hello: Any) -> dict[str, Any]:
        """Open the socket and say hello (with the token, and ``last_id`` when resuming)."""
        await self.open()
        fields: dict[str, Any] = {"widget": self.widget, **hello}
        if self.token is not None:
            fields["visitor_token"] = self.token
        if resume:
            fields["last_id"] = self.last_id
        await self.send("hello", **fields)
        self.welcome = await self.expect("welcome")
        self.token = self.welcome["visitor_token"]
        return self.welcome

    async def _read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            self.received.append(data)
            await self._inbox.put(data)

    async def send(self, type_: str, **fields: Any) -> None:
        assert self.ws is not None
        await self.ws.send_json({"type": type_, **fields})

    async def expect(self, type_: str, timeout: float = 10, **match: Any) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                message = await self._inbox.get()
                if message["type"] == type_ and all(message.get(k) == v for k, v in match.items()):
                    if message["type"] == "message":
                        self.last_id = max(self.last_id, message["id"])
                    return message
                if message["type"] == "error" and type_ != "error":
                    raise AssertionError(f"server refused: {message}")

    async def say(self, text: str, client_msg_id: str | None = None) -> dict[str, Any]:
        msg_id = client_msg_id or uuid.uuid4().hex
        await self.send("message", client_msg_id=msg_id, text=text)
        ack = await self.expect("ack", client_msg_id=msg_id)
        self.last_id = max(self.last_id, ack["id"])
        return ack

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await self._reader
            self._reader = None
