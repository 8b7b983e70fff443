"""The call desk: SIP events become contact-center work, routing outcomes become SIP answers.

A call's life here: ``CallArrived`` → filed by the batch writer (customer,
interaction, touchpoint, Call-ID claimed) → ``182 Queued`` once that has
committed → handed to the router. Then exactly one of:

* an agent accepts (listener ``assigned``) → ``302`` to the agent's registered
  softphone, else the agent's static ``sip_uri``; with neither, ``480`` and
  the interaction is ended (wrap-up) with an ``unreachable`` call event the
  agent sees, because a call that never reached a phone cannot be held;
* nobody takes it within the queue's ``max_wait`` (no-agent handler) →
  ``302`` to the voicemail URI, or a callback interaction (queued in the
  queue's ``callback_queue``, else in the call's own queue) then ``480``, or
  just ``480``;
* the caller hangs up (``CallCancelled``: CANCEL or a BYE in the early
  dialog; or the endpoint gives up) → the interaction is abandoned, with a
  ``cancelled`` call event. A call that left before its commit is never
  handed to the router (an agent would be offered a dead call).

Every reaction runs as a guarded task; a failure is logged and counted and
never reaches the SIP loop. Races (the caller hangs up while an agent
accepts) are settled by the router: abandoning an assigned call is refused,
and the desk ends it instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any

import routing as r
from channels.voice.arrivals import NewCall, StoredCall
from channels.voice.numbering import Caller, call_body, callback_body, caller_of, db_key, db_text, queue_for
from channels.voice.shell import SipShell
from channels.voice.sip import CallArrived, CallCancelled, CallCompleted, Registered, SipEvent, Unregistered
from channels.voice.store import CALLBACK_KEY_PREFIX, VoiceStore, call_key
from channels.voice.writer import BatchWriter
from contactcenter.acd.intake import InboundMessage
from contactcenter.channel_context import ChannelContext
from contactcenter.config.schema_channels import Sip
from contactcenter.model import STANDARD_TIER, ActorKind, Channel

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Call:
    key: str
    call_id: str
    queue: str
    caller: Caller
    dialled: str
    arrived: float  # shell clock
    interaction_id: uuid.UUID | None = None
    answered: bool = False  # we have decided the final answer
    gone: bool = False  # the caller left or the transaction is over
    handed: bool = False  # handed to the router (a call gone before its commit never is)
    routed: asyncio.Event = field(default_factory=asyncio.Event)  # filed and handed on (or failed, or gone)


@dataclass(slots=True)
class DeskCounters:
    rejected_unknown_number: int = 0
    rejected_unauthorised: int = 0
    rejected_merged: int = 0
    rejected_seen_before: int = 0
    rejected_store_failed: int = 0
    queued: int = 0
    redirected_to_agent: int = 0
    agent_unreachable: int = 0
    voicemail: int = 0
    callbacks: int = 0
    no_agent_480: int = 0
    cancelled: int = 0
    gave_up: int = 0
    unacknowledged: int = 0
    reaction_errors: int = 0


class CallDesk:
    def __init__(self, context: ChannelContext, sip: Sip, store: VoiceStore) -> None:
        self.ctx = context
        self.sip = sip
        self.store = store
        self.region = context.settings.server.default_phone_region
        self.numbers = {entry.number: entry.queue for entry in sip.numbers}
        self.gateway_users = frozenset(g.username for g in sip.gateways if g.username)
        self.counters = DeskCounters()
        self.writer = BatchWriter(context.db, self._filed)
        self.shell: SipShell | None = None
        self._calls: dict[str, _Call] = {}  # live SIP calls by the endpoint's call key
        self._by_call_id: dict[str, _Call] = {}
        self._by_interaction: dict[uuid.UUID, _Call] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def attach(self, shell: SipShell) -> None:
        self.shell = shell

    @property
    def waiting(self) -> int:
        return len(self._calls)

    # -- SIP events (synchronous: called by the shell between endpoint calls) -------------------

    def on_events(self, events: list[SipEvent]) -> None:
        for event in events:
            try:
                match event:
                    case CallArrived():
                        self._arrived(event)
                    case CallCancelled(call_key=key):
                        self._left(key, "cancelled")
                    case CallCompleted(call_key=key, acknowledged=acknowledged):
                        self.counters.unacknowledged += not acknowledged
                        self._left(key, "gave_up")
                    case Registered(user=user, contact=contact, expires=expires):
                        self.writer.registration(user, contact, expires)
                    case Unregistered(user=user, contact=contact):
                        self.writer.registration(user, contact, None)
            except Exception:
                self.counters.reaction_errors += 1
                log.exception("voice: failed on %r", event)

    def _arrived(self, event: CallArrived) -> None:
        if event.user is not None and event.user not in self.gateway_users:
            self.counters.rejected_unauthorised += 1  # an agent's softphone credentials do not admit calls
            self._reject(event.call_key, 403)
            return
        queue = queue_for(event.dialled, self.numbers, self.region)
        if queue is None:
            self.counters.rejected_unknown_number += 1
            self._reject(event.call_key, 404)
            return
        if event.call_id in self._by_call_id:  # same Call-ID, new transaction: a merged or looped request
            self.counters.rejected_merged += 1
            self._reject(event.call_key, 482)
            return
        caller = caller_of(event.caller, event.caller_uri, event.caller_display, event.call_id, self.region)
        call = _Call(event.call_key, event.call_id, queue, caller, event.dialled or "", self._shell().now())
        self._calls[call.key] = call
        self._by_call_id[call.call_id] = call
        attributes = {"call_id": db_text(call.call_id), "caller": caller.number or caller.address,
                      "dialled": db_text(call.dialled, 64)}
        self.writer.add_call(call, NewCall(
            dedupe_key=call_key(call.call_id), identity_kind=str(caller.kind), address=caller.address,
            display_name=caller.display_name, queue=queue, body=call_body(caller), attributes=attributes,
        ))

    def _left(self, key: str, why: str) -> None:
        """The SIP side of the call is over; abandon the interaction unless we answered it."""
        call = self._calls.pop(key, None)
        if call is None:
            return
        call.gone = True
        self._by_call_id.pop(call.call_id, None)
        if call.interaction_id is not None:
            self._by_interaction.pop(call.interaction_id, None)
        if why == "cancelled" or not call.answered:
            setattr(self.counters, why, getattr(self.counters, why) + 1)
            self._spawn(self._abandon(call, why))

    # -- after the batch commit ----------------------------------------------------------------

    def _filed(self, tags: Sequence[object], stored: Sequence[StoredCall | None]) -> None:
        shell = self._shell()
        to_route: list[tuple[_Call, StoredCall]] = []
        queued: list[str] = []
        for tag, result in zip(tags, stored, strict=True):
            call: _Call = tag  # type: ignore[assignment]
            if result is None or not result.created:
                # not durable (database trouble), or this Call-ID was filed before a restart
                if result is None:
                    self.counters.rejected_store_failed += 1
                else:
                    self.counters.rejected_seen_before += 1
                call.routed.set()
                if not call.gone:
                    call.answered = True
                    self._reject(call.key, 503 if result is None else 480)
                continue
            call.interaction_id = result.interaction_id
            if call.gone:
                # the caller hung up before the commit: routing it would offer an agent a dead call.
                # ``_abandon`` (spawned when it left) closes it in the store instead.
                call.routed.set()
                continue
            call.handed = True
            to_route.append((call, result))
            self._by_interaction[result.interaction_id] = call
            queued.append(call.key)
        if queued:
            endpoint = shell.endpoint
            self.counters.queued += sum(shell.command(lambda now: [endpoint.mark_queued(k, now) for k in queued]))
        if to_route:
            self._spawn(self._route(to_route))

    async def _route(self, calls: list[tuple[_Call, StoredCall]]) -> None:
        router = self.ctx.router
        tiers = router.config.tier_weights

        async def one(call: _Call, result: StoredCall) -> None:
            last = None if result.last_agent_id is None else str(result.last_agent_id)
            tier = result.tier if result.tier in tiers else STANDARD_TIER
            try:
                await router.submit(lambda at: r.InteractionArrived(
                    at=at, interaction_id=str(result.interaction_id), queue=call.queue, channel=r.Channel.VOICE,
                    tier=tier, arrived_at=min(result.arrived_at, at), customer_id=str(result.customer_id),
                    last_agent_id=last))
            except Exception as exc:  # stored is what counts: the router's rebuild queues it from the store
                # (a duplicate means a rebuild after a failed batch already queued it: routed all the same)
                if not (isinstance(exc, r.RoutingError) and exc.code == r.ErrorCode.DUPLICATE_INTERACTION):
                    log.warning("voice interaction %s stored but not yet routed: %s", result.interaction_id, exc)
            finally:
                call.routed.set()

        await asyncio.gather(*(one(call, result) for call, result in calls))

    async def _abandon(self, call: _Call, why: str) -> None:
        """Record the call event, then close the interaction; the close must happen even if the record fails,
        or the router keeps a caller who has gone in the queue and offers the dead call to an agent."""
        await call.routed.wait()
        iid = call.interaction_id
        if iid is None:
            return
        waited = round(self._shell().now() - call.arrived, 3)
        actor = ActorKind.CUSTOMER if why == "cancelled" else ActorKind.SYSTEM
        try:
            await self.writer.touchpoint(iid, why, actor, {"call_id": db_text(call.call_id), "waited_s": waited})
        except Exception as exc:  # only the record is lost; the router must still hear the caller has gone
            log.warning("voice: %s call event for interaction %s not written: %s", why, iid, exc)
        try:
            await self.ctx.router.submit(
                lambda at: r.InteractionAbandoned(at=at, interaction_id=str(iid)), waited_s=waited)
        except r.RoutingError as exc:
            if not call.handed and exc.code == r.ErrorCode.UNKNOWN_INTERACTION:
                # never routed (gone before its commit): nothing but the store knows it, so close it there
                await self.store.abandon_unrouted(iid, waited)
            else:
                await self._end(iid)  # an agent took it meanwhile, or it is already closed

    async def _end(self, iid: uuid.UUID) -> None:
        """End a call an agent holds (so wrap-up follows); nothing if it is not assigned."""
        with contextlib.suppress(r.RoutingError):
            await self.ctx.router.submit(lambda at: r.InteractionEnded(at=at, interaction_id=str(iid)))

    # -- routing outcomes (after the router's commit) -------------------------------------------

    async def on_change(self, change: str, iid: uuid.UUID, details: dict[str, Any]) -> None:
        """Channel listener: only ``assigned`` concerns a call still waiting here."""
        if change == "assigned":
            await self._guarded(self._assigned(iid, uuid.UUID(str(details["agent_id"]))))

    async def _assigned(self, iid: uuid.UUID, agent_id: uuid.UUID) -> None:
        call = self._by_interaction.get(iid)
        if call is None or call.gone or call.answered:
            return  # a callback, or a call that has already left
        call.answered = True
        try:
            phone = await self.store.agent_phone(agent_id)
        except Exception:  # the caller must still get an answer: treat the agent as unreachable
            log.warning("voice: could not look up agent %s's phone", agent_id, exc_info=True)
            phone = None
        shell = self._shell()
        contact = None
        if phone is not None:
            contact = shell.endpoint.registrar.lookup(phone.login, shell.now()) or phone.sip_uri
        if contact and self._redirect(call, contact):
            self.counters.redirected_to_agent += 1
            await self.writer.touchpoint(iid, "redirected", ActorKind.SYSTEM,
                                         {"contact": db_text(contact), "agent_id": str(agent_id)})
            return
        if call.gone:
            return  # the caller hung up while we looked the phone up: the abandon path ends it
        self.counters.agent_unreachable += 1
        self._reject(call.key, 480)
        events: list[Any] = []
        async with self.ctx.db.transaction() as tx:
            notice = await VoiceStore.call_touchpoint(
                tx, iid, "unreachable", actor_kind=ActorKind.SYSTEM, notify_agent=True,
                details={"agent_id": str(agent_id), "reason": "no registered softphone and no sip_uri"
                         if not contact else f"bad contact {contact!r}"})
            if notice is not None:
                events.append(notice)
        self.ctx.feed.publish(events)
        await self._end(iid)

    async def on_no_agent(self, iid: uuid.UUID, action: str | None) -> None:
        """No-agent handler: the router has closed the interaction at the queue's max wait."""
        await self._guarded(self._no_agent(iid, action))

    async def _no_agent(self, iid: uuid.UUID, action: str | None) -> None:
        call = self._by_interaction.get(iid)
        if call is None or call.gone or call.answered:
            return  # a callback interaction that waited too long, or a call that has left
        call.answered = True
        voicemail = self.sip.voicemail_uri
        if action == "voicemail" and voicemail and self._redirect(call, voicemail):
            self.counters.voicemail += 1
            await self.writer.touchpoint(iid, "voicemail", ActorKind.SYSTEM, {"contact": voicemail})
            return
        if action == "callback" and call.caller.number:
            try:
                await self._register_callback(call)  # stored before the caller hears the end of the call
            except Exception:
                self.counters.reaction_errors += 1
                log.exception("voice: callback for call %s not stored", call.call_id)
        self.counters.no_agent_480 += 1
        self._reject(call.key, 480)

    async def _register_callback(self, call: _Call) -> None:
        number = call.caller.number
        assert number is not None
        text = callback_body(number)
        await self.ctx.intake.receive(InboundMessage(
            channel=Channel.VOICE, identity_kind=call.caller.kind, address=call.caller.address,
            queue=self._callback_queue(call.queue),
            body=text, subject=text, display_name=call.caller.display_name,
            dedupe_key=CALLBACK_KEY_PREFIX + db_key(call.call_id),
            payload={"callback": True, "number": number, "from_call_id": db_text(call.call_id)},
            # no "call_id" key: the restart cleanup closes interactions that have one
            attributes={"callback": True, "number": number, "from_call_id": db_text(call.call_id)},
        ))
        self.counters.callbacks += 1

    def _callback_queue(self, queue: str) -> str:
        """Where a callback for a call that waited in ``queue`` is queued.

        The queue's ``callback_queue`` when set: the call's own queue would
        apply its ``max_wait`` to the callback too and close it unanswered
        minutes later, with nobody left on the line to tell. Without the key,
        the call's own queue, as before the key existed.
        """
        spec = self.ctx.settings.queues.get(queue)
        return queue if spec is None or spec.callback_queue is None else spec.callback_queue

    # -- helpers -------------------------------------------------------------------------------

    def _shell(self) -> SipShell:
        assert self.shell is not None, "the desk has no SIP shell attached"
        return self.shell

    def _reject(self, key: str, status: int) -> bool:
        endpoint = self._shell().endpoint
        return self._shell().command(lambda now: endpoint.reject(key, status, now))

    def _redirect(self, call: _Call, contact: str) -> bool:
        endpoint = self._shell().endpoint
        try:
            return self._shell().command(lambda now: endpoint.redirect(call.key, contact, now))
        except ValueError:  # a malformed static sip_uri: treat the agent as unreachable
            log.warning("voice: cannot redirect to %r", contact)
            return False

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.create_task(self._guarded(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, work: Awaitable[None]) -> None:
        try:
            await work
        except Exception:
            self.counters.reaction_errors += 1
            log.exception("voice: call reaction failed")

    async def settle(self) -> None:
        """Wait until no write and no reaction is pending (tests, orderly shutdown)."""
        while True:
            await self.writer.idle()
            if not self._tasks:
                return
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def hang_up_all(self) -> int:
        """Shutting down: answer every waiting call ``503`` so the carrier can try elsewhere."""
        endpoint = self._shell().endpoint
        keys = [call.key for call in self._calls.values() if not call.answered]
        for call in self._calls.values():
            call.answered = True
        return sum(self._shell().command(lambda now: [endpoint.reject(k, 503, now) for k in keys]))

    async def close(self) -> None:
        """Cancel pending reactions (the router has stopped; the restart cleanup settles their calls)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
