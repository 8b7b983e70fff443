"""Load clients for fault tests: each records exactly what the server acknowledged.

A message counts as delivered only when its source got the acknowledgement
(chat ``ack``, webhook 200, API 201/200); the one in flight when the server
died is kept as ``pending`` so the test can resend it as the real source
would (a widget resends unacknowledged messages, a gateway retries). Every
loop is bounded by a message count and every wait by a timeout.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from typing import Any

import aiohttp

from tests.faults.conftest import SHOP_ORIGIN, post_sms
from tests.server_process import HttpClient
from tests.ws_client import AgentSocket

GONE = (aiohttp.ClientError, ConnectionError, RuntimeError, TimeoutError)


class Progress:
    """Counts acknowledgements; ``reached`` is set once ``target`` of them arrived."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.count = 0
        self.reached = asyncio.Event()

    def tick(self) -> None:
        self.count += 1
        if self.count >= self.target:
            self.reached.set()


class ConsoleClient(AgentSocket):
    """An agent console that accepts every offer and checks that numbered events have no gap."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str, *, accept: bool = True) -> None:
        super().__init__(HttpClient(base_url, session), token)
        self.accept = accept
        self.offers: list[str] = []
        self.assigned: set[str] = set()
        self.statuses: list[str] = []
        self.problems: list[str] = []
        self.queues: dict[str, asyncio.Queue[dict[str, Any]]] = defaultdict(asyncio.Queue)

    @property
    def base_url(self) -> str:
        return self.client.base_url  # type: ignore[attr-defined,no-any-return]

    @base_url.setter
    def base_url(self, url: str) -> None:  # the server came back on another port
        self.client.base_url = url  # type: ignore[attr-defined]

    async def available(self) -> None:
        await self.send("state", state="available")
        await self.next("state", lambda m: m["state"] == "available")

    async def next(self, type_: str, match: Any = None, timeout: float = 10) -> dict[str, Any]:
        """The next message of ``type_`` (matching ``match``, a predicate) not taken before."""
        async with asyncio.timeout(timeout):
            while True:
                message = await self.queues[type_].get()
                if match is None or match(message):
                    return message

    async def _on_message(self, data: dict[str, Any]) -> bool:
        if data.get("seq") is not None:
            if data["seq"] != self.last_seq + 1:
                self.problems.append(f"seq {self.last_seq} then {data['seq']} ({data['type']})")
            self.last_seq = max(self.last_seq, data["seq"])
        kind = data["type"]
        if kind == "offer":
            interaction_id = data["interaction"]["id"]
            self.offers.append(interaction_id)
            if self.accept:
                try:
                    await self.send("accept", interaction_id=interaction_id)
                except GONE:
                    return True
        elif kind == "assigned":
            self.assigned.add(data["interaction"]["id"])
        elif kind == "status":
            self.statuses.append(data["database"])
        self.queues[kind].put_nowait(data)
        return False


class ChatVisitor:
    """A widget that says ``count`` things, one after the other, each waiting for its ``ack``."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, name: str) -> None:
        self.session = session
        self.base_url = base_url
        self.name = name
        self.token: str | None = None
        self.acked: dict[str, int] = {}  # text -> touchpoint id
        self.pending: tuple[str, str] | None = None  # (client_msg_id, text) sent, not acknowledged

    async def open(self) -> aiohttp.ClientWebSocketResponse:
        """Connect and say hello (with the visitor token once there is one)."""
        ws = await self.session.ws_connect(f"{self.base_url}/chat/ws?widget=shop", headers={"Origin": SHOP_ORIGIN})
        hello: dict[str, Any] = {"type": "hello", "widget": "shop"}
        if self.token is not None:
            hello["visitor_token"] = self.token
        await ws.send_json(hello)
        welcome = await _next(ws, lambda m: m["type"] == "welcome")
        self.token = welcome["visitor_token"]
        return ws

    async def say(self, ws: aiohttp.ClientWebSocketResponse, client_msg_id: str, text: str) -> int:
        """Send one message and wait for its ``ack``; returns the stored touchpoint id."""
        self.pending = (client_msg_id, text)
        await ws.send_json({"type": "message", "client_msg_id": client_msg_id, "text": text})
        ack = await _next(ws, lambda m: m["type"] == "ack" and m["client_msg_id"] == client_msg_id)
        self.acked[text] = ack["id"]
        self.pending = None
        return int(ack["id"])

    async def run(self, count: int, progress: Progress) -> None:
        """Talk until ``count`` messages are acknowledged or the server goes away."""
        try:
            ws = await self.open()
            try:
                for n in range(count):
                    await self.say(ws, f"{self.name}-{n}", f"chat {self.name} #{n}")
                    progress.tick()
            finally:
                await ws.close()
        except GONE:
            return

    async def resend_pending(self) -> None:
        """What the widget does after reconnecting: resend the unacknowledged message, same id."""
        if self.pending is None:
            return
        ws = await self.open()
        try:
            await self.say(ws, *self.pending)
        finally:
            await ws.close()


