"""Server transactions (RFC 3261 §17.2): match retransmissions, retransmit finals, run the timers.

Everything that affects a transaction's state lives in this file.  The
INVITE machine is Proceeding → Completed (final 3xx-6xx sent) → Confirmed
(ACK seen) → gone; a 2xx ends it at once (never sent by a queueing server,
but handled).  The non-INVITE machine is Trying → Proceeding → Completed →
gone.  ``send_response`` in a state that does not allow it raises
:class:`TransactionError` and changes nothing.

Time only arrives as ``now``.  Timers are kept in a heap; ``next_deadline``
says when ``tick`` must next be called.  Each call returns the actions the
caller must carry out, in order.

CANCEL is answered here because only this table can tell whether it
matches an INVITE (§9.2): ``481`` when it does not, ``200`` when it does,
plus :class:`CancelReceived` while the INVITE still awaits its final answer.
"""

from __future__ import annotations

import hashlib
import heapq
from dataclasses import dataclass
from enum import StrEnum

from .headers import HeaderValueError, Via, parse_cseq, parse_via, split_list
from .message import SipRequest, SipResponse, make_response
from .net import Address, SendData, Transport

T1 = 0.5
T2 = 4.0
T4 = 5.0
MAGIC_COOKIE = "z9hG4bK"


class TransactionError(Exception):
    """The caller asked for a move the transaction's state does not allow."""


class TxState(StrEnum):
    TRYING = "trying"
    PROCEEDING = "proceeding"
    COMPLETED = "completed"
    CONFIRMED = "confirmed"


@dataclass(frozen=True, slots=True)
class NewInvite:
    """A new INVITE; answer it with ``send_response(call_key, ...)`` using ``to_tag``."""

    call_key: str
    request: SipRequest
    source: Address
    transport: Transport
    to_tag: str


@dataclass(frozen=True, slots=True)
class NewRequest:
    """A new non-INVITE request other than ACK and CANCEL; answer with ``send_response(tx_key, ...)``."""

    tx_key: str
    request: SipRequest
    source: Address
    transport: Transport


@dataclass(frozen=True, slots=True)
class CancelReceived:
    """The caller cancelled an INVITE still in Proceeding; the TU must now send it a 487."""

    call_key: str


@dataclass(frozen=True, slots=True)
class AckReceived:
    """The ACK for our final 3xx-6xx arrived: the call is over as far as SIP is concerned."""

    call_key: str
    status: int


@dataclass(frozen=True, slots=True)
class TransactionTimedOut:
    """Timer H fired: our final response was never acknowledged."""

    call_key: str
    status: int


Action = SendData | NewInvite | NewRequest | CancelReceived | AckReceived | TransactionTimedOut


@dataclass(slots=True)
class _Tx:
    key: str
    invite: bool
    request: SipRequest
    dest: Address
    transport: Transport
    state: TxState
    to_tag: str = ""
    provisional: bytes | None = None
    final: bytes | None = None
    status: int = 0
    timer_g: float | None = None
    interval_g: float = T1
    timer_h: float | None = None
    timer_end: float | None = None  # Timer I (INVITE), J (non-INVITE), or the idle guard


def transaction_key(request: SipRequest, via: Via | None = None) -> str:
    """The §17.2.3 key: branch + sent-by + method, with ACK filed under INVITE.

    Requests without the magic cookie (RFC 2543 peers) are keyed on Call-ID,
    From tag, CSeq number, Request-URI and top Via, which is what §17.2.3
    falls back to minus the To tag (so an ACK still matches its INVITE).
    """
    headers = request.headers
    if via is None:
        via = parse_via(headers.get_list("via")[0])
    method = "INVITE" if request.method == "ACK" else request.method
    branch = via.branch
    if branch and branch.startswith(MAGIC_COOKIE):
        return f"{branch}|{via.sent_by}|{method}"
    number, _ = parse_cseq(headers.get("cseq") or "")
    from_value = headers.get("from") or ""
    from_tag = from_value.rpartition("tag=")[2].partition(";")[0] if "tag=" in from_value else ""
    call_id = headers.get("call-id") or ""
    return f"2543|{call_id}|{from_tag}|{number}|{request.uri}|{via.sent_by}|{branch or ''}|{method}"


