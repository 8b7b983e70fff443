"""Read header fields from raw values, tolerating what real mail does to them.

We read the *raw* field values (``Message.raw_items``) instead of the
``email.policy.default`` header objects for three reasons: the header objects
decode RFC 2047 words with the declared charset, so ``=?gb2312?B?...?=``
holding GBK characters comes out garbled; raw 8-bit bytes (common from older
Chinese clients) come out as U+FFFD; and a pathological value can make the
header parser raise. Here every function takes a string and returns a best
effort, appending a note to ``problems`` instead of raising.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from email.message import Message
from email.utils import decode_rfc2231, getaddresses, parsedate_to_datetime
from urllib.parse import unquote

from channels.email.charsets import decode_bytes, guess_8bit

_FOLD = re.compile(r"\r?\n(?=[ \t])")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_Q_ESCAPE = re.compile(rb"=([0-9A-Fa-f]{2})")
_NOT_B64 = re.compile(r"[^A-Za-z0-9+/]")
_ANGLE_ID = re.compile(r"<([^<>]*)>")
_WHITESPACE = re.compile(r"\s+")


def unfold(value: str) -> str:
    """Join folded lines and drop stray CR/LF (RFC 5322 §2.2.3)."""
    return _FOLD.sub("", value).replace("\r", "").replace("\n", "")


def recover_8bit(value: str, problems: list[str] | None = None) -> str:
    """Turn surrogate-escaped raw bytes (how the parser keeps 8-bit header bytes) into text."""
    if not any("\udc80" <= char <= "\udcff" for char in value):
        return value
    data = value.encode("utf-8", "surrogateescape")
    decoded = guess_8bit(data)
    if decoded.problem and problems is not None:
        problems.append(f"raw 8-bit header: {decoded.problem}")
    return decoded.text


def raw_values(part: Message, name: str, problems: list[str] | None = None) -> list[str]:
    """Every value of header ``name`` on ``part``, in order: unfolded, raw 8-bit bytes decoded.

    Decoding 8-bit here, at the single entry point, means no lone surrogate
    can leak into a field that later meets the database or an encoder.
    """
    wanted = name.lower()
    values = [value for key, value in part.raw_items() if key.lower() == wanted]
    return [recover_8bit(unfold(str(value)), problems) for value in values]


def raw_value(part: Message, name: str, problems: list[str] | None = None) -> str | None:
    """The first value of ``name``: a repeated header keeps its first (RFC 5322 allows one)."""
    values = raw_values(part, name, problems)
    return values[0] if values else None


def _word_bytes(encoding: str, encoded: str) -> bytes:
    if encoding in "bB":
        cleaned = _NOT_B64.sub("", encoded)
        cleaned = cleaned[: len(cleaned) - len(cleaned) % 4] if len(cleaned) % 4 == 1 else cleaned
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4))
    data = encoded.replace("_", " ").encode("utf-8", "surrogateescape")
    return _Q_ESCAPE.sub(lambda match: bytes([int(match.group(1), 16)]), data)


def decode_words(value: str, problems: list[str] | None = None) -> str:
    """Decode RFC 2047 encoded words, our charset rules applied.

    Adjacent encoded words in the same charset are joined *as bytes* before
    decoding, because many encoders split a GBK or UTF-8 character across two
    words; whitespace between encoded words is dropped as RFC 2047 §6.2 says.
    """
    pieces: list[tuple[str | bytes, str | None]] = []
    position = 0
    previous_encoded = False
    for match in _ENCODED_WORD.finditer(value):
        literal = value[position : match.start()]
        if literal and not (previous_encoded and literal.isspace()):
            pieces.append((literal, None))
        charset, encoding, encoded = match.groups()
        try:
            data = _word_bytes(encoding, encoded)
        except (binascii.Error, ValueError):
            if problems is not None:
                problems.append(f"undecodable encoded word {match.group(0)[:60]!r}")
            pieces.append((match.group(0), None))
            previous_encoded = False
        else:
            last = pieces[-1] if pieces else None
            if last is not None and isinstance(last[0], bytes) and last[1] == charset.lower():
                pieces[-1] = (last[0] + data, last[1])
            else:
                pieces.append((data, charset.lower()))
            previous_encoded = True
        position = match.end()
    if not pieces:
        return value
    tail = value[position:]
    if tail:
        pieces.append((tail, None))
    out: list[str] = []
    for piece, charset in pieces:
        if isinstance(piece, str):
            out.append(piece)
            continue
        decoded = decode_bytes(piece, charset)
        if decoded.problem and problems is not None:
            problems.append(f"encoded word: {decoded.problem}")
        out.append(decoded.text)
    return "".join(out)


def clean_text(value: str) -> str:
    """Make a decoded header single-line and free of NULs (PostgreSQL text cannot hold them)."""
    return _WHITESPACE.sub(" ", value.replace("\x00", "")).strip()


def header_text(value: str | None, problems: list[str] | None = None) -> str:
    """A human-readable header (Subject, display names): raw bytes recovered, words decoded."""
    if value is None:
        return ""
    return clean_text(decode_words(recover_8bit(value, problems), problems))


_ADDRESS_SPECIALS = frozenset('<>()[],;:\\"')


def plausible_address(address: str) -> bool:
    """``local@domain`` with both parts present and no whitespace, controls or specials.

    Non-ASCII stays allowed (internationalised addresses exist); quoted local
    parts with specials are rejected, a price worth paying against junk.
    """
    local, at, domain = address.rpartition("@")
    return bool(
        at
        and local
        and domain
        and "@" not in domain
        and all(char.isprintable() and not char.isspace() and char not in _ADDRESS_SPECIALS for char in address)
    )


def parse_addresses(value: str | None, problems: list[str] | None = None) -> list[tuple[str, str]]:
    """``(display name, lower-cased addr-spec)`` pairs; implausible addresses are skipped.

    Address syntax is parsed *before* decoding encoded words, so a decoded name
    containing a comma or ``<`` cannot split or hijack the address.
    """
    if not value:
        return []
    text = recover_8bit(value, problems)
    result: list[tuple[str, str]] = []
    for name, address in getaddresses([text]):
        address = address.strip().strip("<>").strip().lower()
        if not plausible_address(address):
            continue
        result.append((header_text(name, problems), address))
    return result


def normalise_msgid(value: str | None) -> str | None:
    """``<id>`` with whitespace and control characters removed and case kept, or None when empty."""
    if value is None:
        return None
    core = "".join(char for char in value if char.isprintable() and not char.isspace()).strip("<>")
    if not core or "<" in core or ">" in core:
        return None
    return f"<{core}>"


def parse_msgids(value: str | None) -> list[str]:
    """Message-IDs in a Message-ID / In-Reply-To / References value, in order, deduplicated.

    Angle-bracketed ids win; a value with none (some clients send bare ids) is
    split on whitespace and tokens containing ``@`` are kept.
    """
    if not value:
        return []
    found = _ANGLE_ID.findall(value)
    if not found:
        found = [token for token in value.replace(",", " ").split() if "@" in token]
    normalised = (normalise_msgid(item) for item in found)
    return list(dict.fromkeys(item for item in normalised if item is not None))


def parse_date(value: str | None, problems: list[str] | None = None) -> datetime | None:
    """An aware datetime; ``-0000`` (no zone information) is read as UTC."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        if problems is not None:
            problems.append(f"unparseable Date header {value[:60]!r}")
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _naive_params(value: str) -> list[tuple[str, str | tuple[str, str, str]]]:
    """``key=value`` pairs split on ``;``, for values the stdlib parameter code chokes on.

    Continuations are not joined; an extended ``key*=charset'lang'%XX`` value is
    still decoded, so the usual single-part RFC 2231 filename survives.
    """
    pairs: list[tuple[str, str | tuple[str, str, str]]] = []
    for chunk in value.split(";")[1:]:
        key, equals, raw = chunk.partition("=")
        if not equals:
            continue
        name, _, section = key.strip().partition("*")
        raw = raw.strip().strip('"')
        charset, language, text = decode_rfc2231(raw)
        if section.endswith("*") or (section == "" and key.strip().endswith("*")):
            pairs.append((name, (charset or "", language or "", unquote(text, encoding="latin-1"))))
        else:
            pairs.append((name, raw))
    return pairs