async def _next(ws: aiohttp.ClientWebSocketResponse, match: Any, timeout: float = 10) -> dict[str, Any]:
    """The next text message matching ``match``; ``ConnectionError`` when the socket ends first."""
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise ConnectionError(f"chat socket ended: {msg.type}")
            data = json.loads(msg.data)
            if data["type"] == "error":
                raise AssertionError(f"chat refused: {data}")
            if match(data):
                return data


class SmsCustomer:
    """A phone texting ``count`` times through the gateway; a text counts once the webhook got 200."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, phone: str) -> None:
        self.session = session
        self.base_url = base_url
        self.phone = phone
        self.acked: list[str] = []  # texts
        self.pending: tuple[str, str] | None = None  # (provider id, text)

    async def run(self, count: int, progress: Progress) -> None:
        for n in range(count):
            self.pending = (f"{self.phone}-{n}", f"sms {self.phone} #{n}")
            try:
                status = await post_sms(self.session, self.base_url, self.phone, self.pending[1], self.pending[0])
            except GONE:
                return
            if status != 200:
                return  # the gateway would retry this one later
            self.acked.append(self.pending[1])
            self.pending = None
            progress.tick()

    async def resend_pending(self) -> None:
        """The gateway's retry of a text whose webhook was never answered 200."""
        if self.pending is not None:
            status = await post_sms(self.session, self.base_url, self.phone, self.pending[1], self.pending[0])
            assert status == 200, status
            self.acked.append(self.pending[1])
            self.pending = None


class ApiCaller:
    """An integration raising cases through ``POST /api/interactions``, each with a dedupe key."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self.session = session
        self.base_url = base_url
        self.token = token
        self.acked: dict[str, str] = {}  # text -> interaction id
        self.pending: tuple[str, str] | None = None  # (dedupe key, text)

    async def _post(self, key: str, text: str) -> tuple[int, dict[str, Any]]:
        body = {"channel": "email", "identity": f"email:{key}@shop.cn", "queue": "sales", "subject": key,
                "body": text, "dedupe_key": key}
        async with self.session.post(f"{self.base_url}/api/interactions", json=body,
                                     headers={"Authorization": f"Bearer {self.token}"}) as response:
            return response.status, await response.json()

    async def run(self, count: int, progress: Progress) -> None:
        for n in range(count):
            self.pending = (f"case{n}", f"api case #{n}")
            try:
                status, body = await self._post(*self.pending)
            except GONE:
                return
            if status != 201:
                return
            self.acked[self.pending[1]] = body["interaction_id"]
            self.pending = None
            progress.tick()

    async def resend_pending(self) -> None:
        if self.pending is not None:
            status, body = await self._post(*self.pending)
            assert status in (200, 201), (status, body)
            self.acked[self.pending[1]] = body["interaction_id"]
            self.pending = None
