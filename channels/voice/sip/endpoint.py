"""The call-queue endpoint: SIP bytes in, application events and SIP bytes out.

Like the ``websockets`` protocol core it owns no socket and no clock.  The
I/O shell calls ``datagram_received`` for every datagram (or every message
a :class:`SipStreamFramer` cut from a stream), ``tick`` when
``next_deadline`` passes, and the call commands when the application has
decided; after each call it drains ``data_to_send()`` (send those bytes)
and ``events_received()`` (persist and act on those facts).

A call's life: INVITE → ``100 Trying`` + :class:`CallArrived` → the app's
``mark_queued`` → ``182 Queued`` every ``queued_interval`` → the app's
``redirect`` (302 to the agent or voicemail) or ``reject`` (e.g. 480) → ACK →
:class:`CallCompleted`.  A CANCEL on the way gives ``200``/``487`` and
:class:`CallCancelled`; so does a BYE in the early dialog our ``182`` set up
(§15).  Commands on a call that has already ended return False rather than
raise: the caller hanging up while the app was deciding is a race, not a bug.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from enum import StrEnum

from .auth import TrunkMatcher, authenticate
from .events import (
    CallArrived,
    CallCancelled,
    CallCompleted,
    EndpointConfig,
    Registered,
    SipCounters,
    SipEvent,
    Unregistered,
)
from .headers import parse_cseq
from .message import SipParseError, SipRequest, dialog_id, has_tag, make_response, parse_message
from .net import Address, SendData, Transport
from .registrar import Registrar
from .stateless import reply_to_unparsable, stateless_tag
from .transactions import (
    AckReceived,
    Action,
    CancelReceived,
    NewInvite,
    NewRequest,
    ServerTransactions,
    TransactionTimedOut,
    stamp_received,
)
from .uri import UriError, caller_id, dialled_number, parse_name_addr, parse_uri

ALLOW = "INVITE, ACK, CANCEL, OPTIONS, REGISTER"
_KNOWN_ELSEWHERE = frozenset({"SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE", "INFO", "UPDATE", "PRACK", "PUBLISH"})


class CallPhase(StrEnum):
    ARRIVED = "arrived"
    QUEUED = "queued"
    ANSWERED = "answered"


@dataclass(slots=True)
class _Call:
    key: str
    request: SipRequest
    to_tag: str
    phase: CallPhase
    give_up_at: float
    dialog: tuple[str, str, str]  # the early dialog a 182 sets up, for a BYE that ends it
    next_queued: float | None = None


class SipEndpoint:
    """One SIP listening point acting as the ACD's queueing UAS and as the agents' registrar."""

    def __init__(self, config: EndpointConfig) -> None:
        self.config = config
        self.counters = SipCounters()
        self.registrar = Registrar(
            min_expires=config.min_expires,
            max_expires=config.max_expires,
            default_expires=config.default_expires,
        )
        self._tx = ServerTransactions(tag_secret=config.tag_secret, t1=config.t1, t2=config.t2, t4=config.t4)
        self._calls: dict[str, _Call] = {}
        self._dialogs: dict[tuple[str, str, str], str] = {}  # dialog ID → call key
        self._timers: list[tuple[float, int, str]] = []
        self._seq = 0
        self._out: list[SendData] = []
        self._events: list[SipEvent] = []
        self._server = (("Server", config.server_name),) if config.server_name else ()
        self._trunks = TrunkMatcher(config.trunks)

    # ---- outputs -------------------------------------------------------------------------------

    def data_to_send(self) -> list[SendData]:
        """Everything to send since the last call, in order; the buffer is emptied."""
        out, self._out = self._out, []
        return out

    def events_received(self) -> list[SipEvent]:
        """Events for the application since the last call, in order; the buffer is emptied."""
        events, self._events = self._events, []
        return events

    @property
    def active_calls(self) -> int:
        return len(self._calls)

    @property
    def retransmissions_absorbed(self) -> int:
        return self._tx.retransmissions_absorbed

    # ---- inputs --------------------------------------------------------------------------------

    def datagram_received(self, data: bytes, source: Address, now: float, transport: Transport = Transport.UDP) -> None:
        """Handle one datagram or one framed stream message from ``source``.  Never raises on input."""
        self.counters.received += 1
        try:
            message = parse_message(data, max_size=self.config.max_message_size)
        except SipParseError as exc:
            if exc.status_hint is None and exc.reason == "empty message":
                self.counters.keepalives += 1
            else:
                self.counters.malformed += 1
                reply = reply_to_unparsable(exc, source, transport, self.config.tag_secret, self._server)
                if reply is not None:
                    self.counters.malformed_answered += 1
                    self._out.append(reply)
            return
        if not isinstance(message, SipRequest):
            self.counters.responses_ignored += 1  # we send no requests, so no response is ours
            return
        request = stamp_received(message, source)
        self._apply(self._tx.receive(request, source, now, transport), now)

    def tick(self, now: float) -> None:
        """Run due timers: transaction retransmissions, repeated 182s, queue give-ups, lapsed bindings."""
        self._apply(self._tx.tick(now), now)
        timers = self._timers
        while timers and timers[0][0] <= now:
            when, _, key = heapq.heappop(timers)
            call = self._calls.get(key)
            if call is None:
                continue
            if call.phase is not CallPhase.ANSWERED and when == call.give_up_at:
                self._finish(call, 480, now, ())
            elif call.phase is CallPhase.QUEUED and when == call.next_queued:
                self._send_queued(call, now)
        expiry = self.registrar.next_expiry()
        if expiry is not None and expiry <= now:
            for binding in self.registrar.expire(now):
                self._events.append(Unregistered(binding.user, binding.contact))

    def next_deadline(self) -> float | None:
        """When ``tick`` must next run, or None when nothing is pending."""
        timers = self._timers
        while timers and not self._timer_live(timers[0]):
            heapq.heappop(timers)
        candidates = [t for t in (self._tx.next_deadline(), self.registrar.next_expiry()) if t is not None]
        if timers:
            candidates.append(timers[0][0])
        return min(candidates, default=None)

    # ---- commands from the application ---------------------------------------------------------

    def mark_queued(self, call_key: str, now: float) -> bool:
        """The call is in a queue: send ``182 Queued`` now and every ``queued_interval``."""
        call = self._calls.get(call_key)
        if call is None or call.phase is CallPhase.ANSWERED:
            return False
        call.phase = CallPhase.QUEUED
        self._send_queued(call, now)
        return True

    def redirect(self, call_key: str, contact_uri: str, now: float) -> bool:
        """Answer ``302 Moved Temporarily`` pointing at ``contact_uri`` (an agent or voicemail)."""
        parse_uri(contact_uri)  # a bad URI here is the application's bug: raise UriError
        return self._command(call_key, 302, now, (("Contact", f"<{contact_uri}>"),))

    def reject(self, call_key: str, status: int, now: float) -> bool:
        """Answer with a final 3xx-6xx without a Contact (480 when no agent and no voicemail)."""
        if not 300 <= status <= 699 or status == 302:
            raise ValueError(f"reject needs a 3xx-6xx status other than 302, got {status}")
        return self._command(call_key, status, now, ())

    def redirect_to_agent(self, call_key: str, user: str, now: float) -> bool:
        """Redirect to ``user``'s registered softphone; False when not registered or the call ended."""
        contact = self.registrar.lookup(user, now)
        return contact is not None and self.redirect(call_key, contact, now)

    # ---- internals: dispatch -------------------------------------------------------------------

    def _apply(self, actions: list[Action], now: float) -> None:
        for action in actions:
            if isinstance(action, SendData):
                self._out.append(action)
            elif isinstance(action, NewInvite):
                self._on_invite(action, now)
            elif isinstance(action, NewRequest):
                self._on_request(action, now)
            elif isinstance(action, CancelReceived):
                call = self._drop(action.call_key)
                if call is not None:
                    self._respond(call.key, call.request, 487, now, to_tag=call.to_tag)
                    self.counters.calls_cancelled += 1
                    self._events.append(CallCancelled(call.key))
            elif isinstance(action, AckReceived | TransactionTimedOut):
                acknowledged = isinstance(action, AckReceived)
                if self._drop(action.call_key) is not None:
                    self.counters.calls_completed += 1
                    self.counters.calls_timed_out += not acknowledged
                    self._events.append(CallCompleted(action.call_key, action.status, acknowledged))

    def _on_invite(self, new: NewInvite, now: float) -> None:
        request, key, tag = new.request, new.call_key, new.to_tag
        to_addr = request.headers.get("to") or ""
        if has_tag(to_addr):
            self._respond(key, request, 481, now, to_tag=tag)  # no dialogs live here
            return
        if self._bad_extension(key, request, now, tag):
            return
        trunk = self._trunks.match(new.source)
        user: str | None = None
        if trunk is None:
            user = self._authenticate(key, request, now, tag, proxy=True)
            if user is None:
                return
        if len(self._calls) >= self.config.max_calls:
            self.counters.overloaded += 1
            self._respond(key, request, 503, now, to_tag=tag, extra=(("Retry-After", "5"),))
            return
        headers = request.headers
        asserted = headers.get_all("p-asserted-identity") if trunk is not None else None
        who = caller_id(headers.get("from"), asserted)
        self._respond(key, request, 100, now)
        dialog = dialog_id(request, tag)
        call = _Call(key, request, tag, CallPhase.ARRIVED, now + self.config.max_queue_seconds, dialog)
        self._calls[key] = call
        self._dialogs[dialog] = key
        self._push(call.give_up_at, key)
        self.counters.calls_arrived += 1
        self._events.append(
            CallArrived(
                key,
                headers.get("call-id") or "",
                dialled_number(request.uri, to_addr),
                who.number,
                who.display,
                new.source,
                new.transport,
                trunk.name if trunk else None,
                user,
                who.uri,
            )
        )

    def _on_request(self, new: NewRequest, now: float) -> None:
        request, key = new.request, new.tx_key
        method = request.method
        if method == "REGISTER":
            self._on_register(key, request, now)
            return
        tag = stateless_tag(request, self.config.tag_secret)
        if method == "OPTIONS":
            allow: tuple[tuple[str, str], ...] = (("Allow", ALLOW), ("Accept", "application/sdp"))
            self._respond(key, request, 200, now, to_tag=tag, extra=allow)
        elif method == "BYE":
            self._on_bye(key, request, now, tag)
        else:
            status = 405 if method in _KNOWN_ELSEWHERE else 501
            self._respond(key, request, status, now, to_tag=tag, extra=(("Allow", ALLOW),))

    def _on_bye(self, key: str, request: SipRequest, now: float, tag: str) -> None:
        """End the queued call whose early dialog (§15) the BYE names, as a CANCEL does, or it stays queued.

        §15.1.2: 200 for the BYE, 487 for the INVITE. Only a 182 makes a dialog (our 100 has no tag): else 481."""
        call = self._calls.get(self._dialogs.get(dialog_id(request), ""))
        if call is None or call.phase is not CallPhase.QUEUED:
            self._respond(key, request, 481, now, to_tag=tag)
            return
        self._drop(call.key)
        self._respond(key, request, 200, now)
        self._respond(call.key, call.request, 487, now, to_tag=call.to_tag)
        self.counters.calls_cancelled += 1
        self._events.append(CallCancelled(call.key))

    def _on_register(self, key: str, request: SipRequest, now: float) -> None:
        tag = stateless_tag(request, self.config.tag_secret)
        if self._bad_extension(key, request, now, tag):
            return
        try:
            aor_user = parse_uri(parse_name_addr(request.headers.get("to") or "").uri).user
        except UriError:
            aor_user = None
        if not aor_user:
            self._respond(key, request, 400, now, reason="Bad To", to_tag=tag)
            return
        user = self._authenticate(key, request, now, tag, proxy=False)
        if user is None:
            return
        if user != aor_user:
            self.counters.forbidden += 1
            self._respond(key, request, 403, now, to_tag=tag)
            return
        headers = request.headers
        cseq, _ = parse_cseq(headers.get("cseq") or "")
        outcome = self.registrar.register(
            aor_user,
            headers.get_list("contact"),
            headers.get("expires"),
            headers.get("call-id") or "",
            cseq,
            now,
        )
        extra: list[tuple[str, str]] = []
        if outcome.min_expires is not None:
            extra.append(("Min-Expires", str(outcome.min_expires)))
        extra.extend(("Contact", f"<{b.contact}>;expires={b.expires_in(now)}") for b in outcome.bindings)
        self._respond(key, request, outcome.status, now, reason=outcome.reason, to_tag=tag, extra=extra)
        for binding in outcome.removed:
            self._events.append(Unregistered(binding.user, binding.contact))
        for binding in outcome.added:
            self._events.append(Registered(binding.user, binding.contact, binding.expires_in(now)))

    # ---- internals: helpers --------------------------------------------------------------------

    def _authenticate(self, key: str, request: SipRequest, now: float, tag: str, *, proxy: bool) -> str | None:
        """The digest user, or None after answering 401/407 (challenge) or 403 (refused)."""
        decision = authenticate(request, self.config, now, proxy=proxy)
        if decision.user is None:
            if decision.status == 403:
                self.counters.forbidden += 1
            else:
                self.counters.challenged += 1
            self._respond(key, request, decision.status, now, to_tag=tag, extra=decision.headers)
        return decision.user

    def _bad_extension(self, key: str, request: SipRequest, now: float, tag: str) -> bool:
        """Answer 420 when the request requires an extension; we support none (§8.2.2.3)."""
        required = request.headers.get_list("require")
        if not required:
            return False
        self._respond(key, request, 420, now, to_tag=tag, extra=(("Unsupported", ", ".join(required)),))
        return True

    def _drop(self, call_key: str) -> _Call | None:
        """Forget a call that has ended, and its early dialog with it."""
        call = self._calls.pop(call_key, None)
        if call is not None:
            self._dialogs.pop(call.dialog, None)  # unique: our To tag is unique per INVITE transaction
        return call

    def _command(self, call_key: str, status: int, now: float, extra: tuple[tuple[str, str], ...]) -> bool:
        call = self._calls.get(call_key)
        if call is None or call.phase is CallPhase.ANSWERED:
            return False
        self._finish(call, status, now, extra)
        return True

    def _finish(self, call: _Call, status: int, now: float, extra: tuple[tuple[str, str], ...]) -> None:
        call.phase = CallPhase.ANSWERED
        call.next_queued = None
        self._respond(call.key, call.request, status, now, to_tag=call.to_tag, extra=extra)

    def _send_queued(self, call: _Call, now: float) -> None:
        self._respond(call.key, call.request, 182, now, to_tag=call.to_tag)
        call.next_queued = now + self.config.queued_interval
        self._push(call.next_queued, call.key)

    def _push(self, when: float, key: str) -> None:
        """Schedule a call timer; superseded entries are skipped when popped, and purged in bulk
        once they outnumber the live ones (give-up entries can otherwise linger for an hour)."""
        self._seq += 1
        heapq.heappush(self._timers, (when, self._seq, key))
        if len(self._timers) > 4 * len(self._calls) + 1024:
            self._timers = [entry for entry in self._timers if self._timer_live(entry)]
            heapq.heapify(self._timers)

    def _timer_live(self, entry: tuple[float, int, str]) -> bool:
        call = self._calls.get(entry[2])
        if call is None:
            return False
        when = entry[0]
        return (call.phase is not CallPhase.ANSWERED and when == call.give_up_at) or when == call.next_queued

    def _respond(
        self,
        key: str,
        request: SipRequest,
        status: int,
        now: float,
        *,
        reason: str | None = None,
        to_tag: str | None = None,
        extra: tuple[tuple[str, str], ...] | list[tuple[str, str]] = (),
    ) -> None:
        response = make_response(request, status, reason, to_tag=to_tag, headers=(*extra, *self._server))
        self._out.extend(a for a in self._tx.send_response(key, response, now) if isinstance(a, SendData))
