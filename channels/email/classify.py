"""Decide what kind of message arrived, and whether we may answer it automatically.

Rules, first match wins (the order is the documentation):

1. **malformed**: the MIME structure could not be trusted (parser failure,
   headers cut off by a non-header line, a multipart whose boundary never
   appears, or no header fields at all). Nothing else is believable then.
2. **bounce**: ``multipart/report; report-type=delivery-status``, an
   ``X-Failed-Recipients`` header, or a sender whose local part is
   ``mailer-daemon`` or ``postmaster``. Checked before auto-replies because
   RFC 3464 DSNs usually also carry ``Auto-Submitted: auto-replied``, and a
   bounce tells us more (which of *our* messages failed). Every delivery
   report is this kind, delay notices included: the kind says "a mail system
   reports on one of our messages", never answered or offered; whether the
   delivery failed is the report's ``Action`` (``dsn``), which ingestion reads.
3. **auto_reply**: ``Auto-Submitted`` with any value but ``no`` (RFC 3834);
   ``X-Autoreply`` / ``X-Autorespond``; ``X-Auto-Response-Suppress`` naming
   ``OOF`` or ``All`` (Exchange puts this on its own automatic mail);
   ``Precedence: junk`` (what vacation programs use); or any other
   ``multipart/report`` (read receipts, feedback reports).
4. **list**: ``List-Id`` or ``List-Unsubscribe`` (RFC 2919 / 2369), or
   ``Precedence: list`` / ``bulk``. After auto_reply because "a machine wrote
   this" is the stronger statement about the sender; both forbid an auto-ack.
5. **normal**: everything else.

Known trade-off: a human message from an Exchange client configured to send
``X-Auto-Response-Suppress: OOF`` is classed as auto_reply. It is still
stored and routed by whatever the channel does with auto replies; it only
loses the automatic acknowledgement, which is the safe side of the mistake.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from channels.email.model import MessageKind, ParsedEmail

_DAEMON_LOCAL_PARTS = frozenset({"mailer-daemon", "postmaster"})
# Senders we never acknowledge, on top of the daemons: nobody reads these mailboxes.
# fmt: off
_NO_REPLY_LOCAL_PARTS = _DAEMON_LOCAL_PARTS | frozenset(
    {
        "noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "do_not_reply", "bounce",
        "bounces", "mailer", "daemon", "listserv", "majordomo", "notifications", "notification",
    }
)
# fmt: on
_SUPPRESS_TOKENS = frozenset({"oof", "all"})


@dataclass(frozen=True, slots=True)
class Signals:
    """The header facts classification looks at, already extracted and lower-cased.

    A separate value (rather than the message itself) keeps the rules a pure
    function that tests can drive with a table.
    """

    content_type: str = "text/plain"
    report_type: str | None = None
    from_address: str | None = None
    auto_submitted: str | None = None
    precedence: str | None = None
    list_id: str | None = None
    list_unsubscribe: bool = False
    x_autoreply: bool = False
    auto_response_suppress: frozenset[str] = frozenset()
    failed_recipients: bool = False
    structurally_broken: bool = False


def local_part(address: str | None) -> str:
    """The part before the last ``@``, lower-cased (empty when there is no address)."""
    if not address:
        return ""
    return address.rpartition("@")[0].lower()


def _token(value: str | None) -> str | None:
    """The value before any ``;`` parameters, lower-cased: ``auto-replied; owner=x`` → ``auto-replied``."""
    if value is None:
        return None
    token = value.split(";", 1)[0].strip().lower()
    return token or None


def suppress_tokens(value: str | None) -> frozenset[str]:
    """Tokens of ``X-Auto-Response-Suppress: DR, OOF, AutoReply`` as a lower-cased set."""
    if not value:
        return frozenset()
    return frozenset(part.strip().lower() for part in value.replace(";", ",").split(",") if part.strip())


def is_auto_submitted(value: str | None) -> bool:
    """True for any ``Auto-Submitted`` value except ``no`` (RFC 3834 §5)."""
    token = _token(value)
    return token is not None and token != "no"


def classify(signals: Signals) -> MessageKind:
    """Apply the rules in the module docstring, in order."""
    if signals.structurally_broken:
        return MessageKind.MALFORMED
    report = signals.content_type == "multipart/report"
    report_type = _token(signals.report_type)
    if (
        (report and report_type == "delivery-status")
        or signals.failed_recipients
        or local_part(signals.from_address) in _DAEMON_LOCAL_PARTS
    ):
        return MessageKind.BOUNCE
    precedence = _token(signals.precedence)
    if (
        is_auto_submitted(signals.auto_submitted)
        or signals.x_autoreply
        or signals.auto_response_suppress & _SUPPRESS_TOKENS
        or precedence in ("junk", "auto_reply")
        or report
    ):
        return MessageKind.AUTO_REPLY
    if signals.list_id or signals.list_unsubscribe or precedence in ("list", "bulk"):
        return MessageKind.LIST
    return MessageKind.NORMAL


def should_auto_ack(parsed: ParsedEmail, *, own_addresses: Iterable[str] = ()) -> bool:
    """May we send an automatic acknowledgement for ``parsed``?

    Only for a normal message from a real-looking person: never to anything
    automatic, list mail, bounces, malformed mail, daemon or no-reply
    senders, or one of our own addresses (that is how mail loops start).
    ``own_addresses`` are the mailbox addresses this server sends from.
    """
    if parsed.kind is not MessageKind.NORMAL or parsed.malformed:
        return False
    if is_auto_submitted(parsed.auto_submitted) or _token(parsed.precedence) in ("junk", "list", "bulk"):
        return False
    if parsed.list_id:
        return False
    ours = {address.strip().lower() for address in own_addresses}
    targets = parsed.reply_to or ((parsed.from_address,) if parsed.from_address else ())
    if not parsed.from_address or not targets:
        return False
    for address in (parsed.from_address, *targets):
        address = address.strip().lower()
        local = local_part(address)
        # A non-ASCII address needs SMTPUTF8, which we do not send; better no ack than a bounce.
        if address in ours or not address.isascii() or "@" not in address or local in _NO_REPLY_LOCAL_PARTS:
            return False
        if local.startswith(("bounce-", "bounces-", "bounces+", "noreply-", "no-reply-", "noreply+")):
            return False
    return True
