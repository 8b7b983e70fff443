"""What the rest of the server tells connected customers, as it happens.

The agent side reaches this module only through the extension points the
composition root offers a channel: an agent's reply (``outbound_hooks``, after
its commit), the agent typing (``typing_hooks``), routing changes
(``channel_listeners``: assigned, transferred, ended, closed) and the router
giving up (``no_agent_handlers``). Each is turned into a message for every
connection of the visitor whose conversation it is (one person may have the
site open in several tabs). A customer who is not connected misses nothing:
the next ``hello`` with ``last_id`` replays the messages from the store.

Queue position and estimated wait are recomputed every ``QUEUE_UPDATE_S`` for
connected customers still waiting, and sent only when they change.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from typing import Any

from channels.webchat.availability import Availability
from channels.webchat.connection import ChatConnection
from channels.webchat.conversations import message_json
from channels.webchat.visitors import visitor_of_thread
from channels.webchat.waiting import WaitEstimator
from contactcenter.acd.service import RouterService
from contactcenter.db import Database
from contactcenter.store.records import Agent, Interaction, Touchpoint

log = logging.getLogger(__name__)

QUEUE_UPDATE_S = 3.0


class LiveChats:
    def __init__(self, db: Database, router: RouterService, availability: Availability,
                 estimator: WaitEstimator) -> None:
        self.db = db
        self.router = router
        self.availability = availability
        self.estimator = estimator
        self._by_visitor: dict[str, set[ChatConnection]] = defaultdict(set)

    # -- registry ------------------------------------------------------------------------------

    def register(self, conn: ChatConnection) -> None:
        assert conn.visitor is not None
        self._by_visitor[conn.visitor.visitor_id].add(conn)

    def unregister(self, conn: ChatConnection) -> None:
        if conn.visitor is None:
            return
        connections = self._by_visitor.get(conn.visitor.visitor_id)
        if connections is not None:
            connections.discard(conn)
            if not connections:
                del self._by_visitor[conn.visitor.visitor_id]

    def of_visitor(self, visitor_id: str | None) -> list[ChatConnection]:
        return [] if visitor_id is None else list(self._by_visitor.get(visitor_id, ()))

    def all(self) -> list[ChatConnection]:
        return [conn for connections in self._by_visitor.values() for conn in connections]

    def _of_conversation(self, thread_key: str | None, conversation_id: uuid.UUID) -> list[ChatConnection]:
        """The visitor's connections, moved on to this conversation if they showed an older one."""
        connections = self.of_visitor(visitor_of_thread(thread_key))
        for conn in connections:
            conn.adopt(conversation_id)
        return connections

    # -- hooks from the agent side -------------------------------------------------------------

    async def agent_replied(self, interaction: Interaction, touchpoint: Touchpoint) -> None:
        """``outbound_hooks["chat"]``: the reply is committed; show it now."""
        message = message_json(touchpoint)
        for conn in self._of_conversation(interaction.thread_key, interaction.id):
            conn.push(message)

    async def agent_typing(self, interaction: Interaction, agent: Agent) -> None:
        """``typing_hooks["chat"]``: best effort, never stored or replayed."""
        for conn in self.of_visitor(visitor_of_thread(interaction.thread_key)):
            if conn.conversation_id == interaction.id:
                conn.push({"type": "typing", "from": "agent", "agent_name": agent.display_name,
                           "conversation_id": str(interaction.id)})

    async def conversation_changed(self, change: str, interaction_id: uuid.UUID, details: dict[str, Any]) -> None:
        """``channel_listeners["chat"]``: assigned, transferred, ended or closed, after commit."""
        queue = details["queue"]
        if change == "assigned" and details.get("answered_after_s") is not None:
            self.estimator.record(queue, float(details["answered_after_s"]))
        for conn in self._of_conversation(details["thread_key"], interaction_id):
            conn.queue = queue
            if change == "assigned":
                conn.state = "active"
                conn.push({"type": "agent_joined", "agent_name": details.get("agent_name") or "",
                           "conversation_id": str(interaction_id)})
            elif change in ("ended", "closed"):
                if conn.state != "ended":
                    conn.state = "ended"
                    conn.push({"type": "closed", "conversation_id": str(interaction_id),
                               "transcript_available": True, "reason": "agent"})
            elif change == "transferred":
                conn.state = "waiting"
                conn.last_queue = None
                self.queue_update(conn)

    async def no_agent(self, interaction_id: uuid.UUID, action: str | None) -> None:
        """``no_agent_handlers["chat"]``: the router closed the chat unanswered; offer the offline form."""
        if not self._by_visitor:
            return
        async with self.db.connection() as tx:
            thread = await tx.conn.fetchval("SELECT thread_key FROM interactions WHERE id = $1", interaction_id)
        for conn in self._of_conversation(thread, interaction_id):
            conn.state = "ended"
            conn.push({"type": "closed", "conversation_id": str(interaction_id), "transcript_available": True,
                       "reason": "no_agent"})
            conn.push({"type": "offline", "reason": "no_agent"})

    # -- queue position ------------------------------------------------------------------------

    def queue_update(self, conn: ChatConnection) -> None:
        """Send ``queue`` if this connection's conversation waits and its position or estimate moved."""
        if conn.state != "waiting" or conn.conversation_id is None or conn.queue is None:
            return
        position = self.router.router.queue_position(str(conn.conversation_id))
        if position is None:
            return
        current = (position, self.estimator.estimate(conn.queue, position))
        if current != conn.last_queue:
            conn.last_queue = current
            conn.push({"type": "queue", "conversation_id": str(conn.conversation_id), "position": current[0],
                       "estimated_wait_s": current[1]})

    async def run_queue_updates(self) -> None:
        """Forever: refresh waiting customers' positions (a timer, not a synchronisation)."""
        while True:
            await asyncio.sleep(QUEUE_UPDATE_S)
            for conn in self.all():
                try:
                    self.queue_update(conn)
                except Exception:  # one odd connection must not stop everyone's updates
                    log.exception("queue update failed")

    async def seed_estimates(self) -> None:
        """Start the moving averages from the latest answered chats (after a restart)."""
        async with self.db.connection() as tx:
            rows = await tx.conn.fetch(
                """SELECT queue, extract(epoch FROM assigned_at - arrived_at) AS answered_after FROM (
                       SELECT queue, assigned_at, arrived_at FROM interactions
                       WHERE channel = 'chat' AND assigned_at IS NOT NULL
                       ORDER BY assigned_at DESC LIMIT 500) recent ORDER BY assigned_at"""
            )
        for row in rows:
            self.estimator.record(row["queue"], float(row["answered_after"]))
