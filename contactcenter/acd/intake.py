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

from contactcenter.acd.arrival import Arrival
from contactcenter.acd.feed import AgentFeed
from contactcenter.db import Database, StoreError
from contactcenter.model import KEEP_WAITING, Channel, IdentityKind
from contactcenter.store import AgentEvent, Tx

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
    arrival: Arrival | None = None  # for a new interaction: what the router needs to queue it


class Intake:
    def __init__(self, db: Database, feed: AgentFeed, router: RouterService) -> None:
        self.db = db
        self.feed = feed
        self.router = router

    async def receive(self, message: InboundMessage) -> IntakeResult:
        events: list[AgentEvent] = []
        async with self.db.connection() as tx:  # cc_ingest is one statement, so its own transaction
            result = await self.store_in(tx, message, events)
        self.feed.publish(events)
        if result.arrival is not None:
            try:
                await self.router.interaction_arrived(result.arrival)
            except StoreError as exc:
                # Stored is what counts: the router rebuilds from the store and queues it then.
                log.warning("interaction %s stored but not yet routed: %s", result.interaction_id, exc)
        return result

    async def store_in(self, tx: Tx, message: InboundMessage, events: list[AgentEvent]) -> IntakeResult:
        """Store ``message`` inside the caller's transaction ``tx``, in one round trip (``cc_ingest``).

        For channels that commit a batch of messages at once (e-mail): after the
        commit they publish ``events`` and hand created interactions to the router.
        """
        row = await tx.conn.fetchrow(
            "SELECT * FROM cc_ingest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            str(message.channel), str(message.identity_kind), message.address, message.display_name, message.queue,
            message.body, message.subject, message.dedupe_key, message.thread_key, message.join_open,
            message.interaction_id, message.priority, message.payload, message.attributes,
        )
        if row["o_duplicate"] and row["o_touchpoint_id"] is None:
            raise RuntimeError(f"dedupe key {message.dedupe_key!r} has no touchpoint")
        if row["o_agent_id"] is not None:
            events.append(AgentEvent(row["o_agent_id"], int(row["o_agent_seq"]), "message", row["o_event"]))
        arrival = None
        if row["o_created"]:
            arrival = Arrival(
                interaction_id=row["o_interaction_id"], queue=message.queue, channel=str(message.channel),
                priority=float(message.priority), customer_id=row["o_customer_id"], tier=row["o_tier"],
                arrived=float(row["o_arrived"]), last_agent_id=row["o_last_agent"],
                keep_waiting=bool((message.attributes or {}).get(KEEP_WAITING)),
            )
        return IntakeResult(row["o_interaction_id"], row["o_customer_id"], row["o_touchpoint_id"],
                            created=row["o_created"], duplicate=row["o_duplicate"], arrival=arrival)
