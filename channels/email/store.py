"""The e-mail channel's tables (migration 0005): sync state, Message-IDs, raw mail, attachments, acks.

One class over one connection, like the core stores, so its writes join the
caller's transaction: a batch of messages, their Message-IDs, attachments and
the mailbox's new ``last_uid`` commit together or not at all. Batch writes use
``executemany`` / ``unnest`` so a batch costs a few statements, not a few per
message.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from contactcenter.store.interactions import _COLUMNS as _INTERACTION_COLUMNS
from contactcenter.store.records import Interaction, from_row


@dataclass(frozen=True, slots=True)
class KnownId:
    """A Message-ID we stored before, and what it belongs to."""

    message_id: str
    direction: str  # "in" | "out"
    interaction_id: uuid.UUID | None
    touchpoint_id: int | None
    outbox_id: int | None


@dataclass(frozen=True, slots=True)
class IdRow:
    message_id: str
    mailbox: str
    direction: str
    interaction_id: uuid.UUID | None
    touchpoint_id: int | None = None
    outbox_id: int | None = None


@dataclass(frozen=True, slots=True)
class AttachmentRow:
    touchpoint_id: int
    position: int
    filename: str | None
    content_type: str
    size: int
    sha256: str
    content_id: str | None
    inline: bool
    data: bytes | None


class EmailStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    # -- IMAP sync state -----------------------------------------------------------------------

    async def mailbox_state(self, mailbox: str) -> tuple[int, int] | None:
        """(uidvalidity, last_uid) of the mailbox, or None before its first message."""
        row = await self.conn.fetchrow(
            "SELECT uidvalidity, last_uid FROM email_mailbox_state WHERE mailbox = $1", mailbox)
        return None if row is None else (int(row[0]), int(row[1]))

    async def save_state(self, mailbox: str, uidvalidity: int, last_uid: int) -> None:
        """Advance ``last_uid`` (never backwards within one UIDVALIDITY; reset when it changes)."""
        await self.conn.execute(
            """INSERT INTO email_mailbox_state (mailbox, uidvalidity, last_uid, updated_at)
               VALUES ($1, $2, $3, now())
               ON CONFLICT (mailbox) DO UPDATE SET
                   last_uid = CASE WHEN email_mailbox_state.uidvalidity = EXCLUDED.uidvalidity
                                   THEN greatest(email_mailbox_state.last_uid, EXCLUDED.last_uid)
                                   ELSE EXCLUDED.last_uid END,
                   uidvalidity = EXCLUDED.uidvalidity, updated_at = now()""",
            mailbox, uidvalidity, last_uid)

    # -- Message-IDs ---------------------------------------------------------------------------

    async def received_ids(self, mailbox: str, message_ids: Sequence[str]) -> set[str]:
        """Which of ``message_ids`` this mailbox has already stored (a refetch after a crash)."""
        if not message_ids:
            return set()
        rows = await self.conn.fetch(
            "SELECT message_id FROM email_message_ids WHERE mailbox = $1 AND direction = 'in' "
            "AND message_id = ANY($2::text[])", mailbox, list(message_ids))
        return {r[0] for r in rows}

    async def known_ids(self, message_ids: Sequence[str]) -> dict[str, KnownId]:
        """Stored Message-IDs among ``message_ids``; an outbound one wins over an inbound copy."""
        if not message_ids:
            return {}
        rows = await self.conn.fetch(
            "SELECT message_id, direction, interaction_id, touchpoint_id, outbox_id FROM email_message_ids "
            "WHERE message_id = ANY($1::text[]) ORDER BY direction DESC, created_at", list(message_ids))
        found: dict[str, KnownId] = {}
        for r in rows:
            current = found.get(r["message_id"])
            if current is None or (current.interaction_id is None and r["interaction_id"] is not None):
                found[r["message_id"]] = KnownId(r["message_id"], r["direction"], r["interaction_id"],
                                                 r["touchpoint_id"], r["outbox_id"])
        return found

    async def remember_ids(self, rows: Iterable[IdRow]) -> None:
        records = [(r.message_id, r.mailbox, r.direction, r.interaction_id, r.touchpoint_id, r.outbox_id)
                   for r in rows]
        if records:
            await self.conn.executemany(
                "INSERT INTO email_message_ids (message_id, mailbox, direction, interaction_id, touchpoint_id, "
                "outbox_id) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING", records)

    # -- interactions --------------------------------------------------------------------------

    async def by_token(self, token: str) -> Interaction | None:
        """The e-mail interaction whose subject token is ``token`` (newest if, improbably, several)."""
        row = await self.conn.fetchrow(
            f"SELECT {_INTERACTION_COLUMNS} FROM interactions WHERE channel = 'email' AND thread_key = $1 "
            "ORDER BY created_at DESC LIMIT 1 FOR UPDATE", token)
        return None if row is None else from_row(Interaction, row)

    async def set_tokens(self, pairs: Sequence[tuple[uuid.UUID, str]]) -> None:
        """Store each new interaction's subject token as its thread key (one statement per batch)."""
        if pairs:
            await self.conn.execute(
                "UPDATE interactions i SET thread_key = t.token FROM unnest($1::uuid[], $2::text[]) AS t(id, token) "
                "WHERE i.id = t.id AND i.thread_key IS NULL",
                [p[0] for p in pairs], [p[1] for p in pairs])

    async def link(self, pairs: Sequence[tuple[uuid.UUID, uuid.UUID]]) -> None:
        """Mark each new interaction as the follow-up of an older (closed, or other-channel) one."""
        if pairs:
            await self.conn.execute(
                "UPDATE interactions i SET linked_interaction_id = t.old FROM unnest($1::uuid[], $2::uuid[]) "
                "AS t(id, old) WHERE i.id = t.id", [p[0] for p in pairs], [p[1] for p in pairs])

    async def closed_within(self, interaction_id: uuid.UUID, window_s: float) -> bool:
        """Whether the interaction closed less than ``window_s`` ago (by the database clock)."""
        return bool(await self.conn.fetchval(
            "SELECT coalesce(closed_at, ended_at) > now() - make_interval(secs => $2) FROM interactions "
            "WHERE id = $1", interaction_id, window_s))

    async def reopen(self, interaction_id: uuid.UUID) -> Interaction:
        """Back to ``queued``, unassigned, waiting from now; the caller routes it after commit."""
        row = await self.conn.fetchrow(
            f"""UPDATE interactions SET state = 'queued', agent_id = NULL, disposition = NULL,
                       arrived_at = clock_timestamp(), offered_at = NULL, assigned_at = NULL,
                       ended_at = NULL, closed_at = NULL
                WHERE id = $1 RETURNING {_INTERACTION_COLUMNS}""", interaction_id)
        return from_row(Interaction, row)

    async def customer_of(self, address: str) -> uuid.UUID | None:
        return await self.conn.fetchval(
            "SELECT customer_id FROM customer_identities WHERE kind = 'email' AND address = $1", address)

    async def customer_address(self, customer_id: uuid.UUID) -> str | None:
        return await self.conn.fetchval(
            "SELECT address FROM customer_identities WHERE kind = 'email' AND customer_id = $1 "
            "ORDER BY created_at DESC LIMIT 1", customer_id)

    async def last_inbound(self, interaction_id: uuid.UUID) -> dict[str, Any] | None:
        """The payload of the interaction's newest e-mail from the customer (what a reply answers).

        Bounces, delay notices, auto-replies (out-of-office) and list mail are stored on the
        interaction too, but a reply must not go to MAILER-DAEMON or a vacation robot: only mail
        that was routed (``normal``, or ``malformed`` kept for review) counts. The reply's recipient
        and its In-Reply-To / References then come from the same genuine message, so it threads
        under what the customer wrote.
        """
        return await self.conn.fetchval(
            "SELECT payload FROM touchpoints WHERE interaction_id = $1 AND kind = 'inbound_message' "
            "AND channel = 'email' AND payload ? 'message_id' "
            "AND coalesce(payload->>'email_kind', 'normal') IN ('normal', 'malformed') "
            "ORDER BY id DESC LIMIT 1", interaction_id)

    # -- raw messages, attachments, acknowledgements -------------------------------------------

    async def save_raw(self, rows: Sequence[tuple[int, str, int, int, bytes]]) -> None:
        """(touchpoint_id, mailbox, uidvalidity, uid, raw) of messages kept for review."""
        if rows:
            await self.conn.executemany(
                "INSERT INTO email_raw (touchpoint_id, mailbox, uidvalidity, uid, raw) VALUES ($1, $2, $3, $4, $5) "
                "ON CONFLICT DO NOTHING", rows)

    async def save_attachments(self, rows: Sequence[AttachmentRow]) -> None:
        if rows:
            await self.conn.executemany(
                "INSERT INTO email_attachments (touchpoint_id, position, filename, content_type, size, sha256, "
                "content_id, inline, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
                [(a.touchpoint_id, a.position, a.filename, a.content_type, a.size, a.sha256, a.content_id,
                  a.inline, a.data) for a in rows])

    async def claim_auto_ack(self, mailbox: str, sender: str, period_s: float) -> bool:
        """True (and the time recorded) if ``sender`` was not acknowledged within ``period_s``."""
        status = await self.conn.execute(
            """INSERT INTO email_auto_acks (mailbox, sender, last_sent_at) VALUES ($1, $2, now())
               ON CONFLICT (mailbox, sender) DO UPDATE SET last_sent_at = now()
               WHERE email_auto_acks.last_sent_at <= now() - make_interval(secs => $3)""",
            mailbox, sender, period_s)
        return status.endswith(" 1")

    # -- outbound ------------------------------------------------------------------------------

    async def pin_message_id(self, outbox_id: int, candidate: str) -> str:
        """The outbox row's Message-ID: ``candidate`` the first time, the stored one on every retry."""
        pinned = await self.conn.fetchval(
            "UPDATE outbox SET payload = payload || jsonb_build_object('message_id', $2::text) "
            "WHERE id = $1 AND NOT payload ? 'message_id' RETURNING payload->>'message_id'", outbox_id, candidate)
        if pinned is None:
            pinned = await self.conn.fetchval("SELECT payload->>'message_id' FROM outbox WHERE id = $1", outbox_id)
        if pinned is None:
            raise LookupError(f"outbox row {outbox_id} does not exist")
        return str(pinned)

    async def add_delivered(self, outbox_id: int, recipients: Sequence[str]) -> None:
        """Add ``recipients`` (envelope addresses the relay accepted) to the outbox row's ``delivered_to``.

        One statement, so the addresses are recorded together or not at all; a retry then leaves
        them out of the envelope, and nobody who already has the message gets a second copy.
        """
        found = await self.conn.fetchval(
            """UPDATE outbox SET payload = payload || jsonb_build_object('delivered_to', (
                   SELECT coalesce(jsonb_agg(DISTINCT address), '[]'::jsonb) FROM (
                       SELECT jsonb_array_elements_text(coalesce(payload->'delivered_to', '[]'::jsonb)) AS address
                       UNION SELECT unnest($2::text[])) AS merged))
               WHERE id = $1 RETURNING id""", outbox_id, list(recipients))
        if found is None:
            raise LookupError(f"outbox row {outbox_id} does not exist")
