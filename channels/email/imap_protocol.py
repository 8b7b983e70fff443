"""Read the IMAP responses the poller needs out of aioimaplib's raw lines (pure).

aioimaplib hands back a command's untagged lines as ``bytes`` with each
literal (a message body) as a separate ``bytearray`` right after the line that
announced it. These functions turn that into UIDs, sizes and bodies, and build
the compact UID sets (``101:140,142``) commands take, so the I/O code stays a
sequence of commands and can be tested against recorded lines.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_FETCH_START = re.compile(rb"^\d+ FETCH \(", re.IGNORECASE)
_UID = re.compile(rb"[( ]UID (\d+)", re.IGNORECASE)
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)", re.IGNORECASE)
_BODY_LITERAL = re.compile(rb"BODY\[\] \{\d+\}$", re.IGNORECASE)
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]", re.IGNORECASE)
_UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]", re.IGNORECASE)
_EXISTS = re.compile(rb"^(\d+) EXISTS", re.IGNORECASE)

# Longest UID set we put on one command line; servers limit lines to ~8 KB or more.
MAX_SET_LENGTH = 4000


@dataclass(frozen=True, slots=True)
class Selected:
    """What SELECT told us about the folder."""

    uidvalidity: int
    uidnext: int | None
    exists: int


@dataclass(frozen=True, slots=True)
class Fetched:
    """One message of a FETCH answer: its UID, its size, and its bytes when they were asked for."""

    uid: int
    size: int | None = None
    body: bytes | None = None


def uid_set(uids: Iterable[int]) -> str:
    """``[101, 102, 103, 107]`` → ``"101:103,107"`` (sorted, without repeats)."""
    ordered = sorted(set(uids))
    if not ordered:
        raise ValueError("a UID set needs at least one UID")
    parts: list[str] = []
    start = previous = ordered[0]
    for uid in ordered[1:]:
        if uid == previous + 1:
            previous = uid
            continue
        parts.append(f"{start}:{previous}" if previous != start else str(start))
        start = previous = uid
    parts.append(f"{start}:{previous}" if previous != start else str(start))
    return ",".join(parts)


def chunk_uid_sets(uids: Sequence[int], *, max_length: int = MAX_SET_LENGTH,
                   max_items: int | None = None) -> list[list[int]]:
    """Split ``uids`` so each part's set fits on one command line (and has at most ``max_items``)."""
    chunks: list[list[int]] = []
    current: list[int] = []
    length = 0
    for uid in sorted(set(uids)):
        # A conservative running length: every UID counted as if it started a new range.
        length += len(str(uid)) + 1
        if current and (length > max_length or (max_items is not None and len(current) >= max_items)):
            chunks.append(current)
            current, length = [], len(str(uid)) + 1
        current.append(uid)
    if current:
        chunks.append(current)
    return chunks


def parse_select(lines: Sequence[bytes | bytearray]) -> Selected:
    """UIDVALIDITY (required: without it UIDs mean nothing), UIDNEXT and EXISTS from a SELECT answer."""
    uidvalidity: int | None = None
    uidnext: int | None = None
    exists = 0
    for line in lines:
        text = bytes(line)
        if match := _UIDVALIDITY.search(text):
            uidvalidity = int(match[1])
        if match := _UIDNEXT.search(text):
            uidnext = int(match[1])
        if match := _EXISTS.match(text):
            exists = int(match[1])
    if uidvalidity is None:
        raise ValueError("the server's SELECT answer has no UIDVALIDITY")
    return Selected(uidvalidity, uidnext, exists)


def parse_search(lines: Sequence[bytes | bytearray]) -> list[int]:
    """UIDs of a (UID) SEARCH answer; aioimaplib leaves them on the first line, without ``SEARCH``."""
    found: list[int] = []
    for line in lines[:-1]:  # the last line is the tagged status text
        for token in bytes(line).split():
            if token.isdigit():
                found.append(int(token))
    return sorted(set(found))


def parse_fetch(lines: Sequence[bytes | bytearray]) -> dict[int, Fetched]:
    """Messages of a UID FETCH answer, by UID.

    Servers interleave unsolicited ``FETCH (FLAGS ...)`` updates with the
    answer and may put the items in any order, so every ``n FETCH (`` line
    opens a record that collects the following text lines and the literal
    that a ``BODY[] {n}`` announced. A record with a body wins over a bare
    flag update for the same UID.
    """
    found: dict[int, Fetched] = {}
    uid: int | None = None
    size: int | None = None
    body: bytes | None = None
    expect_body = False

    def close() -> None:
        if uid is None:
            return
        earlier = found.get(uid)
        if earlier is None or (earlier.body is None and body is not None) or (earlier.size is None and size):
            found[uid] = Fetched(uid, size if size is not None else (earlier.size if earlier else None),
                                 body if body is not None else (earlier.body if earlier else None))

    for line in lines:
        if isinstance(line, bytearray):
            if expect_body:
                body = bytes(line)
            expect_body = False
            continue
        if _FETCH_START.match(line):
            close()
            uid, size, body = None, None, None
        if match := _UID.search(line):
            uid = int(match[1])
        if match := _SIZE.search(line):
            size = int(match[1])
        expect_body = bool(_BODY_LITERAL.search(line.rstrip()))
    close()
    return found


def announces_mail(line: bytes | bytearray) -> bool:
    """An untagged ``n EXISTS``: the folder has (possibly) new messages."""
    return bool(_EXISTS.match(bytes(line).lstrip(b"* ")))


def encode_folder(name: str) -> str:
    """A folder name in IMAP's modified UTF-7 (RFC 3501 §5.1.3): ``客服`` → ``&W6JnDQ-``."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            encoded = base64.b64encode("".join(pending).encode("utf-16-be")).decode("ascii")
            out.append("&" + encoded.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def quote_folder(name: str) -> str:
    """``encode_folder`` as an IMAP quoted string when it needs quoting (spaces, quotes, specials)."""
    encoded = encode_folder(name)
    if encoded and all(char.isalnum() or char in "/.-_&,+" for char in encoded):
        return encoded
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'
