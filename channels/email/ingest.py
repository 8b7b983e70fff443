"""Store a batch of fetched messages in one transaction; the poller flags them only after it commits.

Per message, in UID order:

1. **Seen before?** The dedupe key ``mailbox:uidvalidity:uid``, or the same
   Message-ID already received by this mailbox (a refetch after a crash, or
   after UIDVALIDITY changed) → skipped, and flagged again like the rest.
2. **Threading**, strongest evidence first: In-Reply-To / References naming a
   Message-ID we sent or received, then our ``[#TOKEN]`` in the subject, which
   only counts when the sender is the interaction's customer.
3. **Kind** (``classify``): normal and malformed mail goes through ``Intake``
   (joins its open interaction, reopens a closed one within
   ``reopen_window``, or starts one, linked to an older closed one); malformed
   mail, and mail without a sender, is flagged ``review`` and kept raw.
   Auto-replies and list mail are stored as touchpoints, never offered.
   A bounce is stored the same way and records a failed delivery on the
   outbound message it reports on, which the agent sees. A delivery report
   that is not a failure (RFC 3464 ``Action: delayed``, ``delivered``,
   ``relayed``, ``expanded``) records that status instead, without telling
   the agent: a delay notice means the mail is still being retried.
4. **Acknowledgement**: a new conversation from a person gets the optional
   auto-ack, at most once per sender per period, through the outbox.

One transaction per batch keeps ingestion near the database's commit rate
rather than one fsync per message: each message goes through Intake's own
unit of work (``Intake.store_in``, the one-round-trip ``cc_ingest``) inside the
batch's transaction, where ``Intake.receive`` would commit each on its own.
If a batch fails for a reason other than the database being down, its
messages are retried one per transaction, and a message that still fails is
stored raw for review, so one bad message never blocks the mailbox.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from channels.email.classify import should_auto_ack
from channels.email.envelope import parent_fields, scrub, to_payload
from channels.email.model import MessageKind, ParsedEmail
from channels.email.parser_pool import ParserPool
from channels.email.store import AttachmentRow, EmailStore, IdRow, KnownId
from channels.email.threading_keys import make_reference_token, strip_reply_prefixes, subject_token, thread_candidates
from contactcenter.acd.arrival import Arrival
from contactcenter.acd.intake import InboundMessage
from contactcenter.channel_context import ChannelContext
from contactcenter.config.schema_channels import Mailbox
from contactcenter.db import StoreUnavailable
from contactcenter.model import OPEN_STATES, ActorKind, Channel, IdentityKind, TouchpointKind
from contactcenter.outbox_worker import record_delivery, record_delivery_status
from contactcenter.store import AgentEvent, OutboxItem, Tx
from contactcenter.store.records import Interaction

log = logging.getLogger(__name__)

EMAIL = str(Channel.EMAIL)


@dataclass(slots=True)
class BatchResult:
    """What one batch did; ``route`` lists interactions to hand to the router after the commit: a new one
    as intake's ``Arrival`` (nothing to read again), a reopened one by id."""

    stored: int = 0
    duplicates: int = 0
    unrouted: int = 0
    review: int = 0
    acks: int = 0
    route: list[Arrival | uuid.UUID] = field(default_factory=list)
    events: list[AgentEvent] = field(default_factory=list)

    def add(self, other: BatchResult) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.unrouted += other.unrouted
        self.review += other.review
        self.acks += other.acks
        self.route.extend(other.route)
        self.events.extend(other.events)


@dataclass(slots=True)
class _Batch:
    """Per-transaction working state: lookups done once, rows written once at the end."""

    tx: Tx
    store: EmailStore
    uidvalidity: int
    seen_keys: set[str]
    received: set[str]
    known: dict[str, KnownId]
    result: BatchResult = field(default_factory=BatchResult)
    inbound: dict[str, uuid.UUID | None] = field(default_factory=dict)  # Message-ID → interaction, this batch
    tokens: dict[str, uuid.UUID] = field(default_factory=dict)
    ids: list[IdRow] = field(default_factory=list)
    links: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)
    raw: list[tuple[int, str, int, int, bytes]] = field(default_factory=list)
    attachments: list[AttachmentRow] = field(default_factory=list)


