"""Find the body and the attachments in a parsed MIME tree.

What counts as the body: ``text/plain`` and ``text/html`` parts that are not
marked ``attachment`` and carry no filename (a named text part is a file the
customer attached). Inside ``multipart/alternative`` the *first* plain
alternative and the *last* HTML alternative win (RFC 2046 orders alternatives
from plainest to richest); inside every other multipart (mixed, related,
signed, report ...) body parts are concatenated in order, which keeps both
halves of an Apple Mail message split around an inline picture. Everything
else, including ``message/*`` parts, becomes an attachment.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email.message import Message

from channels.email.charsets import decode_bytes
from channels.email.headers import clean_text, header_params, raw_value, recover_8bit
from channels.email.model import Attachment
from channels.email.parts import (
    MAX_DEPTH,
    body_source,
    children,
    content_type,
    disposition,
    parse_tree,
    payload_bytes,
)

_BODY_TYPES = ("text/plain", "text/html")
_META_CHARSET = re.compile(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]{1,40})", re.IGNORECASE)
_BOUNDARY_LINE = re.compile(rb"^--([^\s\"]{1,200}?)[ \t]*\r?$", re.MULTILINE)


@dataclass(slots=True)
class Body:
    """What the walk collected: body texts in order, and every other part as an attachment."""

    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)


def unflow(text: str, *, delsp: bool) -> str:
    """Undo RFC 3676 ``format=flowed``: a line ending in a space continues on the next line.

    Quote depth (leading ``>``) must match for lines to join, space-stuffing is
    removed, and the signature separator ``-- `` is never treated as flowed.
    """
    out: list[str] = []
    pending: str | None = None
    pending_depth = 0

    def render(depth: int, content: str) -> str:
        return ">" * depth + (" " if depth and content else "") + content

    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]
        flowed = content.endswith(" ") and content != "-- "
        if flowed and delsp:
            content = content[:-1]
        if pending is not None:
            if depth == pending_depth:
                content = pending + content
            else:
                out.append(render(pending_depth, pending))
            pending = None
        if flowed:
            pending, pending_depth = content, depth
        else:
            out.append(render(depth, content))
    if pending is not None:
        out.append(render(pending_depth, pending))
    return "\n".join(out)


def tidy_text(text: str) -> str:
    """LF newlines and no NULs: PostgreSQL text columns reject NUL, and CRLF is transport noise."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def _filename(part: Message, problems: list[str]) -> str | None:
    """Content-Disposition ``filename``, else Content-Type ``name``, decoded, without any path."""
    for header, key in (("Content-Disposition", "filename"), ("Content-Type", "name")):
        value = header_params(raw_value(part, header), problems).get(key)
        if value:
            name = re.split(r"[\\/]", value)[-1].strip()
            name = "".join(char for char in name if char.isprintable())
            if name and name not in (".", ".."):
                return name
    return None


def _content_id(part: Message) -> str | None:
    value = raw_value(part, "Content-ID")
    if value is None:
        return None
    core = clean_text(recover_8bit(value)).strip("<> ")
    return core or None


def is_body_text(part: Message, kind: str, problems: list[str]) -> bool:
    """Plain or HTML, not marked attachment, unnamed: anything named is a file, even if it is text."""
    return kind in _BODY_TYPES and disposition(part) != "attachment" and _filename(part, problems) is None


def decode_text_part(part: Message, kind: str, problems: list[str]) -> str:
    """Decode a text part with our charset rules; newlines become ``\\n``, NULs go."""
    params = header_params(raw_value(part, "Content-Type"), problems)
    data = payload_bytes(part)
    charset = params.get("charset")
    if charset is None and kind == "text/html":
        match = _META_CHARSET.search(data[:4096])
        charset = match.group(1).decode("ascii") if match else None
    decoded = decode_bytes(data, charset)
    if decoded.problem:
        problems.append(f"{kind}: {decoded.problem}")
    text = tidy_text(decoded.text)
    if kind == "text/plain" and params.get("format", "").lower() == "flowed":
        text = unflow(text, delsp=params.get("delsp", "").lower() == "yes")
    return text