def response_destination(via: Via, source: Address, transport: Transport) -> Address:
    """Where responses go (§18.2.2 with RFC 3581 rport): the connection, else received/rport."""
    if transport.reliable:
        return source
    host = via.params.get("received") or via.host
    rport = via.params.get("rport")
    if rport and rport.isdigit():
        return host, int(rport)
    return host, via.port or 5060


def stamp_received(request: SipRequest, source: Address) -> SipRequest:
    """Add ``received`` (§18.2.1) and fill a bare ``rport`` (RFC 3581) on the top Via.

    Only rebuilds the request when something changes, which keeps the
    common case (a trunk whose Via already names its source IP) free.
    """
    fields = request.headers.get_all("via")
    elements = split_list(fields[0]) if fields else []
    if not elements:
        return request
    try:
        via = parse_via(elements[0])
    except HeaderValueError:
        return request
    host, port = source
    wants_rport = "rport" in via.params and not via.params["rport"]
    if via.host == host and not wants_rport:
        return request
    params = dict(via.params)
    params["received"] = host
    if wants_rport:
        params["rport"] = str(port)
    elements[0] = str(Via(via.transport, via.host, via.port, params))
    stamped = request.headers.replace("via", [", ".join(elements), *fields[1:]])
    return SipRequest(request.method, request.uri, stamped, request.body)


