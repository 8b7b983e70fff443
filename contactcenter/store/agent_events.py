"""Per-agent numbered events: the durable feed behind the agent websocket.

``append`` takes the next number from ``agents.event_seq`` with an UPDATE, whose
row lock is held to commit, so numbers commit in order and a reader that sees
number N has already seen every number below it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg


@dataclass(frozen=True, slots=True)
class AgentEvent:
    agent_id: uuid.UUID
    seq: int
    type: str
    payload: dict[str, Any]

    def message(self) -> dict[str, Any]:
        """The websocket message: the payload with its type and sequence number."""
        return {"type": self.type, "seq": self.seq, **self.payload}


class AgentEventStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def append(self, agent_id: uuid.UUID, type_: str, payload: dict[str, Any]) -> AgentEvent:
        seq = await self.conn.fetchval(
            """WITH next AS (UPDATE agents SET event_seq = event_seq + 1 WHERE id = $1 RETURNING event_seq)
               INSERT INTO agent_events (agent_id, seq, type, payload)
               SELECT $1, event_seq, $2, $3 FROM next RETURNING seq""",
            agent_id,
            type_,
            payload,
        )
        if seq is None:
            raise LookupError(f"no such agent: {agent_id}")
        return AgentEvent(agent_id, int(seq), type_, payload)

    async def since(self, agent_id: uuid.UUID, after_seq: int, *, limit: int = 500) -> list[AgentEvent]:
        rows = await self.conn.fetch(
            "SELECT seq, type, payload FROM agent_events WHERE agent_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            agent_id,
            after_seq,
            limit,
        )
        return [AgentEvent(agent_id, int(r["seq"]), r["type"], r["payload"]) for r in rows]

    async def latest_seq(self, agent_id: uuid.UUID) -> int:
        return int(await self.conn.fetchval("SELECT event_seq FROM agents WHERE id = $1", agent_id) or 0)

    async def oldest_seq(self, agent_id: uuid.UUID) -> int | None:
        value = await self.conn.fetchval("SELECT min(seq) FROM agent_events WHERE agent_id = $1", agent_id)
        return None if value is None else int(value)
