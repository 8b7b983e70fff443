"""Answers given outside any transaction: replies to requests we could not parse, and their tags.

A request that fails to parse cannot be keyed to a transaction, but if its
Via, From, To, Call-ID and CSeq survived, RFC 3261 still wants an answer
(400, 416, 505, 513) so the sender stops retrying.  Such answers are
stateless: a retransmission is simply answered again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from .headers import HeaderValueError, parse_via, split_list
from .message import SipParseError, SipRequest, make_response
from .net import Address, SendData, Transport
from .transactions import response_destination, stamp_received

_NEEDED = ("from", "to", "call-id", "cseq")


def stateless_tag(request: SipRequest, secret: bytes) -> str:
    """A To tag derived from the request, so every retransmission is answered with the same one."""
    seed = f"{request.headers.get('call-id')}|{request.headers.get('cseq')}|{request.method}"
    return hashlib.blake2s(seed.encode("utf-8", "surrogateescape"), key=secret[:32], digest_size=6).hexdigest()


def reply_to_unparsable(
    error: SipParseError,
    source: Address,
    transport: Transport,
    tag_secret: bytes,
    extra: Iterable[tuple[str, str]] = (),
) -> SendData | None:
    """The error response for ``error.partial``, or None when it must be dropped (§8.2.2, §18.2.2).

    Dropped: responses, ACKs (never answered), and requests missing what a
    response must echo or where it must go.  The fixed ``error.reason`` goes
    out in a Warning header to help whoever debugs the sender.
    """
    request = error.partial
    if error.status_hint is None or not isinstance(request, SipRequest) or request.method == "ACK":
        return None
    if not all(request.headers.get(name) for name in _NEEDED):
        return None
    stamped = stamp_received(request, source)
    try:
        via = parse_via(split_list(stamped.headers.get("via") or "")[0])
    except (HeaderValueError, IndexError):
        return None
    response = make_response(
        stamped,
        error.status_hint,
        to_tag=stateless_tag(request, tag_secret),
        headers=(("Warning", f'399 - "{error.reason}"'), *extra),
    )
    return SendData(response.serialize(), response_destination(via, source, transport), transport)
