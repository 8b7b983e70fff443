"""Decide what an outbox row becomes (``plan``, reads the store) and build it (``build``, pure).

Splitting the two keeps the database reads inside the transaction that pins
the Message-ID, and the composing outside it, where a bad address or text
becomes a ``PermanentDeliveryError`` the agent sees rather than a retry loop.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from channels.email.compose import compose_new, compose_reply, replace_subject
from channels.email.envelope import parent_of
from channels.email.model import ParsedEmail
from channels.email.store import EmailStore
from channels.email.threading_keys import make_reference_token, subject_token
from contactcenter.config.schema_channels import Mailbox
from contactcenter.outbox_worker import PermanentDeliveryError
from contactcenter.store import OutboxItem, Tx
from contactcenter.store.records import Interaction


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything ``build`` needs; ``kind`` is ``reply``, ``auto_ack`` or ``new``."""

    mailbox: Mailbox
    kind: str
    interaction_id: uuid.UUID | None
    text: str
    subject: str = ""
    to: tuple[str, ...] = ()
    parent: ParsedEmail | None = None
    token: str | None = None


class OutboundBuilder:
    def __init__(self, mailboxes: Sequence[Mailbox]) -> None:
        if not mailboxes:
            raise ValueError("the e-mail sender needs at least one mailbox")
        self.mailboxes = {mailbox.name: mailbox for mailbox in mailboxes}
        self.default = mailboxes[0]

    def mailbox_for(self, payload: dict[str, Any], interaction: Interaction | None) -> Mailbox:
        """The row's own mailbox, else the interaction's, else one feeding its queue, else the first."""
        for name in (payload.get("mailbox"), interaction.attributes.get("email_mailbox") if interaction else None):
            if isinstance(name, str) and name in self.mailboxes:
                return self.mailboxes[name]
        if interaction is not None:
            for mailbox in self.mailboxes.values():
                if mailbox.queue == interaction.queue:
                    return mailbox
        return self.default

    async def plan(self, tx: Tx, item: OutboxItem) -> Plan:
        payload = item.payload
        interaction = None if item.interaction_id is None else await tx.interactions.get(item.interaction_id)
        mailbox = self.mailbox_for(payload, interaction)
        iid = None if interaction is None else interaction.id
        if payload.get("kind") == "auto_ack":
            if not isinstance(payload.get("parent"), dict):
                raise PermanentDeliveryError("auto-ack row without the message it answers")
            return Plan(mailbox, "auto_ack", iid, mailbox.auto_ack.text or "", mailbox.auto_ack.subject or "",
                        parent=parent_of(payload["parent"]), token=await _token(tx, interaction))
        if "to" in payload:
            to = payload["to"]
            recipients = (to,) if isinstance(to, str) else tuple(str(address) for address in to or ())
            return Plan(mailbox, "new", iid, str(payload.get("text") or ""), str(payload.get("subject") or ""),
                        to=recipients, token=await _token(tx, interaction))
        text = payload.get("text")
        if not isinstance(text, str) or not text:
            raise PermanentDeliveryError("the outbox row has no text to send")
        if interaction is None:
            raise PermanentDeliveryError("the outbox row names neither an interaction nor a recipient")
        token = await _token(tx, interaction)
        store = EmailStore(tx.conn)
        last = await store.last_inbound(interaction.id)
        if last is not None and (last.get("reply_to") or last.get("from")):
            return Plan(mailbox, "reply", iid, text, parent=parent_of(last), token=token)
        address = await store.customer_address(interaction.customer_id)
        if address is None:
            raise PermanentDeliveryError("the customer has no e-mail address to reply to")
        return Plan(mailbox, "new", iid, text, interaction.subject or "", to=(address,), token=token)

    def build(self, plan: Plan, *, message_id: str, now: datetime) -> EmailMessage:
        mailbox = plan.mailbox
        common: dict[str, Any] = {
            "from_address": mailbox.address, "from_name": mailbox.display_name, "text": plan.text, "now": now,
            "reference_token": plan.token, "reply_to": mailbox.address, "message_id": message_id,
        }
        try:
            if plan.kind == "new":
                return compose_new(to=list(plan.to), subject=plan.subject, **common)
            assert plan.parent is not None
            message = compose_reply(plan.parent, auto_ack=plan.kind == "auto_ack", **common)
        except ValueError as exc:
            raise PermanentDeliveryError(f"cannot compose the message: {exc}") from exc
        if plan.kind == "auto_ack" and plan.subject:
            replace_subject(message, plan.subject, plan.token)  # the configured subject replaces "Re: <theirs>"
        return message


async def _token(tx: Tx, interaction: Interaction | None) -> str | None:
    """The e-mail interaction's subject token, stored as its thread key the first time it is used."""
    if interaction is None or interaction.channel != "email":
        return None
    if interaction.thread_key and subject_token(f"[#{interaction.thread_key}]") == interaction.thread_key:
        return interaction.thread_key
    token = make_reference_token(interaction.id)
    if interaction.thread_key is None:
        await tx.conn.execute("UPDATE interactions SET thread_key = $2 WHERE id = $1 AND thread_key IS NULL",
                              interaction.id, token)
    return token
