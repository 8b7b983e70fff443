"""``/agent/ws``: the console's live connection.

On connect the server sends ``hello`` (profile, state, open offers and
interactions, and ``seq``, the agent's latest event number). A console that
reconnects passes ``?last_seq=N`` and, instead of a fresh snapshot, gets every
event after N exactly once and in order. Each connection keeps its own cursor
into the agent's numbered events and reads any gap from the store, so a slow
console holds no queue and a send that stalls past its deadline closes only
that connection.

Whether the database answers is pushed too (``status``, unnumbered): a
monitor calls ``database_changed`` and every connection's sender sends the
latest state once, so a console learns of an outage and of the recovery
without reconnecting.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from typing import Any

from aiohttp import WSMsgType, web
from pydantic import ValidationError

from contactcenter.acd.feed import AgentFeed, AgentSubscription
from contactcenter.api.auth import check_same_origin, current_agent
from contactcenter.api.errors import ApiError
from contactcenter.db import Database, StoreError
from contactcenter.hub.actions import ActionError, AgentActions
from contactcenter.hub.presence import Presence
from contactcenter.hub.protocol import PROTOCOL_VERSION, agent_message
from contactcenter.store import AgentEvent
from contactcenter.store.records import Agent, to_json
from contactcenter.websocket_shutdown import close_websockets

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 10.0
MAX_MESSAGE_BYTES = 64 * 1024


class AgentHub:
    def __init__(self, db: Database, feed: AgentFeed, actions: AgentActions, presence: Presence,
                 console_settings: dict[str, Any]) -> None:
        self.db = db
        self.feed = feed
        self.actions = actions
        self.presence = presence
        self.console_settings = console_settings
        self.connections: set[web.WebSocketResponse] = set()
        self.database = "ok"  # or "degraded": what the database health monitor last said
        self._subscriptions: set[AgentSubscription] = set()

    def database_changed(self, healthy: bool) -> None:
        """A database health listener: wake every sender to send the new ``status``."""
        self.database = "ok" if healthy else "degraded"
        for subscription in self._subscriptions:
            subscription.wakeup.set()

    async def close_all(self) -> None:
        await close_websockets(list(self.connections))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        agent = await current_agent(request)
        check_same_origin(request)
        try:
            last_seq = int(request.query["last_seq"]) if "last_seq" in request.query else None
        except ValueError:
            raise ApiError(400, "bad_last_seq", "last_seq must be a whole number") from None
        await self.actions.sync_profile(agent)
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_MESSAGE_BYTES)
        await ws.prepare(request)
        self.connections.add(ws)
        subscription = self.feed.subscribe(agent.id)
        self._subscriptions.add(subscription)
        self.presence.connected(agent.id)
        sender: asyncio.Task[None] | None = None
        try:
            hello, cursor = await self._hello(agent, last_seq)
            await ws.send_json(hello)
            sender = asyncio.create_task(
                self._send_events(ws, subscription, cursor, hello["database"], request.transport))
            await self._receive(ws, agent)
        except StoreError as exc:
            log.warning("agent %s connection ends: %s", agent.login, exc)
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_json({"type": "error", "seq": None, "code": "unavailable",
                                    "message": "the server cannot reach its database; reconnecting"})
        finally:
            if sender is not None:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sender
            self.feed.unsubscribe(subscription)
            self._subscriptions.discard(subscription)
            self.connections.discard(ws)
            self.presence.disconnected(agent.id, still_connected=self.feed.connected(agent.id))
            await ws.close()
        return ws

    async def _hello(self, agent: Agent, last_seq: int | None) -> tuple[dict[str, Any], int]:
        """The hello message and the cursor to stream from, read from one snapshot."""
        async with self.db.transaction(isolation="repeatable_read") as tx:
            seq = await tx.agent_events.latest_seq(agent.id)
            profile = await tx.agents.get(agent.id)
            resumed = False
            if last_seq is not None and 0 <= last_seq <= seq:
                oldest = await tx.agent_events.oldest_seq(agent.id)
                resumed = last_seq == seq or (oldest is not None and oldest <= last_seq + 1)
            open_interactions = await tx.interactions.for_agent(agent.id)
            summaries = await tx.interactions.summaries([i.id for i in open_interactions])
            offers = await tx.conn.fetch(
                """SELECT DISTINCT ON (t.interaction_id) t.interaction_id, t.payload->>'expires_at' AS expires_at
                   FROM touchpoints t JOIN interactions i ON i.id = t.interaction_id
                   WHERE i.agent_id = $1 AND i.state = 'offered' AND t.kind = 'offer'
                   ORDER BY t.interaction_id, t.id DESC""",
                agent.id,
            )
        expiry = {row["interaction_id"]: row["expires_at"] for row in offers}
        assert profile is not None
        hello = {
            "type": "hello",
            "seq": seq,
            "protocol": PROTOCOL_VERSION,
            "resumed": resumed,
            "agent": to_json(profile),
            "state": profile.state,
            "reason": profile.state_reason,
            "offers": [
                {"interaction": summaries[i.id], "expires_at": expiry.get(i.id)}
                for i in open_interactions if i.state == "offered"
            ],
            "interactions": [summaries[i.id] for i in open_interactions if i.state != "offered"],
            "database": self.database,
            **self.console_settings,
        }
        return hello, (last_seq if resumed and last_seq is not None else seq)

    async def _send_events(self, ws: web.WebSocketResponse, subscription: AgentSubscription, cursor: int,
                           shown: str, transport: asyncio.BaseTransport | None) -> None:
        """Send every event after ``cursor`` in order, forever; drop the connection if the client stalls.

        ``shown`` is the database state the console was last told (in ``hello``).
        """
        catch_up = True  # events may have committed between the hello snapshot and the subscription
        try:
            while True:
                overflowed = subscription.overflowed  # drain() clears it
                recent, signals = subscription.drain()
                if shown != self.database:
                    shown = self.database
                    await self._send(ws, {"type": "status", "seq": None, "database": shown})
                for message in signals:
                    await self._send(ws, message)
                recent = [e for e in recent if e.seq > cursor]
                # ``recent`` is only a shortcut: read the store on a gap or when the feed dropped events
                if catch_up or overflowed or (recent and (recent[0].seq != cursor + 1 or not _contiguous(recent))):
                    async with self.db.connection() as tx:
                        recent = await tx.agent_events.since(subscription.agent_id, cursor)
                for event in recent:
                    await self._send(ws, event.message())
                    cursor = event.seq
                catch_up = len(recent) >= 500  # more waiting in the store
                if not catch_up:
                    await subscription.wakeup.wait()
        except TimeoutError:
            log.warning("agent console not reading for %ss; closing it", SEND_TIMEOUT_S)
            # Abort, not close: a close frame would queue behind everything it never read, and a
            # graceful close keeps the socket (and that backlog) until the client reads it all.
            if transport is not None:
                transport.abort()
            else:
                await ws.close(code=1008, message=b"too slow", drain=False)
        except (ConnectionError, RuntimeError, StoreError) as exc:
            log.info("agent event stream ended: %s", exc)
            await ws.close(code=1011, message=b"event stream interrupted")

    @staticmethod
    async def _send(ws: web.WebSocketResponse, message: dict[str, Any]) -> None:
        async with asyncio.timeout(SEND_TIMEOUT_S):
            await ws.send_str(json.dumps(message, ensure_ascii=False))

    async def _receive(self, ws: web.WebSocketResponse, agent: Agent) -> None:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                if msg.type == WSMsgType.BINARY:
                    await _send_error(ws, "bad_message", "send JSON text messages")
                continue
            ref = None
            try:
                data = json.loads(msg.data)
                if isinstance(data, dict):
                    ref = data.get("ref") if isinstance(data.get("ref"), str) else None
                message = agent_message.validate_python(data)
                answer = await self.actions.handle(agent, message)
            except json.JSONDecodeError:
                await _send_error(ws, "bad_json", "messages must be JSON objects", ref)
            except ValidationError as exc:
                await _send_error(ws, "bad_message", _validation_text(exc), ref)
            except ActionError as exc:
                await _send_error(ws, exc.code, exc.message, ref)
            except StoreError:
                await _send_error(ws, "unavailable", "the database is unavailable; try again", ref)
            except Exception:
                # A bug in one action must not cost the agent their console (and start the disconnect
                # grace): log it, answer this message, and keep reading.
                log.exception("agent %s: console message failed", agent.login)
                await _send_error(ws, "internal", "the server could not carry this out", ref)
            else:
                if answer is not None:
                    await ws.send_json({**answer, "seq": None, **({"ref": ref} if ref else {})})


def _contiguous(events: list[AgentEvent]) -> bool:
    return all(b.seq == a.seq + 1 for a, b in itertools.pairwise(events))


def _validation_text(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"]


async def _send_error(ws: web.WebSocketResponse, code: str, message: str, ref: str | None = None) -> None:
    body: dict[str, Any] = {"type": "error", "seq": None, "code": code, "message": message}
    if ref is not None:
        body["ref"] = ref
    await ws.send_json(body)


