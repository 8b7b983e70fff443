"""Turn the raw bytes of one inbound email into a ``ParsedEmail``.

Contract: ``parse_message`` never raises on the message bytes. Mail is
adversarial and the stdlib parser has had crash bugs, so every stage is
guarded; a failing stage costs only its own fields and leaves a line in
``problems``. When the structure itself cannot be trusted the result is
``malformed`` but still carries whatever text and headers were recovered. The
caller keeps the raw bytes, so nothing is ever lost.

The stages are: parse the tree (``email.policy.default``, falling back to
compat32 when its header parser crashes), read the header fields from their raw values (``headers``), walk
the MIME tree for body and attachments (``body``), classify (``classify``),
and for bounces read the delivery report (``dsn``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from email import errors
from email.message import Message
from typing import TypeVar

from channels.email.body import Body, collect, tidy_text
from channels.email.charsets import guess_8bit
from channels.email.classify import Signals, classify, suppress_tokens
from channels.email.dsn import delivery_report
from channels.email.headers import (
    clean_text,
    header_params,
    header_text,
    parse_addresses,
    parse_date,
    parse_msgids,
    raw_value,
    raw_values,
)
from channels.email.markup import MAX_HTML_TAGS, html_to_text, sanitise_html, too_complex
from channels.email.model import DeliveryReport, EmailHeaders, MessageKind, ParsedEmail
from channels.email.parts import content_type, parse_tree

T = TypeVar("T")

# Defects on the top-level message that mean its structure cannot be trusted.
_STRUCTURAL_DEFECTS = (
    errors.NoBoundaryInMultipartDefect,
    errors.StartBoundaryNotFoundDefect,
    errors.MultipartInvariantViolationDefect,
    errors.MissingHeaderBodySeparatorDefect,
)
_IDENTIFYING_HEADERS = ("from", "to", "cc", "subject", "date", "message-id", "mime-version", "content-type")
_MAX_PROBLEMS = 50
_MAX_PROBLEM_LENGTH = 300
# Bounds on what one header can put in a row; the caller keeps the raw message.
_MAX_REFERENCES = 100
_MAX_SUBJECT = 2000


def _attempt(problems: list[str], stage: str, action: Callable[[], T], default: T) -> T:
    """Run one parsing stage; on any exception record it and carry on with ``default``."""
    try:
        return action()
    except Exception as exc:  # the contract is "never raise on mail"; see the module docstring
        problems.append(f"{stage} failed: {type(exc).__name__}: {str(exc)[:200]}")
        return default


def _addresses(message: Message, name: str, problems: list[str]) -> tuple[str, ...]:
    # Repeated To/Cc headers are invalid but common; keep every address, in order, once.
    pairs = parse_addresses(", ".join(raw_values(message, name)), problems)
    return tuple(dict.fromkeys(address for _, address in pairs))


def _optional_text(message: Message, name: str, problems: list[str]) -> str | None:
    return header_text(raw_value(message, name), problems) or None


def _list_id(value: str | None) -> str | None:
    """``Merchants <merchants.lists.example>`` → ``merchants.lists.example`` (RFC 2919 §3)."""
    if not value:
        return None
    start, end = value.rfind("<"), value.rfind(">")
    core = value[start + 1 : end] if 0 <= start < end else value
    return core.strip().lower() or None


def _capped_references(references: list[str], problems: list[str]) -> tuple[str, ...]:
    """Keep the thread root and the newest ids, as threading needs; drop the middle of a huge chain."""
    if len(references) <= _MAX_REFERENCES:
        return tuple(references)
    problems.append(f"{len(references)} message ids in one header; kept the first and the last {_MAX_REFERENCES - 1}")
    return (references[0], *references[-(_MAX_REFERENCES - 1) :])


def _capped_subject(subject: str, problems: list[str]) -> str:
    if len(subject) <= _MAX_SUBJECT:
        return subject
    problems.append(f"Subject of {len(subject)} characters cut to {_MAX_SUBJECT}")
    return subject[:_MAX_SUBJECT]


def _read_envelope(message: Message, structurally_broken: bool, problems: list[str]) -> tuple[EmailHeaders, Signals]:
    """The decoded header fields, and the signals ``classify`` reads from the headers."""
    senders = parse_addresses(raw_value(message, "From", problems), problems)
    from_name, from_address = senders[0] if senders else ("", None)
    ids = parse_msgids(raw_value(message, "Message-ID"))
    precedence = _optional_text(message, "Precedence", problems)
    list_id = _list_id(_optional_text(message, "List-Id", problems))
    auto_submitted = _optional_text(message, "Auto-Submitted", problems)
    signals = Signals(
        content_type=content_type(message),
        report_type=header_params(raw_value(message, "Content-Type"), problems).get("report-type"),
        from_address=from_address,
        auto_submitted=auto_submitted,
        precedence=precedence,
        list_id=list_id,
        list_unsubscribe=raw_value(message, "List-Unsubscribe") is not None,
        x_autoreply=any(raw_value(message, name) is not None for name in ("X-Autoreply", "X-Autorespond")),
        auto_response_suppress=suppress_tokens(raw_value(message, "X-Auto-Response-Suppress")),
        failed_recipients=raw_value(message, "X-Failed-Recipients") is not None,
        structurally_broken=structurally_broken,
    )
    headers = EmailHeaders(
        message_id=ids[0] if ids else None,
        in_reply_to=_capped_references(parse_msgids(raw_value(message, "In-Reply-To")), problems),
        references=_capped_references(parse_msgids(" ".join(raw_values(message, "References"))), problems),
        subject=_capped_subject(header_text(raw_value(message, "Subject", problems), problems), problems),
        from_address=from_address,
        from_name=from_name or None,
        to=_addresses(message, "To", problems),
        cc=_addresses(message, "Cc", problems),
        reply_to=_addresses(message, "Reply-To", problems),
        date=parse_date(raw_value(message, "Date"), problems),
        auto_submitted=auto_submitted,
        precedence=precedence.lower() if precedence else None,
        list_id=list_id,
    )
    return headers, signals


def _structure_broken(message: Message, problems: list[str]) -> bool:
    """True when the top-level structure cannot be trusted (the body walk records the defects)."""
    if any(isinstance(defect, _STRUCTURAL_DEFECTS) for defect in message.defects):
        return True
    present = {key.lower() for key, _ in message.raw_items()}
    if not present.intersection(_IDENTIFYING_HEADERS):
        problems.append("no recognisable header fields")
        return True
    return False


def _sanitised(body: Body, problems: list[str]) -> str | None:
    if not body.html:
        return None
    markup = "\n".join(body.html)
    if too_complex(markup):
        problems.append(f"HTML body has more than {MAX_HTML_TAGS} tags; not rendered, text only")
        return None
    return sanitise_html(markup)


def _body_text(body: Body) -> str:
    if body.plain:
        return "\n".join(body.plain).strip("\n").rstrip()
    if body.html:
        return html_to_text("\n".join(body.html))
    return ""


def parse_message(raw: bytes, *, max_attachment_bytes: int) -> ParsedEmail:
    """Parse one RFC 5322 message. Never raises on the bytes; see the module docstring.

    ``max_attachment_bytes`` is the decoded size above which an attachment's
    content is dropped (its size and hash are kept). A negative limit is a
    caller bug and raises ``ValueError``.
    """
    if max_attachment_bytes < 0:
        raise ValueError(f"max_attachment_bytes must be >= 0, got {max_attachment_bytes}")
    raw = bytes(raw)
    problems: list[str] = []
    stripped = raw.lstrip(b"\r\n")
    if len(stripped) != len(raw):
        problems.append("blank lines before the header fields were skipped")
    # A fallback to compat32 is not by itself "malformed": it means the stdlib's header parser
    # crashed on some value, while compat32 builds the same tree without parsing values.
    message, _ = parse_tree(stripped, problems)
    if message is None:
        text = tidy_text(guess_8bit(raw).text)
        return ParsedEmail(malformed=True, text=text, problems=_dedupe(problems))
    broken = _attempt(problems, "structure check", lambda: _structure_broken(message, problems), True)
    headers, signals = _attempt(problems, "header fields", lambda: _read_envelope(message, broken, problems),
                                (EmailHeaders(), Signals(structurally_broken=True)))
    body = Body()  # filled in place, so a failure half-way keeps what was already collected
    _attempt(problems, "body", lambda: collect(message, max_attachment_bytes, problems, body=body), body)
    text = _attempt(problems, "text", lambda: _body_text(body), "")
    html = _attempt(problems, "html sanitiser", lambda: _sanitised(body, problems), None)
    kind = classify(signals)
    dsn: DeliveryReport | None = None
    if kind is MessageKind.BOUNCE:
        dsn = _attempt(problems, "delivery report", lambda: delivery_report(message, text), None)
    return ParsedEmail(
        **{header.name: getattr(headers, header.name) for header in fields(EmailHeaders)},
        text=text,
        html_sanitised=html,
        attachments=tuple(body.attachments),
        kind=kind,
        dsn=dsn,
        problems=_dedupe(problems),
    )


def _printable(problem: str) -> str:
    """Defect details quote raw input: drop surrogates, NULs and line breaks, and bound the length."""
    text = problem.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return clean_text(text)[:_MAX_PROBLEM_LENGTH]


def _dedupe(problems: list[str]) -> tuple[str, ...]:
    """Each problem once, in first-seen order, capped so a hostile message cannot bloat the row."""
    unique = list(dict.fromkeys(_printable(problem) for problem in problems))
    if len(unique) > _MAX_PROBLEMS:
        unique = [*unique[: _MAX_PROBLEMS - 1], f"... and {len(unique) - _MAX_PROBLEMS + 1} more problems"]
    return tuple(unique)