class EmailIngest:
    def __init__(self, context: ChannelContext, mailbox: Mailbox, own_addresses: frozenset[str],
                 parser: ParserPool, outbox_ready: Callable[[], None] = lambda: None) -> None:
        self.context = context
        self.mailbox = mailbox
        self.own_addresses = own_addresses
        self.parser = parser
        self.outbox_ready = outbox_ready  # auto-acks were queued: wake the sender
        self.unknown_sender = f"unknown-sender@{mailbox.name.replace('_', '-')}.invalid"

    async def ingest(self, uidvalidity: int, messages: list[tuple[int, bytes]]) -> BatchResult:
        """Parse and commit ``messages`` ((uid, raw) in UID order)."""
        return await self.commit(uidvalidity, messages, await self.parse(messages))

    async def parse(self, messages: list[tuple[int, bytes]]) -> list[ParsedEmail]:
        """Parse (in the worker processes for a batch); the poller runs this for the next batch
        while the current one commits."""
        return await self.parser.parse([raw for _, raw in messages], self.mailbox.max_attachment_bytes)

    async def commit(self, uidvalidity: int, messages: list[tuple[int, bytes]],
                     parsed: list[ParsedEmail]) -> BatchResult:
        """Store the batch in one transaction; raises only when the database is unavailable."""
        items = list(zip(messages, parsed, strict=True))
        try:
            async with self.context.db.transaction() as tx:
                result = await self._store(tx, uidvalidity, items)
        except StoreUnavailable:
            raise
        except Exception as exc:  # a bad message or a bug: isolate it rather than block the mailbox
            if len(items) == 1:
                result = await self._store_unparsed(uidvalidity, *items[0][0], f"{exc}")
            else:
                log.warning("email %s: batch of %d not stored (%s); storing one by one",
                            self.mailbox.name, len(items), exc)
                result = BatchResult()
                for item in items:
                    result.add(await self.ingest_one(uidvalidity, item))
                return result
        self.context.feed.publish(result.events)
        if result.acks:
            self.outbox_ready()
        return result

    async def ingest_one(self, uidvalidity: int, item: tuple[tuple[int, bytes], ParsedEmail]) -> BatchResult:
        try:
            async with self.context.db.transaction() as tx:
                result = await self._store(tx, uidvalidity, [item])
        except StoreUnavailable:
            raise
        except Exception as exc:  # as in ingest: kept raw for review instead
            result = await self._store_unparsed(uidvalidity, *item[0], f"{exc}")
        self.context.feed.publish(result.events)
        if result.acks:
            self.outbox_ready()
        return result

    # -- the batch -----------------------------------------------------------------------------

    async def _store(self, tx: Tx, uidvalidity: int, items: list[tuple[tuple[int, bytes], ParsedEmail]]) -> BatchResult:
        store = EmailStore(tx.conn)
        keys = [self._key(uidvalidity, uid) for (uid, _), _ in items]
        seen_keys = {r[0] for r in await tx.conn.fetch(
            "SELECT external_id FROM inbound_dedupe WHERE channel = $1 AND external_id = ANY($2::text[])",
            EMAIL, keys)}
        message_ids = [p.message_id for _, p in items if p.message_id]
        candidates = {mid for _, p in items for mid in thread_candidates(p)}
        candidates |= {p.dsn.original_message_id for _, p in items if p.dsn and p.dsn.original_message_id}
        batch = _Batch(tx, store, uidvalidity, seen_keys, await store.received_ids(self.mailbox.name, message_ids),
                       await store.known_ids(sorted(candidates)))
        for (uid, raw), parsed in items:
            await self._one(batch, uid, raw, parsed)
        await store.remember_ids(batch.ids)
        await store.set_tokens([(iid, token) for token, iid in batch.tokens.items()])
        await store.link(batch.links)
        await store.save_raw(batch.raw)
        await store.save_attachments(batch.attachments)
        await store.save_state(self.mailbox.name, uidvalidity, max(uid for (uid, _), _ in items))
        return batch.result

    def _key(self, uidvalidity: int, uid: int) -> str:
        return f"{self.mailbox.name}:{uidvalidity}:{uid}"

    async def _one(self, b: _Batch, uid: int, raw: bytes, parsed: ParsedEmail) -> None:
        key = self._key(b.uidvalidity, uid)
        mid = parsed.message_id
        if key in b.seen_keys or (mid is not None and (mid in b.received or mid in b.inbound)):
            b.result.duplicates += 1
            return
        review = parsed.malformed or parsed.from_address is None
        payload = to_payload(parsed, mailbox=self.mailbox.name, uidvalidity=b.uidvalidity, uid=uid, review=review)
        if parsed.kind in (MessageKind.NORMAL, MessageKind.MALFORMED):
            touchpoint_id, interaction_id = await self._routed(b, key, parsed, payload, review)
        else:
            touchpoint_id, interaction_id = await self._unrouted(b, key, parsed, payload)
        b.result.stored += 1
        b.result.review += review
        if mid is not None:
            b.inbound[mid] = interaction_id
            b.ids.append(IdRow(mid, self.mailbox.name, "in", interaction_id, touchpoint_id))
        if parsed.malformed or parsed.problems:
            b.raw.append((touchpoint_id, self.mailbox.name, b.uidvalidity, uid, raw))
        b.attachments.extend(
            AttachmentRow(touchpoint_id, position, scrub(a.filename), a.content_type, a.size, a.sha256,
                          scrub(a.content_id), a.inline, a.data)
            for position, a in enumerate(parsed.attachments))

    async def _thread(self, b: _Batch, parsed: ParsedEmail) -> Interaction | None:
        """The interaction this message continues, by Message-IDs, then by subject token + sender."""
        for candidate in thread_candidates(parsed):
            interaction_id = b.inbound.get(candidate)
            if interaction_id is None and candidate in b.known:
                interaction_id = b.known[candidate].interaction_id
            if interaction_id is not None:
                return await b.tx.interactions.get(interaction_id, for_update=True)
        token = subject_token(parsed.subject)
        if token is None or parsed.from_address is None:
            return None
        if token in b.tokens:
            found: Interaction | None = await b.tx.interactions.get(b.tokens[token], for_update=True)
        else:
            found = await b.store.by_token(token)
        if found is not None and await b.store.customer_of(parsed.from_address) == found.customer_id:
            return found
        return None

    async def _routed(self, b: _Batch, key: str, parsed: ParsedEmail, payload: dict[str, object],
                      review: bool) -> tuple[int, uuid.UUID]:
        thread = await self._thread(b, parsed)
        target: uuid.UUID | None = None
        linked: uuid.UUID | None = None
        reopened = False
        if thread is not None:
            if thread.channel == EMAIL and thread.state in OPEN_STATES:
                target = thread.id
            elif thread.channel == EMAIL and await b.store.closed_within(thread.id, self.mailbox.reopen_window):
                await self._reopen(b.tx, b.store, thread)
                target, reopened = thread.id, True
            else:
                linked = thread.id
        attributes: dict[str, object] = {"email_mailbox": self.mailbox.name}
        if review:
            attributes["review"] = True
        message = InboundMessage(
            channel=Channel.EMAIL, identity_kind=IdentityKind.EMAIL,
            address=parsed.from_address or self.unknown_sender, queue=self.mailbox.queue,
            body=scrub(parsed.text), subject=scrub(strip_reply_prefixes(parsed.subject)) or None,
            display_name=scrub(parsed.from_name or ""), dedupe_key=key, interaction_id=target,
            payload=payload, attributes=attributes,
        )
        result = await self.context.intake.store_in(b.tx, message, b.result.events)
        if result.touchpoint_id is None:
            raise RuntimeError(f"intake stored no touchpoint for {key}")
        if result.created:
            b.tokens[make_reference_token(result.interaction_id)] = result.interaction_id
            b.result.route.append(result.arrival or result.interaction_id)
            if linked is not None:
                b.links.append((result.interaction_id, linked))
            await self._maybe_ack(b, parsed, result.interaction_id)
        elif reopened:
            b.result.route.append(result.interaction_id)
        return result.touchpoint_id, result.interaction_id

    async def _reopen(self, tx: Tx, store: EmailStore, interaction: Interaction) -> None:
        reopened = await store.reopen(interaction.id)
        await tx.touchpoints.append(
            customer_id=reopened.customer_id, interaction_id=reopened.id, kind=TouchpointKind.STATE_CHANGE,
            channel=reopened.channel, actor_kind=ActorKind.CUSTOMER, payload={"state": "queued", "reason": "reopened"})

    async def _maybe_ack(self, b: _Batch, parsed: ParsedEmail, interaction_id: uuid.UUID) -> None:
        ack = self.mailbox.auto_ack
        if not ack.enabled or parsed.from_address is None:
            return
        if not should_auto_ack(parsed, own_addresses=self.own_addresses):
            return
        if not await b.store.claim_auto_ack(self.mailbox.name, parsed.from_address, ack.period):
            return
        payload = to_payload(parsed, mailbox=self.mailbox.name, uidvalidity=b.uidvalidity, uid=0, review=False)
        await b.tx.outbox.enqueue(EMAIL, {"kind": "auto_ack", "mailbox": self.mailbox.name,
                                          "parent": parent_fields(payload)}, interaction_id=interaction_id)
        b.result.acks += 1

    async def _unrouted(self, b: _Batch, key: str, parsed: ParsedEmail,
                        payload: dict[str, object]) -> tuple[int, uuid.UUID | None]:
        """Auto-replies, list mail and bounces: a touchpoint for the record, never an offer."""
        b.result.unrouted += 1
        bounced = self._bounced(b, parsed)
        thread = None
        if bounced is not None and bounced.interaction_id is not None:
            thread = await b.tx.interactions.get(bounced.interaction_id)
        elif parsed.kind is not MessageKind.BOUNCE:
            thread = await self._thread(b, parsed)
        address = parsed.from_address or self.unknown_sender
        if thread is not None and bounced is not None:
            customer_id = thread.customer_id
        else:
            customer, _ = await b.tx.customers.find_or_create(str(IdentityKind.EMAIL), address,
                                                                display_name=scrub(parsed.from_name or ""))
            customer_id = customer.id
        await b.tx.dedupe.claim(EMAIL, key)
        touchpoint = await b.tx.touchpoints.append(
            customer_id=customer_id, interaction_id=None if thread is None else thread.id,
            kind=TouchpointKind.INBOUND_MESSAGE, channel=EMAIL, actor_kind=ActorKind.CUSTOMER, actor_id=address,
            body=scrub(parsed.text), payload={**payload, "routed": False})
        await b.tx.dedupe.link(EMAIL, key, touchpoint.id)
        if bounced is not None and bounced.outbox_id is not None:
            status = _reported_status(parsed)
            details = {"bounce": status == "failed", "bounce_touchpoint_id": touchpoint.id, **_dsn_details(parsed)}
            if status == "failed":
                item = OutboxItem(bounced.outbox_id, EMAIL, bounced.interaction_id, bounced.touchpoint_id, {}, 0)
                b.result.events.extend(await record_delivery(
                    b.tx, item, status, error=_bounce_error(parsed), details=details))
            elif bounced.interaction_id is not None:
                # Not a failure (still being retried, or delivered): recorded on the message, like an
                # SMS gateway's receipt, but no "delivery" event that would tell the agent it failed.
                await record_delivery_status(
                    b.tx, bounced.interaction_id, touchpoint_id=bounced.touchpoint_id, outbox_id=bounced.outbox_id,
                    status=status, details=details, tell_agent=False)
        return touchpoint.id, None if thread is None else thread.id

    @staticmethod
    def _bounced(b: _Batch, parsed: ParsedEmail) -> KnownId | None:
        """The outbound message a bounce reports on, if it is one of ours."""
        if parsed.kind is not MessageKind.BOUNCE or parsed.dsn is None or not parsed.dsn.original_message_id:
            return None
        known = b.known.get(parsed.dsn.original_message_id)
        return known if known is not None and known.direction == "out" else None

    async def _store_unparsed(self, uidvalidity: int, uid: int, raw: bytes, error: str) -> BatchResult:
        """Last resort for a message whose normal storage failed: raw bytes and a review flag."""
        log.error("email %s: uid %d could not be stored normally (%s); kept raw for review",
                  self.mailbox.name, uid, error)
        key = self._key(uidvalidity, uid)
        payload = {"mailbox": self.mailbox.name, "uidvalidity": uidvalidity, "uid": uid, "review": True,
                   "problems": [f"not stored normally: {error[:300]}"]}
        message = InboundMessage(
            channel=Channel.EMAIL, identity_kind=IdentityKind.EMAIL, address=self.unknown_sender,
            queue=self.mailbox.queue, body="(this message could not be read; see the raw copy)", dedupe_key=key,
            payload=scrub(payload), attributes={"email_mailbox": self.mailbox.name, "review": True})
        result = BatchResult()
        async with self.context.db.transaction() as tx:
            store = EmailStore(tx.conn)
            stored = await self.context.intake.store_in(tx, message, result.events)
            if not stored.duplicate and stored.touchpoint_id is not None:
                await store.save_raw([(stored.touchpoint_id, self.mailbox.name, uidvalidity, uid, raw)])
                result.stored, result.review = 1, 1
            else:
                result.duplicates = 1
            if stored.created:
                result.route.append(stored.arrival or stored.interaction_id)
            await store.save_state(self.mailbox.name, uidvalidity, uid)
        return result


