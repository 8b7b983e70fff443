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
answer fails the row and the agent sees a ``delivery`` event. When the relay
accepts some recipients and refuses others, the accepted ones are recorded in
the row's ``delivered_to`` and left out of later envelopes: a 4xx refusal is
retried for the rest, 5xx-only refusals fail the row naming who got it.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.utils import getaddresses, make_msgid
from typing import NoReturn

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
        recipients = list(dict.fromkeys(address for _, address in getaddresses([*message.get_all("To", []),
                                                                               *message.get_all("Cc", [])])
                                        if address))
        if not recipients:
            raise PermanentDeliveryError("the message has no recipient")
        delivered = [str(address) for address in item.payload.get("delivered_to") or ()]
        pending = [address for address in recipients if address not in delivered]
        if not pending:  # earlier attempts reached everyone (the recipients changed since): nothing to send
            return {"message_id": message_id}
        refused, response = await self._send(plan.mailbox, message.as_bytes(policy=OUTBOUND_POLICY), pending)
        if refused:
            await self._partly_delivered(item, delivered, [address for address in pending if address not in refused],
                                         refused)
        return {"message_id": message_id, "smtp_response": response[:500]}

    async def _partly_delivered(self, item: OutboxItem, delivered: list[str], accepted: list[str],
                                refused: dict[str, aiosmtplib.SMTPResponse]) -> NoReturn:
        """Record who has the message now, then raise: a retry for 4xx refusals, a failure for 5xx only.

        aiosmtplib raises only when *every* recipient is refused; otherwise the message goes to the
        accepted ones and the refusals come back as a value. A 4xx (greylisting) is temporary, so
        the row is retried, with an envelope of only the recipients who do not have the message yet
        (To/Cc still name everyone: it is the same message, same Message-ID). The accepted ones are
        committed to the row's payload *before* raising, so neither the retry nor a crash right
        after this sends them a second copy. When every refusal is a 5xx nothing will change, and
        the agent is told who got the message and who refused it, and why.
        """
        deferred = {address: answer for address, answer in refused.items() if not 500 <= answer.code < 600}
        permanent = {address: answer for address, answer in refused.items() if address not in deferred}
        if accepted:
            try:
                async with self.db.transaction() as tx:
                    await EmailStore(tx.conn).add_delivered(item.id, accepted)
            except StoreError as exc:
                if deferred:  # the retry resends to them too (same Message-ID); failing would lose the rest
                    raise TransientDeliveryError(f"recipients deferred: {_refusals(deferred)}; could not record "
                                                 f"the delivery to {', '.join(accepted)}: {exc}"[:1000]) from exc
                # all refusals are 5xx: the row fails and nothing is resent, recorded or not
        if deferred:
            also = f"; refused: {_refusals(permanent)}" if permanent else ""
            raise TransientDeliveryError(f"recipients deferred: {_refusals(deferred)}{also}"[:1000])
        have = [*delivered, *accepted]
        got = f"delivered to {', '.join(have)}; " if have else ""
        raise PermanentDeliveryError(f"{got}refused by {_refusals(permanent)}"[:1000])

    async def _send(self, mailbox: Mailbox, raw: bytes,
                    recipients: list[str]) -> tuple[dict[str, aiosmtplib.SMTPResponse], str]:
        """(refused recipients with their answers, the server's answer to DATA) for one SMTP transaction.

        Every recipient refused is returned the same way as some refused (with no DATA answer), so
        ``deliver`` can tell the agent who got the message on an earlier attempt.
        """
        smtp = mailbox.smtp
        try:
            refused, response = await aiosmtplib.send(
                raw, sender=mailbox.address, recipients=recipients, hostname=smtp.host, port=smtp.port,
                username=smtp.user, password=smtp.password, use_tls=smtp.tls == "implicit",
                start_tls=smtp.tls == "starttls", tls_context=self.tls_context, timeout=self.timeout,
                local_hostname=mailbox.address.rpartition("@")[2])
        except aiosmtplib.SMTPRecipientsRefused as exc:
            return {r.recipient: aiosmtplib.SMTPResponse(r.code, r.message) for r in exc.recipients}, ""
        except Exception as exc:
            raise classify_smtp_error(exc) from exc
        return dict(refused), response


def _refusals(refused: dict[str, aiosmtplib.SMTPResponse]) -> str:
    """``address (code text)`` per refused recipient, each answer cut short: this text reaches the agent."""
    return "; ".join(f"{address} ({answer.code} {answer.message[:200]})" for address, answer in refused.items())


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
