"""The append-only touchpoint log and a customer's history, newest first.

History pages use a keyset cursor over (created_at, id), so a page is an index
range scan however long the history is, and new touchpoints never shift pages.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from contactcenter.store.records import Touchpoint, from_row

_COLUMNS = "id, customer_id, interaction_id, kind, channel, actor_kind, actor_id, body, payload, created_at"


class BadCursor(ValueError):
    pass


def encode_cursor(touchpoint: Touchpoint) -> str:
    raw = f"{touchpoint.created_at.isoformat()}|{touchpoint.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, _, ident = raw.partition("|")
        return datetime.fromisoformat(when), int(ident)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadCursor(f"invalid cursor: {cursor!r}") from exc


class TouchpointStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def append(
        self,
        *,
        customer_id: uuid.UUID,
        kind: str,
        actor_kind: str,
        interaction_id: uuid.UUID | None = None,
        channel: str | None = None,
        actor_id: str | None = None,
        body: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> Touchpoint:
        row = await self.conn.fetchrow(
            f"""INSERT INTO touchpoints
                   (customer_id, interaction_id, kind, channel, actor_kind, actor_id, body, payload, created_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, clock_timestamp())
                RETURNING {_COLUMNS}""",
            customer_id,
            interaction_id,
            str(kind),
            None if channel is None else str(channel),
            str(actor_kind),
            actor_id,
            body,
            payload or {},
        )
        return from_row(Touchpoint, row)

    async def history(
        self, customer_id: uuid.UUID, *, limit: int, before: str | None = None
    ) -> tuple[list[Touchpoint], str | None]:
        """One page of a customer's touchpoints, newest first, and the cursor of the next page."""
        if before is None:
            rows = await self.conn.fetch(
                f"SELECT {_COLUMNS} FROM touchpoints WHERE customer_id = $1 "
                "ORDER BY created_at DESC, id DESC LIMIT $2",
                customer_id,
                limit + 1,
            )
        else:
            when, ident = decode_cursor(before)
            rows = await self.conn.fetch(
                f"SELECT {_COLUMNS} FROM touchpoints WHERE customer_id = $1 AND (created_at, id) < ($2, $3) "
                "ORDER BY created_at DESC, id DESC LIMIT $4",
                customer_id,
                when,
                ident,
                limit + 1,
            )
        page = [from_row(Touchpoint, r) for r in rows[:limit]]
        next_cursor = encode_cursor(page[-1]) if len(rows) > limit else None
        return page, next_cursor

    async def for_interaction(self, interaction_id: uuid.UUID, *, after_id: int = 0) -> list[Touchpoint]:
        rows = await self.conn.fetch(
            f"SELECT {_COLUMNS} FROM touchpoints WHERE interaction_id = $1 AND id > $2 ORDER BY id",
            interaction_id,
            after_id,
        )
        return [from_row(Touchpoint, r) for r in rows]
