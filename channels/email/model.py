"""The normalised form of one inbound email, as the rest of the server sees it.

Everything here is a frozen, slotted value: the parser builds it once and
nobody mutates it afterwards. Sequences are tuples so a parsed message can be
hashed, compared and shared between tasks without copying; constructors accept
lists too and turn them into tuples, so ``ParsedEmail(malformed=True,
problems=[...])`` works as callers expect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class MessageKind(StrEnum):
    """What an inbound message is, which decides whether we answer it.

    Values are stable lowercase strings: they are stored and sent over the wire.
    """

    NORMAL = "normal"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    LIST = "list"
    MALFORMED = "malformed"


@dataclass(frozen=True, slots=True)
class Attachment:
    """One non-body MIME part.

    ``data`` is ``None`` exactly when the decoded part is larger than the limit
    the caller passed, so a 50 MB video never sits in memory next to the
    message row; ``size`` and ``sha256`` are still exact, which lets the
    caller dedupe or tell the agent what was dropped. ``content_id`` is kept
    without angle brackets because that is how ``cid:`` URLs spell it.
    """

    filename: str | None
    content_type: str
    size: int
    sha256: str
    content_id: str | None
    inline: bool
    data: bytes | None
    over_limit: bool

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError(f"attachment size must be >= 0, got {self.size}")
        if not _SHA256_HEX.fullmatch(self.sha256):
            raise ValueError(f"sha256 must be 64 lowercase hex digits, got {self.sha256!r}")
        if self.over_limit != (self.data is None):
            raise ValueError("data must be None exactly when the attachment is over the limit")
        if self.data is not None and len(self.data) != self.size:
            raise ValueError("size must equal len(data)")


@dataclass(frozen=True, slots=True)
class RecipientStatus:
    """One per-recipient block of a delivery report (RFC 3464 §2.3)."""

    recipient: str
    action: str | None = None
    status: str | None = None
    diagnostic: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What a bounce says about a message we sent.

    ``original_message_id`` is the Message-ID of *our* outbound message, taken
    from the returned headers; it is how the channel finds the interaction
    whose delivery failed.
    """

    original_message_id: str | None
    recipients: tuple[RecipientStatus, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "recipients", tuple(self.recipients))

    @property
    def recipient(self) -> str | None:
        return self.recipients[0].recipient if self.recipients else None

    @property
    def action(self) -> str | None:
        return self.recipients[0].action if self.recipients else None

    @property
    def status(self) -> str | None:
        return self.recipients[0].status if self.recipients else None


@dataclass(frozen=True, slots=True)
class EmailHeaders:
    """The header fields of an inbound message, decoded; defaults are what a message without headers gets.

    The parser reads these first and on their own (a failure there must not
    cost the body); ``ParsedEmail`` extends them with what the body gives.
    """

    message_id: str | None = None
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    subject: str = ""
    from_address: str | None = None
    from_name: str | None = None
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    reply_to: tuple[str, ...] = ()
    date: datetime | None = None
    auto_submitted: str | None = None
    precedence: str | None = None
    list_id: str | None = None

    def __post_init__(self) -> None:
        for name in ("in_reply_to", "references", "to", "cc", "reply_to"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.date is not None and self.date.tzinfo is None:
            raise ValueError("date must be timezone-aware")


@dataclass(frozen=True, slots=True)
class ParsedEmail(EmailHeaders):
    """An inbound message after decoding, sanitising and classification.

    Addresses are lower-cased addr-specs; Message-IDs are ``<...>`` with case
    preserved (they are opaque, and some servers compare them exactly).
    ``text`` is always usable for display and search: the text/plain body, or
    text derived from the HTML when the sender sent only HTML. ``html_sanitised``
    is safe to put in the agent UI as-is: no scripts, no handlers, and remote
    images moved from ``src`` to ``data-src`` so opening a message does not
    tell a tracker it was read. ``problems`` lists every defect we noticed,
    for support staff; ``malformed`` is set (and ``kind`` forced to
    ``malformed``) when the structure itself could not be trusted.
    """

    text: str = ""
    html_sanitised: str | None = None
    attachments: tuple[Attachment, ...] = ()
    kind: MessageKind = MessageKind.NORMAL
    dsn: DeliveryReport | None = None
    problems: tuple[str, ...] = field(default=())
    malformed: bool = False

    def __post_init__(self) -> None:
        # Named, not super(): zero-argument super() fails in slotted dataclasses before Python 3.14.
        EmailHeaders.__post_init__(self)
        for name in ("attachments", "problems"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "kind", MessageKind(self.kind))
        if self.malformed or self.kind is MessageKind.MALFORMED:
            object.__setattr__(self, "malformed", True)
            object.__setattr__(self, "kind", MessageKind.MALFORMED)
