"""The SMS tables (``0003_sms.sql``) and the lookups the channel needs, over one connection.

Every method runs inside the caller's transaction, so an opt-out is written
together with its touchpoint, and a reply guard reads the opt-out in the
same transaction that writes the reply.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from channels.sms.gateways import GatewayDirectory
from contactcenter.store.records import Interaction


@dataclass(frozen=True, slots=True)
class Route:
    """Who a text goes from and to: ``sender`` is our number on ``gateway``, ``recipient`` the customer."""

    gateway: str
    sender: str
    recipient: str


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message a gateway accepted, under the id it gave it."""

    gateway: str
    provider_id: str
    outbox_id: int
    sender: str
    recipient: str
    segments: int
    encoding: str

    def receipt(self) -> dict[str, Any]:
        """What the outbox records in the ``sent`` delivery-status touchpoint."""
        return {"provider_id": self.provider_id, "gateway": self.gateway, "from": self.sender,
                "to": self.recipient, "segments": self.segments, "encoding": self.encoding}


@dataclass(frozen=True, slots=True)
class OutboundRef:
    """Where a delivery receipt belongs: the outbox row, its touchpoint and interaction."""

    outbox_id: int
    touchpoint_id: int | None
    interaction_id: uuid.UUID | None
    message: SentMessage | None  # None when the receipt overtook our record of the provider id


_SENT_COLUMNS = "m.gateway, m.provider_id, m.outbox_id, m.sender, m.recipient, m.segments, m.encoding"


def _sent(row: asyncpg.Record) -> SentMessage:
    return SentMessage(**{k: row[k] for k in SentMessage.__slots__})


class SmsStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    # -- opt-outs ------------------------------------------------------------------------------

    async def opted_out(self, gateway: str, number: str) -> bool:
        return bool(await self.conn.fetchval(
            "SELECT opted_out FROM sms_opt_outs WHERE gateway = $1 AND number = $2", gateway, number))

    async def set_opt_out(self, gateway: str, number: str, *, opted_out: bool, keyword: str) -> None:
        await self.conn.execute(
            """INSERT INTO sms_opt_outs (gateway, number, opted_out, keyword) VALUES ($1, $2, $3, $4)
               ON CONFLICT (gateway, number) DO UPDATE
               SET opted_out = EXCLUDED.opted_out, keyword = EXCLUDED.keyword, updated_at = now()""",
            gateway, number, opted_out, keyword[:50])

    # -- routes --------------------------------------------------------------------------------

    async def route_for(self, interaction: Interaction, directory: GatewayDirectory) -> Route | None:
        """Reply from the number the customer last texted, to the number they texted from.

        Interactions that did not start with a text (created through the API)
        fall back to their ``sms_gateway``/``sms_number`` attributes, then to
        the first number feeding their queue, and the customer's newest phone.
        """
        row = await self.conn.fetchrow(
            """SELECT actor_id, payload->>'sms_gateway' AS gateway, payload->>'sms_to' AS number
               FROM touchpoints WHERE interaction_id = $1 AND kind = 'inbound_message' AND payload ? 'sms_gateway'
               ORDER BY id DESC LIMIT 1""",
            interaction.id)
        if row is not None and row["actor_id"] and row["gateway"] and row["number"]:
            return Route(row["gateway"], row["number"], row["actor_id"])
        attributes = interaction.attributes
        if isinstance(attributes.get("sms_gateway"), str) and isinstance(attributes.get("sms_number"), str):
            origin: tuple[str, str] | None = (attributes["sms_gateway"], attributes["sms_number"])
        else:
            origin = directory.number_for_queue(interaction.queue)
        phone = await self.conn.fetchval(
            """SELECT address FROM customer_identities WHERE customer_id = $1 AND kind = 'phone'
               ORDER BY created_at DESC, id DESC LIMIT 1""",
            interaction.customer_id)
        if origin is None or phone is None:
            return None
        return Route(origin[0], origin[1], phone)

    # -- sent messages ---------------------------------------------------------------------------

    async def remember(self, message: SentMessage) -> None:
        await self.conn.execute(
            """INSERT INTO sms_messages (gateway, provider_id, outbox_id, sender, recipient, segments, encoding)
               VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING""",
            message.gateway, message.provider_id, message.outbox_id, message.sender, message.recipient,
            message.segments, message.encoding)

    async def sent_for_outbox(self, outbox_id: int) -> SentMessage | None:
        """The gateway's acceptance of this outbox row, if it was accepted before (a retry after a crash)."""
        row = await self.conn.fetchrow(f"SELECT {_SENT_COLUMNS} FROM sms_messages m WHERE m.outbox_id = $1",
                                       outbox_id)
        return None if row is None else _sent(row)

    async def outbound_ref(self, gateway: str, provider_id: str, outbox_hint: int | None) -> OutboundRef | None:
        """The message a receipt is about: by provider id, else by the outbox id in the callback URL.

        The outbox id is only a hint for a message whose acceptance was never recorded (its answer
        was lost): it is not covered by a webhook gateway's signature, so it never attaches a
        receipt to a message we know under another provider id.
        """
        row = await self.conn.fetchrow(
            f"""SELECT {_SENT_COLUMNS}, o.touchpoint_id, o.interaction_id FROM sms_messages m
                JOIN outbox o ON o.id = m.outbox_id WHERE m.gateway = $1 AND m.provider_id = $2""",
            gateway, provider_id)
        if row is not None:
            return OutboundRef(row["outbox_id"], row["touchpoint_id"], row["interaction_id"], _sent(row))
        if outbox_hint is None:
            return None
        row = await self.conn.fetchrow(
            """SELECT id, touchpoint_id, interaction_id FROM outbox o WHERE id = $1 AND channel = 'sms'
                 AND NOT EXISTS (SELECT 1 FROM sms_messages m WHERE m.outbox_id = o.id)""", outbox_hint)
        if row is None:
            return None
        return OutboundRef(row["id"], row["touchpoint_id"], row["interaction_id"], None)

    async def set_status(self, gateway: str, provider_id: str, status: str) -> None:
        await self.conn.execute(
            "UPDATE sms_messages SET last_status = $3, updated_at = now() WHERE gateway = $1 AND provider_id = $2",
            gateway, provider_id, status)
