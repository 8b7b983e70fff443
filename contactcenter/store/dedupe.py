"""Inbound dedupe keys: a redelivered email, SMS or chat message is stored once.

``claim`` inserts (channel, external_id) inside the ingest transaction; if the
key exists the caller skips the message and still acknowledges it to its
source, since the first delivery was committed.
"""

from __future__ import annotations

import asyncpg


class DedupeStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def claim(self, channel: str, external_id: str) -> bool:
        """True if this key is new (go on and store the message), False if seen before."""
        status = await self.conn.execute(
            "INSERT INTO inbound_dedupe (channel, external_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            channel,
            external_id,
        )
        return status.endswith(" 1")

    async def link(self, channel: str, external_id: str, touchpoint_id: int) -> None:
        await self.conn.execute(
            "UPDATE inbound_dedupe SET touchpoint_id = $3 WHERE channel = $1 AND external_id = $2",
            channel,
            external_id,
            touchpoint_id,
        )
