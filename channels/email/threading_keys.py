"""Keys that tie an inbound message to an existing interaction.

Threading, strongest evidence first:

1. Message-IDs: ``In-Reply-To``, then ``References`` newest-first. If any of
   them is the Message-ID of a message we stored, the reply belongs there.
2. The subject token ``[#K7QX2MAB]`` we put on every outbound subject. It
   survives clients that drop the threading headers (many webmail forwards,
   some mobile clients, and replies started from a copied address).

The token is derived from the interaction UUID by hashing, not by slicing the
UUID: UUIDv7 (and v1) begin with a timestamp, so a slice would give every
interaction created in the same second the same token. A token alone is weak
evidence (50 bits at most, and users edit subjects), so the caller should also
check the sender belongs to the interaction's customer before trusting it.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid

from channels.email.model import ParsedEmail

TOKEN_MIN_LENGTH = 6
TOKEN_MAX_LENGTH = 10
DEFAULT_TOKEN_LENGTH = 8
DEFAULT_MAX_REFERENCES = 20

_TOKEN = re.compile(r"[A-Z0-9]{6,10}")
_SUBJECT_TOKEN = re.compile(r"\[#([A-Z0-9]{6,10})\]")
# Reply / forward markers in the languages our customers' clients use, with optional
# counters ("Re[2]:", "RE(3):") and ASCII or full-width colons.
_PREFIX = re.compile(
    r"^\s*(?:re|fw|fwd|aw|wg|sv|vs|antw|odp|enc|res|rv|tr|ynt|"
    r"回复|回覆|答复|答覆|转发|轉寄|轉發|转寄|返信|転送)"
    r"\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*",
    re.IGNORECASE,
)


def thread_candidates(parsed: ParsedEmail) -> list[str]:
    """Message-IDs to look up, best first: In-Reply-To, then References newest-first, no repeats."""
    ordered = dict.fromkeys((*parsed.in_reply_to, *reversed(parsed.references)))
    ordered.pop(parsed.message_id or "", None)
    return list(ordered)


def subject_token(subject: str | None) -> str | None:
    """Our reference token in ``subject`` (``"Re: Help [#ABC123]"`` → ``"ABC123"``), or None.

    When a subject carries several tokens (a thread forwarded into a new one),
    the last wins: ``compose_reply`` appends its token at the end.
    """
    if not subject:
        return None
    found = _SUBJECT_TOKEN.findall(subject)
    return found[-1] if found else None


def format_subject_token(token: str) -> str:
    """``"ABC123"`` → ``"[#ABC123]"``; refuses anything ``subject_token`` would not read back."""
    if not _TOKEN.fullmatch(token):
        raise ValueError(f"reference token must be 6-10 characters A-Z or 0-9, got {token!r}")
    return f"[#{token}]"


def make_reference_token(interaction_uuid: uuid.UUID | str, length: int = DEFAULT_TOKEN_LENGTH) -> str:
    """A deterministic subject token for an interaction: base32 of SHA-256 of the UUID bytes.

    Base32 uses A-Z and 2-7 only, so there is no 0/O or 1/I to misread when a
    customer quotes the token on the phone.
    """
    if not TOKEN_MIN_LENGTH <= length <= TOKEN_MAX_LENGTH:
        raise ValueError(f"token length must be {TOKEN_MIN_LENGTH}-{TOKEN_MAX_LENGTH}, got {length}")
    value = interaction_uuid if isinstance(interaction_uuid, uuid.UUID) else uuid.UUID(str(interaction_uuid))
    digest = hashlib.sha256(value.bytes).digest()
    return base64.b32encode(digest).decode("ascii")[:length]


def strip_reply_prefixes(subject: str) -> str:
    """``"Re: 回复：Fwd: Order"`` → ``"Order"``, for display and for building ``Re:`` subjects."""
    text = subject.strip()
    while True:
        stripped = _PREFIX.sub("", text, count=1)
        if stripped == text:
            return text
        text = stripped


def reply_references(parent: ParsedEmail, limit: int = DEFAULT_MAX_REFERENCES) -> list[str]:
    """The References of a reply to ``parent`` (RFC 5322 §3.6.4), capped at ``limit`` ids.

    Parent's References (or, lacking those, its single In-Reply-To id) plus the
    parent's own Message-ID. When too long, the first id (the thread root) and
    the newest ones are kept, which is what threading clients rely on.
    """
    if limit < 2:
        raise ValueError(f"references limit must be at least 2, got {limit}")
    chain = list(parent.references)
    if not chain and len(parent.in_reply_to) == 1:
        chain = list(parent.in_reply_to)
    if parent.message_id is not None:
        chain.append(parent.message_id)
    unique = list(dict.fromkeys(chain))
    if len(unique) <= limit:
        return unique
    return [unique[0], *unique[-(limit - 1) :]]
