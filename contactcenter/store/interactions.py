"""Interactions: one conversation, call or email thread, and its lifecycle columns.

The state column follows the lifecycle in ``contactcenter.model``; the routing
core decides the moves and the shell writes them here together with their
touchpoints in one transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from contactcenter.model import InteractionState
from contactcenter.store.records import Interaction, from_row

_COLUMNS = (
    "id, channel, customer_id, queue, state, priority, subject, thread_key, agent_id, disposition, "
    "linked_interaction_id, attributes, created_at, arrived_at, offered_at, assigned_at, ended_at, closed_at"
)

# Which timestamp column a move into each state stamps.
_STAMP = {
    InteractionState.OFFERED: "offered_at",
    InteractionState.ASSIGNED: "assigned_at",
    InteractionState.WRAP_UP: "ended_at",
    InteractionState.CLOSED: "closed_at",
    InteractionState.ABANDONED: "closed_at",
}


class InteractionNotFound(LookupError):
    pass


class InteractionStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def create(
        self,
        *,
        channel: str,
        customer_id: uuid.UUID,
        queue: str,
        priority: float = 0,
        subject: str | None = None,
        thread_key: str | None = None,
        linked_interaction_id: uuid.UUID | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> Interaction:
        row = await self.conn.fetchrow(
            f"""INSERT INTO interactions
                   (channel, customer_id, queue, priority, subject, thread_key, linked_interaction_id, attributes,
                    created_at, arrived_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, clock_timestamp(), clock_timestamp())
                RETURNING {_COLUMNS}""",
            str(channel),
            customer_id,
            queue,
            priority,
            subject,
            thread_key,
            linked_interaction_id,
            attributes or {},
        )
        return from_row(Interaction, row)

    async def get(self, interaction_id: uuid.UUID, *, for_update: bool = False) -> Interaction:
        lock = " FOR UPDATE" if for_update else ""
        row = await self.conn.fetchrow(f"SELECT {_COLUMNS} FROM interactions WHERE id = $1{lock}", interaction_id)
        if row is None:
            raise InteractionNotFound(str(interaction_id))
        return from_row(Interaction, row)

    async def set_state(
        self, interaction_id: uuid.UUID, state: InteractionState, *, agent_id: uuid.UUID | None
    ) -> Interaction:
        """Move to ``state`` with ``agent_id``, stamping the state's time column."""
        stamp = _STAMP.get(state)
        stamp_set = f", {stamp} = clock_timestamp()" if stamp else ""
        row = await self.conn.fetchrow(
            f"UPDATE interactions SET state = $2, agent_id = $3{stamp_set} WHERE id = $1 RETURNING {_COLUMNS}",
            interaction_id,
            str(state),
            agent_id,
        )
        if row is None:
            raise InteractionNotFound(str(interaction_id))
        return from_row(Interaction, row)

    async def agent_has_handled(self, agent_id: uuid.UUID, customer_id: uuid.UUID) -> bool:
        """True if the agent has been offered or handled any interaction of this customer."""
        return bool(
            await self.conn.fetchval(
                """SELECT EXISTS (
                       SELECT 1 FROM interactions WHERE customer_id = $2 AND agent_id = $1
                       UNION ALL
                       SELECT 1 FROM touchpoints WHERE customer_id = $2 AND kind = 'offer'
                              AND payload->>'agent_id' = $1::text)""",
                agent_id,
                customer_id,
            )
        )

    async def summaries(self, interaction_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
        """What a console shows of each interaction: customer, subject and a preview of the last message.

        ``cc_summary`` (migration 0007) is the one definition; routing's offers carry the same.
        """
        rows = await self.conn.fetch(
            "SELECT id, cc_summary(id) AS summary FROM unnest($1::uuid[]) AS id", interaction_ids
        )
        return {r["id"]: r["summary"] for r in rows if r["summary"] is not None}

    async def open_for_customer(self, channel: str, customer_id: uuid.UUID) -> Interaction | None:
        row = await self.conn.fetchrow(
            f"SELECT {_COLUMNS} FROM interactions WHERE channel = $1 AND customer_id = $2 "
            "AND state IN ('queued', 'offered', 'assigned', 'wrap_up') ORDER BY created_at DESC LIMIT 1 FOR UPDATE",
            channel,
            customer_id,
        )
        return None if row is None else from_row(Interaction, row)

    async def for_agent(self, agent_id: uuid.UUID) -> list[Interaction]:
        rows = await self.conn.fetch(
            f"SELECT {_COLUMNS} FROM interactions WHERE agent_id = $1 "
            "AND state IN ('offered', 'assigned', 'wrap_up') ORDER BY arrived_at",
            agent_id,
        )
        return [from_row(Interaction, r) for r in rows]
