"""The one path by which customer messages enter: channels and the admin API use it.

Durable before acknowledged: ``receive`` returns only after the message, its
customer, its interaction and the console event are committed in one
transaction; the caller acknowledges to its source (IMAP flag, webhook 200,
chat ack) after that. A redelivery with the same dedupe key is recognised and
stored once. A new interaction is handed to the router after the commit; if the
process dies before that, the restart rebuild queues it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from contactcenter.acd.feed import AgentFeed
from contactcenter.db import Database, StoreError
from contactcenter.model import ActorKind, Channel, IdentityKind, InteractionState, TouchpointKind
from contactcenter.store import AgentEvent, Tx
from contactcenter.store.records import Interaction, to_json

if TYPE_CHECKING:
    from contactcenter.acd.service import RouterService

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A customer message, already normalised by its channel."""

    channel: Channel
    identity_kind: IdentityKind
    address: str  # normalised (see contactcenter.identity)
    queue: str  # where a new interaction goes
    body: str | None = None
    subject: str | None = None
    display_name: str = ""
    dedupe_key: str | None = None  # the source's id for this message (Message-ID, MessageSid, client_msg_id)
    thread_key: str | None = None  # joins the open interaction of this channel with the same key
    join_open: bool = False  # join the customer's open interaction on this channel (SMS, voice callbacks)
    interaction_id: uuid.UUID | None = None  # append to this interaction (chat conversations)
    priority: float = 0
    payload: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IntakeResult:
    interaction_id: uuid.UUID
    customer_id: uuid.UUID
    touchpoint_id: int | None
    created: bool  # a new interaction was opened
    duplicate: bool  # seen before: nothing was stored this time


class Intake:
    def __init__(self, db: Database, feed: AgentFeed, router: RouterService) -> None:
        self.db = db
        self.feed = feed
        self.router = router

    async def receive(self, message: InboundMessage) -> IntakeResult:
        events: list[AgentEvent] = []
        async with self.db.transaction() as tx:
            result = await self._store(tx, message, events)
        self.feed.publish(events)
        if result.created:
            try:
                await self.router.interaction_created(result.interaction_id)
            except StoreError as exc:
                # Stored is what counts: the router rebuilds from the store and queues it then.
                log.warning("interaction %s stored but not yet routed: %s", result.interaction_id, exc)
        return result

    async def _store(self, tx: Tx, message: InboundMessage, events: list[AgentEvent]) -> IntakeResult:
        channel = str(message.channel)
        if message.dedupe_key is not None and not await tx.dedupe.claim(channel, message.dedupe_key):
            row = await tx.conn.fetchrow(
                """SELECT t.id, t.interaction_id, t.customer_id FROM inbound_dedupe d
                   JOIN touchpoints t ON t.id = d.touchpoint_id WHERE d.channel = $1 AND d.external_id = $2""",
                channel,
                message.dedupe_key,
            )
            if row is None:  # claimed by a transaction that stored no touchpoint (cannot happen here)
                raise RuntimeError(f"dedupe key {message.dedupe_key!r} has no touchpoint")
            customer = await tx.customers.get(row["customer_id"])
            return IntakeResult(row["interaction_id"], customer.id, row["id"], created=False, duplicate=True)

        customer, _ = await tx.customers.find_or_create(
            str(message.identity_kind), message.address, display_name=message.display_name
        )
        interaction = await self._interaction_for(tx, message, customer.id)
        created = interaction is None
        if interaction is None:
            interaction = await tx.interactions.create(
                channel=channel,
                customer_id=customer.id,
                queue=message.queue,
                priority=message.priority,
                subject=message.subject,
                thread_key=message.thread_key,
                attributes=message.attributes,
            )
        touchpoint = await tx.touchpoints.append(
            customer_id=customer.id,
            interaction_id=interaction.id,
            kind=TouchpointKind.INBOUND_MESSAGE,
            channel=channel,
            actor_kind=ActorKind.CUSTOMER,
            actor_id=message.address,
            body=message.body,
            payload=message.payload,
        )
        if message.dedupe_key is not None:
            await tx.dedupe.link(channel, message.dedupe_key, touchpoint.id)
        if interaction.agent_id is not None and interaction.state in (
            InteractionState.ASSIGNED,
            InteractionState.WRAP_UP,
        ):
            events.append(
                await tx.agent_events.append(
                    interaction.agent_id,
                    "message",
                    {"interaction_id": str(interaction.id), "touchpoint": to_json(touchpoint)},
                )
            )
        return IntakeResult(interaction.id, customer.id, touchpoint.id, created=created, duplicate=False)

    async def _interaction_for(
        self, tx: Tx, message: InboundMessage, customer_id: uuid.UUID
    ) -> Interaction | None:
        if message.interaction_id is not None:
            return await tx.interactions.get(message.interaction_id, for_update=True)
        if message.thread_key is not None:
            found = await tx.interactions.open_for_thread(str(message.channel), message.thread_key)
            if found is not None:
                return found
        if message.join_open:
            return await tx.interactions.open_for_customer(str(message.channel), customer_id)
        return None