# RFC 3464 §2.3.3 actions that are not a failure: "delayed" (still being retried), "delivered",
# "relayed" (handed to a system that sends no reports) and "expanded" (a list or alias).
_NOT_FAILED_ACTIONS = ("delayed", "delivered", "relayed", "expanded")


def _reported_status(parsed: ParsedEmail) -> str:
    """The delivery status a report on one of our messages records: ``failed`` unless it says otherwise.

    Any recipient failed, or an action we cannot read (a plain-text bounce without one, or a
    report naming nobody), counts as ``failed``, as it always has. A report whose recipients are all
    delayed (or delayed and delivered) is ``delayed``; otherwise the (first) non-failure action.
    """
    recipients = parsed.dsn.recipients if parsed.dsn is not None else ()
    actions = [recipient.action for recipient in recipients]
    if not actions or any(action not in _NOT_FAILED_ACTIONS for action in actions):
        return "failed"
    if "delayed" in actions:
        return "delayed"
    return str(actions[0])


def _dsn_details(parsed: ParsedEmail) -> dict[str, object]:
    dsn = parsed.dsn
    if dsn is None:
        return {}
    first = dsn.recipients[0] if dsn.recipients else None
    return scrub({"recipient": dsn.recipient, "action": dsn.action, "dsn_status": dsn.status,
                  "diagnostic": None if first is None else first.diagnostic})


def _bounce_error(parsed: ParsedEmail) -> str:
    details = _dsn_details(parsed)
    parts = [f"bounced by {parsed.from_address or 'the mail system'}"]
    if details.get("recipient"):
        parts.append(f"for {details['recipient']}")
    if details.get("dsn_status"):
        parts.append(f"({details['dsn_status']})")
    if details.get("diagnostic"):
        parts.append(f": {details['diagnostic']}")
    return " ".join(parts)
