"""Deliver SMS outbox rows to the gateways over HTTP, with the outbox's retries.

``SmsSender.deliver`` is the ``OutboxWorker`` callback: it works out the
route (the number the customer texted, from their latest inbound text),
refuses numbers that opted out, posts the message through one shared
``aiohttp.ClientSession`` and maps the answer: 2xx accepted, 5xx / 408 / 425 /
429 / no connection retried, any other 4xx failed with the provider's
message. The provider id is remembered right after acceptance, so delivery
receipts find the message and a retry after a crash returns the earlier
acceptance instead of texting the customer twice.

A request that went out but got no answer (a timeout, a dropped connection)
may have been accepted. The webhook gateway de-duplicates by Idempotency-Key,
so it is retried; Twilio has no such key, so the row fails with ``unknown
outcome`` and the agent checks, rather than the customer maybe getting the
text twice. Twilio's receipts (its StatusCallback names the outbox row) still
record and show the message's real fate if Twilio did take it.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from channels.sms.gateways import GatewayDirectory
from channels.sms.outbound import GatewayRequest, Refused, build_request, interpret, status_url
from channels.sms.segments import count_segments
from channels.sms.store import Route, SentMessage, SmsStore
from contactcenter.acd.feed import AgentFeed
from contactcenter.db import Database, StoreError
from contactcenter.outbox_worker import (
    Deliver,
    OutboxWorker,
    OutcomeUnknownError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from contactcenter.store import InteractionNotFound, OutboxItem, Tx

log = logging.getLogger(__name__)

DEFAULT_RETRY_BASE_S = 2.0
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=30, connect=10)
MAX_RESPONSE_BYTES = 64 * 1024
# Failures before any byte of the request is written (no connection: refused, DNS, TLS, proxy, the
# connect timeout; or a URL aiohttp cannot use): the message certainly did not go out.
_NOT_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError, aiohttp.InvalidURL)


class SmsSender:
    def __init__(self, db: Database, directory: GatewayDirectory, public_url: str | None, *,
                 timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT) -> None:
        self.db = db
        self.directory = directory
        self.public_url = public_url
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self.timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def deliver(self, item: OutboxItem) -> dict[str, object]:
        text = item.payload.get("text")
        if not isinstance(text, str) or not text:
            raise PermanentDeliveryError("the outbox row has no text to send")
        try:
            async with self.db.connection() as tx:
                store = SmsStore(tx.conn)
                earlier = await store.sent_for_outbox(item.id)
                if earlier is not None:  # accepted before; only the outcome's record was lost
                    return earlier.receipt()
                route = await self._route(tx, store, item)
                # An automatic HELP answer goes even to opted-out numbers (carriers require it).
                if "auto" not in item.payload and await store.opted_out(route.gateway, route.recipient):
                    raise PermanentDeliveryError(f"{route.recipient} has opted out of text messages (texted STOP)")
        except StoreError as exc:
            raise TransientDeliveryError(f"database: {exc}") from exc
        gateway = self.directory.get(route.gateway)
        if gateway is None:
            raise PermanentDeliveryError(f"SMS gateway {route.gateway!r} is not configured any more")
        count = count_segments(text)
        request = build_request(gateway, outbox_id=item.id, sender=route.sender, recipient=route.recipient,
                                text=text, callback=status_url(self.public_url, gateway.name, item.id))
        status, body = await self._post(request, gateway.name)
        outcome = interpret(status, body, fallback_id=f"outbox-{item.id}")
        if isinstance(outcome, Refused):
            error = TransientDeliveryError if outcome.retry else PermanentDeliveryError
            raise error(f"{gateway.name}: {outcome.message}")
        sent = SentMessage(gateway.name, outcome.provider_id, item.id, route.sender, route.recipient,
                           count.segments, str(count.encoding))
        try:
            async with self.db.transaction() as tx:
                await SmsStore(tx.conn).remember(sent)
        except StoreError as exc:  # the message is out: report it sent; only receipts will miss it
            log.warning("sms: %s accepted as %s but not remembered: %s", item.id, sent.provider_id, exc)
        return sent.receipt()

    async def _route(self, tx: Tx, store: SmsStore, item: OutboxItem) -> Route:
        payload = item.payload
        if all(isinstance(payload.get(k), str) for k in ("gateway", "from", "to")):
            return Route(payload["gateway"], payload["from"], payload["to"])
        if item.interaction_id is None:
            raise PermanentDeliveryError("the outbox row names neither a conversation nor a recipient")
        try:
            interaction = await tx.interactions.get(item.interaction_id)
        except InteractionNotFound:
            raise PermanentDeliveryError(f"interaction {item.interaction_id} does not exist") from None
        route = await store.route_for(interaction, self.directory)
        if route is None:
            raise PermanentDeliveryError(
                f"no SMS route: the customer has no phone number, or no gateway number feeds queue "
                f"{interaction.queue!r}")
        return route

    async def _post(self, request: GatewayRequest, gateway: str) -> tuple[int, bytes]:
        """POST ``request``: the answer's status and (up to 64 KiB of) its body.

        Once the status line is in, it says what became of the message: a body that then breaks
        off or times out is read as empty (a 2xx is still accepted). Without a status line, a
        failure before the request was written is transient; any later one leaves the outcome
        unknown, which is transient only for an ``idempotent`` gateway.
        """
        if self._session is None:
            raise TransientDeliveryError("the SMS sender is not started")
        status: int | None = None
        body = b""
        try:
            async with self._session.post(request.url, data=request.body, headers=request.headers,
                                          allow_redirects=False) as response:
                status = response.status
                body = await _read_at_most(response.content, MAX_RESPONSE_BYTES)
                return status, body
        except _NOT_SENT as exc:
            raise TransientDeliveryError(_describe(exc)) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            if status is not None:
                log.warning("sms %s: the answer (HTTP %d) broke off: %s; going by its status",
                            gateway, status, _describe(exc))
                return status, body
            if request.idempotent:
                raise TransientDeliveryError(_describe(exc)) from exc
            raise OutcomeUnknownError(
                f"{gateway} did not answer after the message was sent ({_describe(exc)}), so it may have "
                "reached the customer; check before sending it again") from exc


async def _read_at_most(content: aiohttp.StreamReader, limit: int) -> bytes:
    """The whole body, or its first ``limit`` bytes (one ``read(n)`` returns only what has arrived so far)."""
    body = bytearray()
    while len(body) < limit:
        chunk = await content.read(limit - len(body))
        if not chunk:
            break
        body += chunk
    return bytes(body)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".rstrip(": ")


class SmsOutboxWorker(OutboxWorker):
    """The outbox worker for ``sms``; tests shorten ``retry_base_s`` (production: 2 s doubling to 5 min)."""

    def __init__(self, db: Database, feed: AgentFeed, deliver: Deliver, *,
                 retry_base_s: float = DEFAULT_RETRY_BASE_S, retry_cap_s: float = 300.0, **options: Any) -> None:
        super().__init__(db, feed, "sms", deliver, retry_base_s=retry_base_s, retry_cap_s=retry_cap_s, **options)
