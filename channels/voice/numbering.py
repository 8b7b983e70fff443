"""Who called which number: the pure mapping from SIP caller ID and dialled number to the contact center.

The dialled number picks the queue, so it is read exactly like the numbers in
the configuration (E.164 in ``server.default_phone_region``). The caller ID
becomes the customer's identity: a phone number when it is one, else the SIP
URI it came from. Anonymous callers (RFC 3323 ``anonymous@anonymous.invalid``,
or no identity at all) each get an identity of their own, derived from the
Call-ID, so that unrelated people never share one customer history.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from contactcenter.identity import normalise_phone, normalise_sip
from contactcenter.model import IdentityKind

ANONYMOUS_HOST = "anonymous.invalid"


@dataclass(frozen=True, slots=True)
class Caller:
    """The customer identity of a caller, and the number to call back (None when there is none)."""

    kind: IdentityKind
    address: str
    number: str | None
    display_name: str


def db_text(value: str, limit: int = 300) -> str:
    """``value`` as PostgreSQL stores it: valid UTF-8 and no NUL, at most ``limit`` characters.

    The SIP parser keeps bytes that are not UTF-8 as surrogates (so they
    survive a round trip on the wire); they become U+FFFD here. One caller's
    garbage must never fail the batch the other callers' calls are in.
    """
    if value.isascii() and "\x00" not in value:
        return value[:limit]
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = value.encode("utf-8", "replace")
    return raw.decode("utf-8", "replace").replace("\x00", "")[:limit]


def db_key(value: str, limit: int = 200) -> str:
    """A stable database key for ``value`` (a Call-ID): cleaned, and hashed when too long to keep whole."""
    text = db_text(value, limit=10_000)
    if len(text) <= limit and text == value:
        return text
    return f"{text[: limit - 41]}~{hashlib.sha256(value.encode('utf-8', 'surrogatepass')).hexdigest()[:40]}"


def e164(number: str | None, region: str | None) -> str | None:
    """``number`` in E.164, or None when it is not a phone number."""
    return _e164(number, region) if number else None


@functools.lru_cache(maxsize=65_536)
def _e164(number: str, region: str | None) -> str | None:
    """Memoised: ``phonenumbers`` costs ~50 µs a parse, and every call has two numbers; the
    dialled ones are a handful and callers call again."""
    try:
        return normalise_phone(number, region)
    except ValueError:
        return None


def queue_for(dialled: str | None, numbers: Mapping[str, str], region: str | None) -> str | None:
    """The queue the dialled number feeds, matched in E.164 like the configured numbers."""
    number = e164(dialled, region)
    return None if number is None else numbers.get(number)


def caller_of(number: str | None, uri: str | None, display: str | None, call_id: str, region: str | None) -> Caller:
    """The identity to file the call under: phone number, else SIP URI, else a per-call anonymous one."""
    name = db_text((display or "").strip(), 200)
    phone = e164(number, region)
    if phone is not None:
        return Caller(IdentityKind.PHONE, phone, phone, name)
    sip = _sip_identity(uri)
    if sip is not None:
        return Caller(IdentityKind.SIP, sip, None, name)
    token = hashlib.sha256(call_id.encode("utf-8", "surrogatepass")).hexdigest()[:20]
    return Caller(IdentityKind.SIP, f"sip:anonymous-{token}@{ANONYMOUS_HOST}", None, name)


def _sip_identity(uri: str | None) -> str | None:
    if not uri:
        return None
    try:
        address = normalise_sip(db_text(uri, 400))
    except ValueError:
        return None
    user, _, host = address[4:].rpartition("@")
    if not user or user.lower() == "anonymous" or host == ANONYMOUS_HOST or len(address) > 320:
        return None
    return address


def call_body(caller: Caller) -> str:
    """What the agent's offer shows for a call (bilingual like the console's default labels)."""
    return f"来电 Call from {caller.number or caller.address}"


def callback_body(number: str) -> str:
    """What the agent's offer shows for a callback: the number to dial."""
    return f"回拨 Callback {number}"
