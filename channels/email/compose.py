"""Build outbound messages: agent replies, auto-acknowledgements and new threads.

Pure functions: the caller passes the time (``now``) and may pass the
Message-ID, so the same inputs give the same message in tests; by default the
Message-ID comes from ``email.utils.make_msgid`` on the sender's domain,
which does not touch the network when given a domain.

Bodies are always UTF-8 ``multipart/alternative``: the agent's text, and HTML
made from it by escaping (agent text is never trusted as markup). Messages
use a 7-bit transfer encoding so they survive relays without 8BITMIME.
Headers with non-ASCII (a Chinese display name or subject) are RFC 2047
encoded here rather than by ``EmailMessage`` (see ``_encoded`` for why).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from channels.email.headers import clean_text, normalise_msgid
from channels.email.markup import text_to_html
from channels.email.model import ParsedEmail
from channels.email.threading_keys import (
    DEFAULT_MAX_REFERENCES,
    format_subject_token,
    reply_references,
    strip_reply_prefixes,
    subject_token,
)

# SMTP line endings; a 7-bit transfer encoding (base64 / quoted-printable for non-ASCII bodies);
# and header values we folded ourselves are emitted exactly as we folded them.
OUTBOUND_POLICY = policy.SMTP.clone(cte_type="7bit", refold_source="none")
_LINE = 78
# RFC 5322 §2.1.1 caps a line at 998 characters, and an id may be folded only *between* ids, never
# inside one (§3.6.4). The longest field name we put before one is "In-Reply-To: " (13); 900 leaves
# room for that and then some, and real ids are well under 250. A longer one cannot be sent at all:
# relays refuse the line ("500 Line too long") or break it inside the id, and the reply is lost.
MAX_SENDABLE_MSGID = 900


@dataclass(frozen=True, slots=True)
class OutboundAttachment:
    """A file to send: the name the recipient sees, its MIME type, and its bytes."""

    filename: str
    content_type: str
    data: bytes

    def __post_init__(self) -> None:
        maintype, _, subtype = self.content_type.partition("/")
        if not maintype or not subtype or any(char.isspace() for char in self.content_type):
            raise ValueError(f"content_type must be type/subtype, got {self.content_type!r}")
        if not self.filename.strip():
            raise ValueError("attachment filename must not be empty")


def _check_address(address: str) -> str:
    value = address.strip()
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain or not value.isascii() or any(c.isspace() or c in '<>,;"' for c in value):
        raise ValueError(f"not an email address: {address!r}")
    return value


def _encoded(text: str, header_name: str) -> str:
    """RFC 2047 words for non-ASCII header text, folded with LF (the policy turns it into CRLF).

    We encode ourselves because the stdlib's folder can move a space out of an
    encoded word into the folding whitespace between two words, where RFC 2047
    §6.2 makes every decoder drop it ("客服 小李" arriving as "客服小李"). The
    compat32 ``Header`` encoder keeps spaces inside the words.
    """
    return Header(text, "utf-8", header_name=header_name).encode(linesep="\n")


def _plain_ascii(text: str) -> bool:
    """ASCII that no decoder would mistake for an encoded word."""
    return text.isascii() and "=?" not in text


def _mailbox(address: str, name: str | None, header_name: str) -> str:
    display = clean_text(name) if name else ""
    addr = _check_address(address)
    if not display:
        return addr
    if _plain_ascii(display):
        return formataddr((display, addr))
    encoded = _encoded(display, header_name)
    # Keep every line within 78 columns so no generator (aiosmtplib uses plain policy.SMTP)
    # finds a reason to refold the encoded words itself.
    last_line = encoded.rpartition("\n")[2]
    separator = "\n " if len(last_line) + len(addr) + 4 > _LINE else " "
    return f"{encoded}{separator}<{addr}>"


def _set_mailboxes(message: EmailMessage, name: str, mailboxes: Sequence[tuple[str, str | None]]) -> None:
    # set_raw stores our folded value as-is; OUTBOUND_POLICY never refolds it.
    message.set_raw(name, ",\n ".join(_mailbox(address, display, name) for address, display in mailboxes))


def _set_subject(message: EmailMessage, subject: str) -> None:
    if _plain_ascii(subject):
        message["Subject"] = subject
    else:
        message.set_raw("Subject", _encoded(subject, "Subject"))


def _sendable_id(message_id: str) -> bool:
    """Ids we received may hold anything; only printable ASCII that fits on one line may go into a header.

    An id that does not fit (see ``MAX_SENDABLE_MSGID``) is left out of In-Reply-To / References;
    the reply still threads by the subject token and the rest of the chain.
    """
    return (len(message_id) <= MAX_SENDABLE_MSGID and message_id.isascii() and message_id.isprintable()
            and " " not in message_id)


def _with_token(subject: str, token: str | None) -> str:
    subject = clean_text(subject)
    if token is None or subject_token(subject) == token:
        return subject
    marker = format_subject_token(token)
    return f"{subject} {marker}" if subject else marker


def _base_message(
    *,
    from_address: str,
    from_name: str | None,
    to: Sequence[str],
    cc: Sequence[str],
    reply_to: str | None,
    subject: str,
    now: datetime,
    message_id: str | None,
) -> EmailMessage:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not to:
        raise ValueError("a message needs at least one recipient")
    sender = _check_address(from_address)
    message = EmailMessage(policy=OUTBOUND_POLICY)
    _set_mailboxes(message, "From", [(sender, from_name)])
    _set_mailboxes(message, "To", [(address, None) for address in to])
    if cc:
        _set_mailboxes(message, "Cc", [(address, None) for address in cc])
    if reply_to:
        _set_mailboxes(message, "Reply-To", [(reply_to, None)])
    _set_subject(message, subject)
    message["Date"] = format_datetime(now)
    domain = sender.rpartition("@")[2]
    chosen = normalise_msgid(message_id) if message_id else make_msgid(domain=domain)
    if chosen is None:
        raise ValueError(f"not a Message-ID: {message_id!r}")
    message["Message-ID"] = chosen
    return message


def _add_body(message: EmailMessage, text: str, attachments: Sequence[OutboundAttachment]) -> None:
    plain = text.replace("\r\n", "\n").replace("\r", "\n")
    message.set_content(plain, subtype="plain", charset="utf-8")
    message.add_alternative(text_to_html(plain), subtype="html", charset="utf-8")
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename)
    # set_content stamps MIME-Version on every part it creates; it belongs on the top level only.
    for part in message.walk():
        if part is not message:
            del part["MIME-Version"]


def compose_reply(
    parent: ParsedEmail,
    *,
    from_address: str,
    from_name: str | None,
    text: str,
    now: datetime,
    reference_token: str | None = None,
    reply_to: str | None = None,
    cc: Sequence[str] = (),
    auto_ack: bool = False,
    attachments: Sequence[OutboundAttachment] = (),
    message_id: str | None = None,
    max_references: int = DEFAULT_MAX_REFERENCES,
) -> EmailMessage:
    """A reply to ``parent``, threaded so every client files it under the same conversation.

    Goes to the parent's Reply-To if set, else its sender. Sets In-Reply-To to
    the parent's Message-ID and References to the parent's chain plus that id
    (capped, keeping the root). The subject is ``Re: <original without reply
    prefixes>`` plus our token when it is missing. ``auto_ack=True`` marks the
    message ``Auto-Submitted: auto-replied`` (RFC 3834) and asks Exchange not
    to answer it with an out-of-office, which is how acknowledgement loops start.
    """
    recipients = list(parent.reply_to) or ([parent.from_address] if parent.from_address else [])
    if not recipients:
        raise ValueError("the parent message has neither Reply-To nor From: nobody to reply to")
    base = strip_reply_prefixes(parent.subject)
    message = _base_message(
        from_address=from_address,
        from_name=from_name,
        to=recipients,
        cc=cc,
        reply_to=reply_to,
        subject=_with_token(f"Re: {base}" if base else "Re:", reference_token),
        now=now,
        message_id=message_id,
    )
    # Message-IDs go in raw, one per folded line: the header registry would otherwise read
    # "=?...?=" inside an id as an encoded word and re-encode the id into something else. Raw
    # values are never refolded (OUTBOUND_POLICY), so these folds between ids, with each id at
    # most MAX_SENDABLE_MSGID long, are what keeps every line within 998 characters.
    if parent.message_id is not None and _sendable_id(parent.message_id):
        message.set_raw("In-Reply-To", parent.message_id)
    references = [message_id for message_id in reply_references(parent, max_references) if _sendable_id(message_id)]
    if references:
        message.set_raw("References", "\n ".join(references))
    if auto_ack:
        message["Auto-Submitted"] = "auto-replied"
        message["X-Auto-Response-Suppress"] = "All"
    _add_body(message, text, attachments)
    return message


def replace_subject(message: EmailMessage, subject: str, reference_token: str | None = None) -> None:
    """Give a composed message another subject, encoded and tagged with the token as ``compose_*`` do.

    For auto-acknowledgements: they are threaded replies (``compose_reply``),
    but a mailbox may configure their subject, which then replaces
    ``Re: <theirs>``. Non-ASCII subjects need this module's own RFC 2047
    encoding (see ``_encoded``), so callers must not set the header themselves.
    """
    del message["Subject"]
    _set_subject(message, _with_token(subject, reference_token))


def compose_new(
    *,
    to: Sequence[str],
    subject: str,
    from_address: str,
    from_name: str | None,
    text: str,
    now: datetime,
    reference_token: str | None = None,
    reply_to: str | None = None,
    cc: Sequence[str] = (),
    attachments: Sequence[OutboundAttachment] = (),
    message_id: str | None = None,
) -> EmailMessage:
    """A message that starts a thread: a chat transcript, a reply to an offline form.

    Carrying the token in the subject lets the customer's answer find the
    interaction even though nothing of theirs came before it.
    """
    if isinstance(to, str):
        raise TypeError("to must be a sequence of addresses, not a single string")
    message = _base_message(
        from_address=from_address,
        from_name=from_name,
        to=list(to),
        cc=cc,
        reply_to=reply_to,
        subject=_with_token(subject, reference_token),
        now=now,
        message_id=message_id,
    )
    _add_body(message, text, attachments)
    return message
