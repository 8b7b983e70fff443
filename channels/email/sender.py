"""Deliver e-mail outbox rows over SMTP: agent replies, auto-acks, transcripts and other new messages.

``EmailSender.deliver`` is the ``OutboxWorker`` callback. Before anything goes
on the wire the row's Message-ID is pinned in its payload and recorded for
threading, in a committed transaction: if the process dies after the server
accepted the message but before the row was marked sent, the retry sends the
same Message-ID, so the customer's client shows one message and a reply to
either copy threads correctly.

What the row holds decides what is built (``OutboundBuilder``): ``{"text"}``
(an agent's reply) answers the interaction's newest inbound message;
``{"kind": "auto_ack", "parent"}`` is the automatic acknowledgement;
``{"to", "subject", "text"}`` (a chat transcript, an offline-form answer, any
``kind``) starts a new thread.

Outcomes: connection failures, timeouts, 4xx answers and authentication
failures (a configuration problem, not the message's) are retried; a 5xx
answer fails the row and the agent sees a ``delivery`` event.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.utils import getaddresses, make_msgid

import aiosmtplib

from channels.email.compose import OUTBOUND_POLICY
from channels.email.outbound import OutboundBuilder
from channels.email.store import EmailStore, IdRow
from contactcenter.config.schema_channels import Mailbox
from contactcenter.db import Database, StoreError
from contactcenter.outbox_worker import PermanentDeliveryError, TransientDeliveryError
from contactcenter.store import OutboxItem

DEFAULT_RETRY_BASE_S = 2.0  # first retry delay; doubles with jitter up to 5 minutes
DEFAULT_SMTP_TIMEOUT_S = 60.0


class EmailSender:
    def __init__(self, db: Database, mailboxes: Sequence[Mailbox], *, timeout: float = DEFAULT_SMTP_TIMEOUT_S,
                 tls_context: ssl.SSLContext | None = None, clock: Callable[[], datetime] | None = None) -> None:
        self.db = db
        self.builder = OutboundBuilder(mailboxes)
        self.timeout = timeout
        self.tls_context = tls_context
        self.clock = clock or (lambda: datetime.now(UTC))

    async def deliver(self, item: OutboxItem) -> dict[str, object]:
        try:
            async with self.db.transaction() as tx:
                plan = await self.builder.plan(tx, item)
                domain = plan.mailbox.address.rpartition("@")[2]
                store = EmailStore(tx.conn)
                message_id = await store.pin_message_id(item.id, make_msgid(domain=domain))
                await store.remember_ids([IdRow(message_id, plan.mailbox.name, "out",
                                                plan.interaction_id, item.touchpoint_id, item.id)])
        except StoreError as exc:
            raise TransientDeliveryError(f"database: {exc}") from exc
        message = self.builder.build(plan, message_id=message_id, now=self.clock())
        recipients = [address for _, address in getaddresses([*message.get_all("To", []),
                                                              *message.get_all("Cc", [])]) if address]
        if not recipients:
            raise PermanentDeliveryError("the message has no recipient")
        refused, response = await self._send(plan.mailbox, message.as_bytes(policy=OUTBOUND_POLICY), recipients)
        receipt: dict[str, object] = {"message_id": message_id, "smtp_response": response[:500]}
        if refused:
            receipt["refused"] = {rcpt: f"{answer.code} {answer.message}"[:300] for rcpt, answer in refused.items()}
        return receipt

    async def _send(self, mailbox: Mailbox, raw: bytes,
                    recipients: list[str]) -> tuple[dict[str, aiosmtplib.SMTPResponse], str]:
        smtp = mailbox.smtp
        try:
            refused, response = await aiosmtplib.send(
                raw, sender=mailbox.address, recipients=recipients, hostname=smtp.host, port=smtp.port,
                username=smtp.user, password=smtp.password, use_tls=smtp.tls == "implicit",
                start_tls=smtp.tls == "starttls", tls_context=self.tls_context, timeout=self.timeout,
                local_hostname=mailbox.address.rpartition("@")[2])
        except Exception as exc:
            raise classify_smtp_error(exc) from exc
        return dict(refused), response


def classify_smtp_error(exc: BaseException) -> Exception:
    """Map an aiosmtplib / socket failure to a retry (transient) or a failure the agent sees (permanent)."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [refused.code for refused in exc.recipients]
        text = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)[:500]
        if codes and all(500 <= code < 600 for code in codes):
            return PermanentDeliveryError(f"recipients refused: {text}")
        return TransientDeliveryError(f"recipients deferred: {text}")
    if isinstance(exc, aiosmtplib.SMTPConnectError | aiosmtplib.SMTPAuthenticationError):
        return TransientDeliveryError(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        text = f"SMTP {exc.code} {exc.message}"[:500]
        return PermanentDeliveryError(text) if 500 <= exc.code < 600 else TransientDeliveryError(text)
    if isinstance(exc, aiosmtplib.SMTPException | OSError | TimeoutError | ssl.SSLError):
        return TransientDeliveryError(f"{type(exc).__name__}: {exc}".rstrip(": "))
    if isinstance(exc, PermanentDeliveryError | TransientDeliveryError):
        return exc
    return TransientDeliveryError(f"unexpected {type(exc).__name__}: {exc}")
