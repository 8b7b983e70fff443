"""What an inbound e-mail's touchpoint keeps, and how a reply gets its parent back from it (pure).

The touchpoint's ``body`` is the message text; its ``payload`` holds the
header fields replies need (Message-ID, References, Reply-To, subject), the
sanitised HTML and the attachment metadata the console shows. ``parent_of``
rebuilds, from that payload alone, the ``ParsedEmail`` that ``compose_reply``
threads against, so the sender never re-reads or re-parses the original mail.

PostgreSQL refuses NUL in ``text`` and ``jsonb``; the parser already strips it,
and ``scrub`` makes sure of it for everything that goes into a row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from channels.email.model import MessageKind, ParsedEmail


def scrub(value: Any) -> Any:
    """``value`` with every NUL character removed from its strings (recursively)."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def attachment_summary(parsed: ParsedEmail) -> list[dict[str, Any]]:
    """Name, type, size and hash of every attachment; ``stored`` is False when it was over the limit."""
    return [
        {
            "position": position,
            "filename": attachment.filename,
            "content_type": attachment.content_type,
            "size": attachment.size,
            "sha256": attachment.sha256,
            "content_id": attachment.content_id,
            "inline": attachment.inline,
            "stored": not attachment.over_limit,
        }
        for position, attachment in enumerate(parsed.attachments)
    ]


def to_payload(parsed: ParsedEmail, *, mailbox: str, uidvalidity: int, uid: int, review: bool) -> dict[str, Any]:
    """The touchpoint payload of one inbound message."""
    return scrub({
        "mailbox": mailbox,
        "uidvalidity": uidvalidity,
        "uid": uid,
        "message_id": parsed.message_id,
        "in_reply_to": list(parsed.in_reply_to),
        "references": list(parsed.references),
        "subject": parsed.subject,
        "from": parsed.from_address,
        "from_name": parsed.from_name,
        "to": list(parsed.to),
        "cc": list(parsed.cc),
        "reply_to": list(parsed.reply_to),
        "date": parsed.date.isoformat() if parsed.date else None,
        "email_kind": str(parsed.kind),
        "html": parsed.html_sanitised,
        "attachments": attachment_summary(parsed),
        "problems": list(parsed.problems),
        "review": review,
    })


def parent_fields(payload: dict[str, Any]) -> dict[str, Any]:
    """The subset of a payload that ``parent_of`` needs (what an auto-ack outbox row carries)."""
    keys = ("message_id", "in_reply_to", "references", "subject", "from", "from_name", "reply_to", "date")
    return {key: payload.get(key) for key in keys}


def parent_of(payload: dict[str, Any]) -> ParsedEmail:
    """The ``ParsedEmail`` a reply threads against, rebuilt from a stored payload."""
    date = payload.get("date")
    return ParsedEmail(
        message_id=payload.get("message_id"),
        in_reply_to=tuple(payload.get("in_reply_to") or ()),
        references=tuple(payload.get("references") or ()),
        subject=payload.get("subject") or "",
        from_address=payload.get("from"),
        from_name=payload.get("from_name"),
        reply_to=tuple(payload.get("reply_to") or ()),
        date=datetime.fromisoformat(date) if isinstance(date, str) else None,
        kind=MessageKind.NORMAL,
    )