def header_params(value: str | None, problems: list[str] | None = None) -> dict[str, str]:
    """Decoded parameters of a Content-Type / Content-Disposition value.

    RFC 2231 (``filename*=UTF-8''...``, continuations) is handled by the stdlib
    compat32 parameter code; the resulting bytes then go through our charset
    rules, and RFC 2047 words inside quoted values (what Foxmail and Outlook
    send for Chinese filenames) are decoded too.
    """
    if not value:
        return {}
    holder = Message()
    holder["Content-Type"] = recover_8bit(value, problems)
    try:
        found = holder.get_params(header="content-type", failobj=[])[1:]
    except (TypeError, ValueError, IndexError):  # e.g. mixed ``name*0*`` / ``name*`` continuations
        if problems is not None:
            problems.append(f"unparseable parameters in {value[:80]!r}; read naively")
        found = _naive_params(holder["Content-Type"])
    params: dict[str, str] = {}
    for key, raw in found:
        key = key.strip().lower()
        if not key or key in params:
            continue
        if isinstance(raw, tuple):
            charset, _language, text = raw
            try:
                data = text.encode("latin-1")
            except UnicodeEncodeError:
                data = text.encode("utf-8", "surrogateescape")
            decoded = decode_bytes(data, charset or "utf-8")
            if decoded.problem and problems is not None:
                problems.append(f"parameter {key}: {decoded.problem}")
            text = decoded.text
        else:
            text = raw
        params[key] = clean_text(decode_words(text, problems))
    return params