class ServerTransactions:
    """The table of live server transactions for one endpoint."""

    def __init__(self, *, tag_secret: bytes, t1: float = T1, t2: float = T2, t4: float = T4) -> None:
        if not 0 < t1 <= t2:
            raise ValueError("timers need 0 < T1 <= T2")
        self.t1, self.t2, self.t4 = t1, t2, t4
        self.retransmissions_absorbed = 0
        self.stray_acks = 0
        self._tag_secret = tag_secret
        self._txs: dict[str, _Tx] = {}
        self._timers: list[tuple[float, int, str]] = []
        self._seq = 0

    def __len__(self) -> int:
        return len(self._txs)

    def __contains__(self, key: object) -> bool:
        return key in self._txs

    def state(self, key: str) -> TxState | None:
        tx = self._txs.get(key)
        return tx.state if tx else None

    def to_tag(self, key: str) -> str | None:
        tx = self._txs.get(key)
        return tx.to_tag if tx else None

    def receive(
        self, request: SipRequest, source: Address, now: float, transport: Transport = Transport.UDP
    ) -> list[Action]:
        """Match ``request`` to a transaction or start one.  The request must have parsed cleanly."""
        try:
            via = parse_via(request.headers.get_list("via")[0])
            key = transaction_key(request, via)
        except (HeaderValueError, IndexError) as exc:
            raise ValueError("request has no usable top Via/CSeq") from exc
        method = request.method
        tx = self._txs.get(key)
        if method == "ACK":
            return self._ack(tx, now)
        if tx is not None:
            return self._retransmission(tx)
        dest = response_destination(via, source, transport)
        tx = _Tx(
            key,
            method == "INVITE",
            request,
            dest,
            transport,
            TxState.PROCEEDING if method == "INVITE" else TxState.TRYING,
        )
        self._txs[key] = tx
        if method == "INVITE":
            tx.to_tag = self._make_tag(key)
            return [NewInvite(key, request, source, transport, tx.to_tag)]
        self._schedule(tx, "timer_end", now + 64 * self.t1)  # guard: a TU that never answers
        if method == "CANCEL":
            return self._cancel(tx, key.rpartition("|")[0] + "|INVITE", now)
        return [NewRequest(key, request, source, transport)]

    def send_response(self, key: str, response: SipResponse, now: float) -> list[Action]:
        """Send ``response`` on transaction ``key``; raises TransactionError if it cannot be sent now."""
        tx = self._txs.get(key)
        if tx is None:
            raise TransactionError(f"no transaction {key!r}")
        if tx.state not in (TxState.TRYING, TxState.PROCEEDING):
            raise TransactionError(f"transaction {key!r} is {tx.state}; its final response was sent")
        data = response.serialize()
        status = response.status
        if status < 200:
            tx.provisional = data
            tx.state = TxState.PROCEEDING
            return [SendData(data, tx.dest, tx.transport)]
        tx.final, tx.status = data, status
        reliable = tx.transport.reliable
        if tx.invite and status < 300:
            del self._txs[key]
        elif tx.invite:
            tx.state = TxState.COMPLETED
            if not reliable:
                tx.interval_g = self.t1
                self._schedule(tx, "timer_g", now + self.t1)
            self._schedule(tx, "timer_h", now + 64 * self.t1)
        elif reliable:
            del self._txs[key]
        else:
            tx.state = TxState.COMPLETED
            self._schedule(tx, "timer_end", now + 64 * self.t1)
        return [SendData(data, tx.dest, tx.transport)]

    def next_deadline(self) -> float | None:
        """When ``tick`` must next run, or None when no timer is pending."""
        timers = self._timers
        while timers and not self._live(timers[0]):
            heapq.heappop(timers)
        return timers[0][0] if timers else None

    def tick(self, now: float) -> list[Action]:
        """Fire every timer due at ``now``: Timer G retransmits, H times out, I/J forget."""
        actions: list[Action] = []
        timers = self._timers
        while timers and timers[0][0] <= now:
            entry = heapq.heappop(timers)
            if not self._live(entry):
                continue
            when, _, name = entry
            tx = self._txs[name.partition("#")[2]]
            timer = name.partition("#")[0]
            setattr(tx, timer, None)
            if timer == "timer_g" and tx.final is not None:
                actions.append(SendData(tx.final, tx.dest, tx.transport))
                tx.interval_g = min(2 * tx.interval_g, self.t2)
                self._schedule(tx, "timer_g", when + tx.interval_g)
            elif timer == "timer_h":
                del self._txs[tx.key]
                actions.append(TransactionTimedOut(tx.key, tx.status))
            elif timer == "timer_end":
                del self._txs[tx.key]
        return actions

    def _ack(self, tx: _Tx | None, now: float) -> list[Action]:
        if tx is None or not tx.invite or tx.state is TxState.PROCEEDING:
            self.stray_acks += 1  # ACK for a 2xx (none sent here), or for a transaction long gone
            return []
        if tx.state is TxState.CONFIRMED:
            self.retransmissions_absorbed += 1
            return []
        tx.state = TxState.CONFIRMED
        tx.timer_g = tx.timer_h = None
        if tx.transport.reliable:
            del self._txs[tx.key]
        else:
            self._schedule(tx, "timer_end", now + self.t4)
        return [AckReceived(tx.key, tx.status)]

    def _retransmission(self, tx: _Tx) -> list[Action]:
        self.retransmissions_absorbed += 1
        if tx.state is TxState.COMPLETED and tx.final is not None:
            return [SendData(tx.final, tx.dest, tx.transport)]
        if tx.state is TxState.PROCEEDING and tx.provisional is not None:
            return [SendData(tx.provisional, tx.dest, tx.transport)]
        return []

    def _cancel(self, cancel: _Tx, invite_key: str, now: float) -> list[Action]:
        invite = self._txs.get(invite_key)
        if invite is None:
            return self.send_response(cancel.key, make_response(cancel.request, 481), now)
        response = make_response(cancel.request, 200, to_tag=invite.to_tag)
        actions = self.send_response(cancel.key, response, now)
        if invite.state is TxState.PROCEEDING:
            actions.append(CancelReceived(invite.key))
        return actions

    def _schedule(self, tx: _Tx, timer: str, when: float) -> None:
        setattr(tx, timer, when)
        self._seq += 1
        heapq.heappush(self._timers, (when, self._seq, f"{timer}#{tx.key}"))
        if len(self._timers) > 4 * len(self._txs) + 1024:  # drop superseded entries in bulk
            self._timers = [entry for entry in self._timers if self._live(entry)]
            heapq.heapify(self._timers)

    def _live(self, entry: tuple[float, int, str]) -> bool:
        """A heap entry is live while its transaction exists and still has that timer at that time."""
        when, _, name = entry
        timer, _, key = name.partition("#")
        tx = self._txs.get(key)
        return tx is not None and getattr(tx, timer) == when

    def _make_tag(self, key: str) -> str:
        """A To tag that is unique per transaction and unguessable without the secret (§19.3)."""
        return hashlib.blake2s(
            key.encode("utf-8", "surrogateescape"), key=self._tag_secret[:32], digest_size=8
        ).hexdigest()
