"""A scripted chat widget over the real ``/chat/ws``, for tests.

It records every message; ``expect`` waits (with a timeout, never a sleep) for
the next message of a type, keeping the others in ``received``.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from aiohttp.test_utils import TestClient

from tests.ws_client import WsClient

SHOP_ORIGIN = "http://shop.test"


class ChatCustomer(WsClient):
    def __init__(self, client: TestClient, widget: str = "shop", origin: str = SHOP_ORIGIN) -> None:
        super().__init__(client)
        self.widget = widget
        self.origin = origin
        self.token: str | None = None
        self.last_id = 0
        self.welcome: dict[str, Any] = {}

    async def open(self) -> None:
        await self._open(f"/chat/ws?widget={self.widget}", {"Origin": self.origin})
        self._inbox = asyncio.Queue()
        self._start_reading()

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

    async def expect(self, type_: str, timeout: float = 10, **match: Any) -> dict[str, Any]:
        message = await super().expect(type_, timeout, **match)
        if message["type"] == "message":
            self.last_id = max(self.last_id, message["id"])
        return message

    async def say(self, text: str, client_msg_id: str | None = None) -> dict[str, Any]:
        msg_id = client_msg_id or uuid.uuid4().hex
        await self.send("message", client_msg_id=msg_id, text=text)
        ack = await self.expect("ack", client_msg_id=msg_id)
        self.last_id = max(self.last_id, ack["id"])
        return ack
