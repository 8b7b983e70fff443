"""The outbox: outbound messages written in the same transaction as their touchpoint.

Senders claim due rows with ``FOR UPDATE SKIP LOCKED`` so several senders (or
nodes) never deliver one row twice, and failed attempts are rescheduled with
backoff. A crash between delivery and marking it sent re-sends once: the
channel adapters put a stable id (Message-ID, idempotency key) in each message.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    channel: str
    interaction_id: uuid.UUID | None
    touchpoint_id: int | None
    payload: dict[str, Any]
    attempts: int


class OutboxStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def enqueue(
        self,
        channel: str,
        payload: dict[str, Any],
        *,
        interaction_id: uuid.UUID | None = None,
        touchpoint_id: int | None = None,
    ) -> int:
        return int(
            await self.conn.fetchval(
                "INSERT INTO outbox (channel, interaction_id, touchpoint_id, payload) "
                "VALUES ($1, $2, $3, $4) RETURNING id",
                channel,
                interaction_id,
                touchpoint_id,
                payload,
            )
        )

    async def claim_due(self, channel: str, *, limit: int, lease: timedelta) -> list[OutboxItem]:
        """Take up to ``limit`` due rows and push their next attempt ``lease`` ahead.

        The lease means a sender that dies mid-delivery leaves the row to be
        retried after the lease, never lost.
        """
        rows = await self.conn.fetch(
            """UPDATE outbox SET attempts = attempts + 1, next_attempt_at = now() + $3
               WHERE id IN (SELECT id FROM outbox WHERE channel = $1 AND status = 'pending'
                            AND next_attempt_at <= now() ORDER BY next_attempt_at, id
                            LIMIT $2 FOR UPDATE SKIP LOCKED)
               RETURNING id, channel, interaction_id, touchpoint_id, payload, attempts""",
            channel,
            limit,
            lease,
        )
        return [OutboxItem(**dict(r)) for r in sorted(rows, key=lambda r: r["id"])]

    async def mark_sent(self, item_id: int) -> None:
        await self.conn.execute(
            "UPDATE outbox SET status = 'sent', sent_at = now(), last_error = NULL WHERE id = $1", item_id
        )

    async def retry_later(self, item_id: int, *, delay: timedelta, error: str) -> None:
        await self.conn.execute(
            "UPDATE outbox SET next_attempt_at = now() + $2, last_error = $3 WHERE id = $1",
            item_id,
            delay,
            error[:2000],
        )

    async def mark_failed(self, item_id: int, error: str) -> None:
        await self.conn.execute(
            "UPDATE outbox SET status = 'failed', last_error = $2 WHERE id = $1", item_id, error[:2000]
        )

    async def backlog(self) -> dict[str, int]:
        rows = await self.conn.fetch("SELECT channel, count(*) FROM outbox WHERE status = 'pending' GROUP BY 1")
        return {r[0]: int(r[1]) for r in rows}
