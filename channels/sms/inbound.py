"""A verified customer text, stored: a conversation message through intake, or a keyword handled here.

Ordinary texts go through ``Intake.receive`` (durable before the webhook is
answered, deduplicated by the gateway's message id, joining the customer's
open SMS conversation). Carrier keywords never reach an agent as a new
conversation: STOP and friends record the opt-out, START undoes it, HELP is
answered with the gateway's ``help_text`` through the outbox. Each keyword
is one transaction with its touchpoint and dedupe key; if the customer has
an open SMS conversation the touchpoint joins it, so its agent sees why
replies are refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from channels.sms.gateways import Gateway
from channels.sms.keywords import Keyword, classify
from channels.sms.parse import InboundSms
from channels.sms.store import SmsStore
from contactcenter.acd.feed import AgentFeed
from contactcenter.acd.intake import InboundMessage, Intake
from contactcenter.db import Database
from contactcenter.model import ActorKind, Channel, IdentityKind, InteractionState, TouchpointKind
from contactcenter.store import AgentEvent, Tx
from contactcenter.store.records import Touchpoint, to_json

DEDUPE_CHANNEL = str(Channel.SMS)  # the namespace Intake uses for this channel's dedupe keys


@dataclass(frozen=True, slots=True)
class InboundOutcome:
    action: str  # "routed", "opted_out", "opted_in" or "help"
    duplicate: bool
    interaction_id: uuid.UUID | None
    touchpoint_id: int | None


def dedupe_key(gateway: str, provider_id: str) -> str:
    """Gateways number their messages independently: the key is per gateway."""
    return f"{gateway}:{provider_id}"


class SmsInbound:
    def __init__(self, db: Database, feed: AgentFeed, intake: Intake, wake_sender: Callable[[], None]) -> None:
        self.db = db
        self.feed = feed
        self.intake = intake
        self.wake_sender = wake_sender

    async def receive(self, gateway: Gateway, sms: InboundSms, queue: str) -> InboundOutcome:
        """Store ``sms`` (to our number feeding ``queue``); returns once it is committed."""
        keyword = None if sms.media else classify(sms.text)
        if keyword is Keyword.HELP and gateway.help_text is None:
            keyword = None  # no automatic answer configured: a person answers instead
        if keyword is Keyword.OPT_IN:
            # START/YES only mean something to a number that opted out; otherwise "yes" answers an agent.
            async with self.db.connection() as tx:
                if not await SmsStore(tx.conn).opted_out(gateway.name, sms.sender):
                    keyword = None
        if keyword is None:
            return await self._conversation(gateway, sms, queue)
        events: list[AgentEvent] = []
        async with self.db.transaction() as tx:
            outcome = await self._keyword(tx, gateway, sms, keyword, events)
        self.feed.publish(events)
        if outcome.action == "help" and not outcome.duplicate:
            self.wake_sender()
        return outcome

    async def _conversation(self, gateway: Gateway, sms: InboundSms, queue: str) -> InboundOutcome:
        payload: dict[str, object] = {"sms_gateway": gateway.name, "sms_to": sms.recipient,
                                      "provider_id": sms.provider_id}
        if sms.media:
            payload["media"] = sms.media_json()
        result = await self.intake.receive(InboundMessage(
            channel=Channel.SMS,
            identity_kind=IdentityKind.PHONE,
            address=sms.sender,
            queue=queue,
            body=sms.text,
            dedupe_key=dedupe_key(gateway.name, sms.provider_id),
            join_open=True,
            payload=payload,
            attributes={"sms_gateway": gateway.name, "sms_number": sms.recipient},
        ))
        return InboundOutcome("routed", result.duplicate, result.interaction_id, result.touchpoint_id)

    async def _keyword(
        self, tx: Tx, gateway: Gateway, sms: InboundSms, keyword: Keyword, events: list[AgentEvent]
    ) -> InboundOutcome:
        action = {Keyword.OPT_OUT: "opted_out", Keyword.OPT_IN: "opted_in", Keyword.HELP: "help"}[keyword]
        key = dedupe_key(gateway.name, sms.provider_id)
        if not await tx.dedupe.claim(DEDUPE_CHANNEL, key):
            return InboundOutcome(action, True, None, None)
        customer, _ = await tx.customers.find_or_create(str(IdentityKind.PHONE), sms.sender)
        interaction = await tx.interactions.open_for_customer(str(Channel.SMS), customer.id)
        interaction_id = None if interaction is None else interaction.id
        route = {"sms_gateway": gateway.name, "sms_to": sms.recipient, "provider_id": sms.provider_id,
                 "sms_keyword": str(keyword)}
        written: list[Touchpoint] = []
        if keyword is Keyword.HELP:
            assert gateway.help_text is not None  # checked by the caller
            written.append(await tx.touchpoints.append(
                customer_id=customer.id, interaction_id=interaction_id, kind=TouchpointKind.INBOUND_MESSAGE,
                channel=Channel.SMS, actor_kind=ActorKind.CUSTOMER, actor_id=sms.sender, body=sms.text,
                payload=route))
            reply = await tx.touchpoints.append(
                customer_id=customer.id, interaction_id=interaction_id, kind=TouchpointKind.OUTBOUND_MESSAGE,
                channel=Channel.SMS, actor_kind=ActorKind.SYSTEM, body=gateway.help_text,
                payload={"sms_auto_reply": "help"})
            written.append(reply)
            await tx.outbox.enqueue(
                str(Channel.SMS),
                {"text": gateway.help_text, "gateway": gateway.name, "from": sms.recipient, "to": sms.sender,
                 "auto": "help"},
                interaction_id=interaction_id, touchpoint_id=reply.id)
        else:
            opted_out = keyword is Keyword.OPT_OUT
            await SmsStore(tx.conn).set_opt_out(gateway.name, sms.sender, opted_out=opted_out, keyword=sms.text)
            written.append(await tx.touchpoints.append(
                customer_id=customer.id, interaction_id=interaction_id, kind=TouchpointKind.STATE_CHANGE,
                channel=Channel.SMS, actor_kind=ActorKind.CUSTOMER, actor_id=sms.sender, body=sms.text,
                payload={**route, "sms_opt_out": opted_out}))
        await tx.dedupe.link(DEDUPE_CHANNEL, key, written[0].id)
        if interaction is not None and interaction.agent_id is not None and interaction.state in (
            InteractionState.ASSIGNED, InteractionState.WRAP_UP
        ):
            for touchpoint in written:
                events.append(await tx.agent_events.append(
                    interaction.agent_id, "message",
                    {"interaction_id": str(interaction.id), "touchpoint": to_json(touchpoint)}))
        return InboundOutcome(action, False, interaction_id, written[0].id)
