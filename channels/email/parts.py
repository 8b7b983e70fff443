"""Careful accessors for the MIME tree the stdlib parser builds.

Each one survives a tree the parser built from garbage: a multipart whose
payload is a string, a message/* part whose payload is a list, a
Content-Type header the header parser chokes on. The tree walk never
descends into ``message/*`` parts (a forwarded message's body is not our
body) and stops at a fixed depth so hostile nesting cannot exhaust the stack.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email import policy
from email.message import Message
from email.parser import BytesParser

MAX_DEPTH = 40
_MIME_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
_SERIALISE = policy.compat32.clone(linesep="\r\n")


def parse_tree(raw: bytes, problems: list[str]) -> tuple[Message | None, bool]:
    """Parse with ``policy.default``; if it crashes, compat32. Returns the tree and "fell back".

    The default policy parses Content-Type while building the tree, and its
    header parser raises on some damaged values (``text/html; chaq*`` raises
    IndexError in 3.11); compat32 never parses header values, so it survives.
    """
    try:
        return BytesParser(policy=policy.default).parsebytes(raw), False
    except Exception as exc:
        problems.append(f"parser failed: {type(exc).__name__}: {str(exc)[:200]}")
    try:
        return BytesParser(policy=policy.compat32).parsebytes(raw), True
    except Exception as exc:
        problems.append(f"compat32 parser failed: {type(exc).__name__}: {str(exc)[:200]}")
    return None, True


def content_type(part: Message) -> str:
    """The lower-cased ``type/subtype`` (RFC 6838 characters); ``application/octet-stream`` if unreadable."""
    try:
        value = part.get_content_type()
    except Exception:  # a header-parser bug must not lose the part
        return "application/octet-stream"
    return value if isinstance(value, str) and _MIME_TYPE.fullmatch(value) else "application/octet-stream"


def disposition(part: Message) -> str | None:
    """``inline``, ``attachment``, something else lower-cased, or None."""
    try:
        value = part.get_content_disposition()
    except Exception:
        return None
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


def children(part: Message) -> list[Message]:
    """Sub-parts of a multipart, or ``[]`` when the payload is not a list of messages."""
    if not part.is_multipart():
        return []
    return [child for child in part.get_payload() if isinstance(child, Message)]


def walk(part: Message, depth: int = 0) -> Iterator[Message]:
    """Depth-first parts, not entering message/* payloads, at most ``MAX_DEPTH`` deep."""
    yield part
    if depth >= MAX_DEPTH or not content_type(part).startswith("multipart/"):
        return
    for child in children(part):
        yield from walk(child, depth + 1)


def _serialise(inner: Message) -> bytes:
    try:
        return inner.as_bytes(policy=_SERIALISE)
    except Exception:  # the generator chokes on some damaged trees; try the text form
        pass
    try:
        return inner.as_string(policy=_SERIALISE).encode("utf-8", "surrogateescape")
    except Exception:
        return b""


def payload_bytes(part: Message) -> bytes:
    """The decoded content of a leaf part, or the serialised content of a message/* part.

    ``get_payload(decode=True)`` undoes base64 / quoted-printable and recovers
    raw 8-bit bytes. (Plain ``get_payload()`` is avoided: for 8-bit payloads it
    re-decodes with the declared charset and can raise on a hostile label.)
    For message/* parts, whose payload is a list, the contained message(s) are
    re-serialised with compat32, which keeps raw header values as they came.
    """
    if part.is_multipart():
        return b"\r\n".join(_serialise(inner) for inner in children(part))
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def body_source(part: Message) -> bytes:
    """The body of a part that should have been a multipart, as bytes (for boundary recovery)."""
    return b"" if part.is_multipart() else payload_bytes(part)
