"""The pure half of the email channel: parse, classify, thread and compose messages.

Nothing in this package does I/O. The IMAP poller and SMTP sender (elsewhere)
hand raw bytes to ``parse_message`` and serialise what ``compose_reply`` /
``compose_new`` return with ``OUTBOUND_POLICY``.
"""

from channels.email.classify import should_auto_ack
from channels.email.compose import OUTBOUND_POLICY, OutboundAttachment, compose_new, compose_reply
from channels.email.model import Attachment, DeliveryReport, MessageKind, ParsedEmail, RecipientStatus
from channels.email.parse import parse_message
from channels.email.threading_keys import (
    format_subject_token,
    make_reference_token,
    reply_references,
    strip_reply_prefixes,
    subject_token,
    thread_candidates,
)

__all__ = [
    "OUTBOUND_POLICY",
    "Attachment",
    "DeliveryReport",
    "MessageKind",
    "OutboundAttachment",
    "ParsedEmail",
    "RecipientStatus",
    "compose_new",
    "compose_reply",
    "format_subject_token",
    "make_reference_token",
    "parse_message",
    "reply_references",
    "should_auto_ack",
    "strip_reply_prefixes",
    "subject_token",
    "thread_candidates",
]
