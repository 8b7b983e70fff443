"""One widget websocket: everything it is sent goes through one bounded queue and one writer.

A single writer keeps messages in order (an ``ack`` never overtakes the
``welcome``), and the bound keeps a customer whose network stalls from holding
memory or anyone else up: when the queue is full, or one send takes longer than
``SEND_TIMEOUT_S``, the connection is closed. Nothing is lost by that: the
widget reconnects with ``last_id`` and gets what it missed from the store.

Until ``welcome`` has gone out, pushes (an agent reply committed while the
welcome snapshot was being read) are held back and then sent unless the
snapshot already had them, so the first thing a widget sees is always the
welcome and no message arrives twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any

from aiohttp import web

from channels.webchat.visitors import Visitor
from contactcenter.config.schema_channels import Widget

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 10.0
MAX_QUEUED = 256
MAX_REMEMBERED_IDS = 5000


class ChatConnection:
    def __init__(self, ws: web.WebSocketResponse, widget: Widget | None, origin: str) -> None:
        self.ws = ws
        self.widget = widget
        self.origin = origin
        self.visitor: Visitor | None = None
        self.language = "zh-CN"
        self.conversation_id: uuid.UUID | None = None
        self.state = "none"  # the customer's view: none, waiting, active, ended
        self.queue: str | None = None  # the conversation's queue (for the wait estimate)
        self.last_queue: tuple[int, int] | None = None
        self.last_typing = 0.0
        self._sent_ids: set[int] = set()
        self._held: list[dict[str, Any]] | None = None  # pushes waiting for the welcome
        self._out: asyncio.Queue[dict[str, Any]] = asyncio.Queue(MAX_QUEUED)
        self._writer: asyncio.Task[None] | None = None
        self.transport: asyncio.BaseTransport | None = None  # set by the hub: aborted for a client that stalls

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write(), name="chat-writer")

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None

    # -- sending -------------------------------------------------------------------------------

    def send(self, message: dict[str, Any]) -> None:
        """Queue ``message`` for the writer; a full queue means the client stopped reading."""
        if self.ws.closed:
            return
        try:
            self._out.put_nowait(message)
        except asyncio.QueueFull:
            log.warning("chat client not reading (%d messages queued); closing it", MAX_QUEUED)
            self._close_soon(1008, b"too slow")

    def push(self, message: dict[str, Any]) -> None:
        """A live event for this customer: held while the welcome is being prepared."""
        if self._held is not None:
            if len(self._held) >= MAX_QUEUED:
                self._close_soon(1008, b"too slow")
            else:
                self._held.append(message)
            return
        if message.get("type") == "message" and not self._first_time(message["id"]):
            return
        self.send(message)

    def hold(self) -> None:
        """Start holding pushes: a welcome snapshot is about to be read."""
        if self._held is None:
            self._held = []

    def welcome(self, message: dict[str, Any]) -> None:
        """Send the welcome, then whatever was pushed meanwhile and is not in it."""
        conversation = message["conversation"]
        if conversation["id"] != (None if self.conversation_id is None else str(self.conversation_id)):
            self._sent_ids.clear()
        self.conversation_id = None if conversation["id"] is None else uuid.UUID(conversation["id"])
        self.state = conversation["state"]
        self.last_queue = None
        for item in conversation["messages"]:
            self._first_time(item["id"])
        held, self._held = self._held or [], None
        self.send(message)
        for item in held:
            if item["type"] == "agent_joined" and self.state == "active":
                continue
            if item["type"] == "closed" and self.state == "ended":
                continue
            self.push(item)

    def welcome_failed(self) -> None:
        """The welcome could not be prepared: drop what was held (the widget's next hello replays it)."""
        self._held = None

    def remember(self, message_id: int) -> None:
        """A message the widget already has (its own, acked) must not be pushed back to it."""
        self._first_time(message_id)

    def _first_time(self, message_id: int) -> bool:
        if message_id in self._sent_ids:
            return False
        if len(self._sent_ids) >= MAX_REMEMBERED_IDS:
            self._sent_ids.clear()
        self._sent_ids.add(message_id)
        return True

    def adopt(self, conversation_id: uuid.UUID) -> None:
        """The visitor's conversation is now ``conversation_id`` (a new one after the last ended)."""
        if conversation_id != self.conversation_id:
            self.conversation_id = conversation_id
            self._sent_ids.clear()
            self.last_queue = None

    async def _write(self) -> None:
        try:
            while True:
                message = await self._out.get()
                try:
                    async with asyncio.timeout(SEND_TIMEOUT_S):
                        await self.ws.send_str(json.dumps(message, ensure_ascii=False))
                finally:
                    self._out.task_done()
        except TimeoutError:
            log.warning("chat client did not take a message within %ss; dropping it", SEND_TIMEOUT_S)
            self._abort()
        except (ConnectionError, RuntimeError) as exc:
            log.info("chat connection ended while sending: %s", exc)
            await self.ws.close()

    async def finish(self, message: dict[str, Any], code: int, reason: bytes) -> None:
        """Send a last message (the reason), then close; a client that does not read is dropped."""
        self.send(message)
        try:
            async with asyncio.timeout(SEND_TIMEOUT_S):
                await self._out.join()
        except TimeoutError:
            self._abort()
            return
        await self.ws.close(code=code, message=reason)

    def _close_soon(self, code: int, reason: bytes) -> None:
        """The client stopped reading: a close frame would never get through, so drop the connection."""
        self._abort()

    def _abort(self) -> None:
        """Reset the TCP connection: frees the socket and its unsent backlog at once; the widget reconnects."""
        if self._writer is not None and self._writer is not asyncio.current_task():
            self._writer.cancel()
        if self.transport is not None:
            self.transport.abort()


