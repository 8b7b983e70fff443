"""The email channel: parse, classify, thread and compose messages; ``setup`` adds the I/O.

The modules exported here do no I/O. The IMAP poller and SMTP sender
(``channel``, ``poller``, ``ingest``, ``sender``) hand raw bytes to
``parse_message`` and serialise what ``compose_reply`` / ``compose_new``
return with ``OUTBOUND_POLICY``. ``setup`` imports them only when called, so
importing this package (as the parser's worker processes do) stays pure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from aiohttp import web

    from contactcenter.channel_context import ChannelContext


def setup(app: web.Application, context: ChannelContext) -> None:
    """Register the email channel on ``app`` (see ``channels.email.channel``)."""
    from channels.email.channel import setup as setup_channel

    setup_channel(app, context)


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
    "setup",
    "should_auto_ack",
    "strip_reply_prefixes",
    "subject_token",
    "thread_candidates",
]
