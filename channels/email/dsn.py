"""Read a bounce: which of our messages failed, for whom, and why.

Standard bounces are RFC 3464 ``multipart/report`` messages: a
``message/delivery-status`` part with one block of per-message fields and one
block per recipient, followed by the returned message or just its headers
(``text/rfc822-headers``). Older MTAs (qmail, some Exim setups) send a plain
text notice with the original message pasted below; for those we fall back
to ``X-Failed-Recipients`` and to patterns in the text.
"""

from __future__ import annotations

import re
from email.message import Message
from email.parser import HeaderParser

from channels.email.charsets import decode_bytes
from channels.email.headers import clean_text, parse_msgids, plausible_address, raw_value, raw_values, recover_8bit
from channels.email.model import DeliveryReport, RecipientStatus
from channels.email.parts import children, content_type, payload_bytes, walk

_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_QMAIL_RECIPIENT = re.compile(r"^<([^<>\s]+@[^<>\s]+)>:\s*$", re.MULTILINE)
_BODY_MESSAGE_ID = re.compile(r"^Message-ID:[ \t]*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)
_BLOCK_SPLIT = re.compile(r"\r?\n[ \t]*\r?\n")
_RETURNED_HEADER_TYPES = ("text/rfc822-headers", "message/rfc822-headers")
_RETURNED_MESSAGE_TYPES = ("message/rfc822", "message/global")


def _address_field(value: str | None) -> str | None:
    """``rfc822; User@Example.com`` → ``user@example.com``."""
    if not value:
        return None
    address = value.split(";", 1)[-1].strip().strip("<>").strip().lower()
    return address if plausible_address(address) else None


def _field(value: str | None) -> str | None:
    cleaned = clean_text(value) if value else ""
    return cleaned or None


def _status_blocks(part: Message) -> list[Message]:
    """The header blocks of a delivery-status part, however the parser left it."""
    blocks = children(part)
    if blocks:
        return blocks
    text = decode_bytes(payload_bytes(part), "utf-8").text
    parser = HeaderParser()
    return [parser.parsestr(block.strip() + "\n") for block in _BLOCK_SPLIT.split(text) if block.strip()]


def _recipients_from_status(part: Message) -> list[RecipientStatus]:
    recipients: list[RecipientStatus] = []
    blocks = _status_blocks(part)
    # Block 0 holds per-message fields; a report with a single block still names a recipient there.
    for block in blocks[1:] or blocks:
        recipient = _address_field(raw_value(block, "Final-Recipient")) or _address_field(
            raw_value(block, "Original-Recipient")
        )
        if recipient is None:
            continue
        action = raw_value(block, "Action")
        status = raw_value(block, "Status")
        diagnostic = raw_value(block, "Diagnostic-Code")
        status_match = _STATUS.search(status or "")
        recipients.append(
            RecipientStatus(
                recipient=recipient,
                action=_field(action.lower() if action else None),
                status=status_match.group(1) if status_match else _field(status),
                diagnostic=_field(recover_8bit(diagnostic) if diagnostic else None),
            )
        )
    return recipients


def _returned_message_id(message: Message) -> str | None:
    for part in walk(message):
        kind = content_type(part)
        if kind in _RETURNED_HEADER_TYPES:
            text = decode_bytes(payload_bytes(part), "utf-8").text
            ids = parse_msgids(raw_value(HeaderParser().parsestr(text.lstrip()), "Message-ID"))
            if ids:
                return ids[0]
        elif kind in _RETURNED_MESSAGE_TYPES:
            for inner in children(part):
                ids = parse_msgids(raw_value(inner, "Message-ID"))
                if ids:
                    return ids[0]
    return None


def _action_for(status: str | None) -> str | None:
    if status is None:
        return None
    return {"5": "failed", "4": "delayed", "2": "delivered"}.get(status[:1])


def _fallback_recipients(message: Message, body_text: str) -> list[RecipientStatus]:
    """X-Failed-Recipients (Exim) or qmail's ``<address>:`` lines, with any status code seen."""
    addresses: list[str] = []
    for value in raw_values(message, "X-Failed-Recipients"):
        addresses += [item.strip().strip("<>").lower() for item in value.split(",")]
    if not addresses:
        addresses = [match.lower() for match in _QMAIL_RECIPIENT.findall(body_text)]
    addresses = [address for address in addresses if plausible_address(address)]
    status_match = _STATUS.search(body_text)
    status = status_match.group(1) if status_match else None
    unique = list(dict.fromkeys(addresses))
    return [RecipientStatus(recipient=address, action=_action_for(status), status=status) for address in unique]


def delivery_report(message: Message, body_text: str) -> DeliveryReport | None:
    """Parse the bounce in ``message``; ``body_text`` is its decoded text body, for fallbacks.

    Returns None only when nothing useful at all could be found.
    """
    recipients: list[RecipientStatus] = []
    for part in walk(message):
        if content_type(part) in ("message/delivery-status", "message/global-delivery-status"):
            recipients += _recipients_from_status(part)
    if not recipients:
        recipients = _fallback_recipients(message, body_text)
    original = _returned_message_id(message)
    if original is None:
        match = _BODY_MESSAGE_ID.search(body_text)
        original = parse_msgids(match.group(1))[0] if match else None
    if original is None and not recipients:
        return None
    return DeliveryReport(original_message_id=original, recipients=tuple(recipients))