def make_attachment(part: Message, kind: str, limit: int, problems: list[str]) -> Attachment:
    """An ``Attachment`` for ``part``; over ``limit`` bytes it keeps size and hash but not the data.

    A part with a Content-ID and no disposition counts as inline: that is how
    ``multipart/related`` images referenced by ``cid:`` usually arrive.
    """
    data = payload_bytes(part)
    filename = _filename(part, problems)
    content_id = _content_id(part)
    found = disposition(part)
    over = len(data) > limit
    if over:
        problems.append(
            f"attachment {filename or kind!r} is {len(data)} bytes, over the {limit}-byte limit; content dropped"
        )
    return Attachment(
        filename=filename,
        content_type=kind,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content_id=content_id,
        inline=found == "inline" or (found is None and content_id is not None),
        data=None if over else data,
        over_limit=over,
    )


def recover_multipart(part: Message, kind: str, problems: list[str]) -> Message | None:
    """Re-parse a multipart whose declared boundary never appears, using the first ``--x`` line.

    Broken mailers and hand-edited forwards produce these; without recovery
    the whole message would show as raw MIME source.
    """
    source = body_source(part)
    match = _BOUNDARY_LINE.search(source)
    if match is None:
        return None
    boundary = match.group(1)
    header = b"Content-Type: " + kind.encode("ascii", "replace") + b'; boundary="' + boundary + b'"\r\n\r\n'
    recovered, _ = parse_tree(header + source, problems)
    if recovered is None or not children(recovered):
        return None
    problems.append(f"{kind}: declared boundary not found; recovered with {boundary.decode('latin-1')!r}")
    return recovered


def record_defects(part: Message, kind: str, problems: list[str]) -> None:
    """Note the parser's defects for ``part`` (decoding adds some, so call this after decoding)."""
    for defect in part.defects:
        detail = str(defect)
        problems.append(f"{kind}: {type(defect).__name__}" + (f": {detail}" if detail else ""))


def collect(part: Message, limit: int, problems: list[str], *, depth: int = 0, body: Body | None = None) -> Body:
    """Walk ``part`` and return its body texts and attachments (see the module docstring)."""
    body = body if body is not None else Body()
    kind = content_type(part)
    try:
        _collect_part(part, kind, limit, problems, depth, body)
    finally:
        record_defects(part, kind, problems)
    return body


def _collect_part(part: Message, kind: str, limit: int, problems: list[str], depth: int, body: Body) -> None:
    if depth > MAX_DEPTH:
        problems.append(f"MIME nesting deeper than {MAX_DEPTH}; inner parts ignored")
        return
    if kind.startswith("multipart/"):
        kids = children(part)
        if not kids:
            recovered = recover_multipart(part, kind, problems) if depth < MAX_DEPTH else None
            if recovered is None:
                text = tidy_text(decode_bytes(body_source(part), None).text)
                if text.strip():
                    body.plain.append(text)
                return
            record_defects(recovered, kind, problems)
            kids = children(recovered)
        if kind == "multipart/alternative":
            _collect_alternative(kids, limit, problems, depth, body)
        else:
            for kid in kids:
                collect(kid, limit, problems, depth=depth + 1, body=body)
        return
    if is_body_text(part, kind, problems):
        target = body.plain if kind == "text/plain" else body.html
        target.append(decode_text_part(part, kind, problems))
    else:
        body.attachments.append(make_attachment(part, kind, limit, problems))


def _collect_alternative(kids: list[Message], limit: int, problems: list[str], depth: int, body: Body) -> None:
    alternatives = [collect(kid, limit, problems, depth=depth + 1) for kid in kids]
    body.plain += next((alt.plain for alt in alternatives if alt.plain), [])
    body.html += next((alt.html for alt in reversed(alternatives) if alt.html), [])
    for alternative in alternatives:
        body.attachments += alternative.attachments
