"""Cut a TCP/TLS byte stream into SIP messages (RFC 3261 §18.3).

On a stream the blank line ends the header block and Content-Length says
how many body bytes follow; there is no other delimiter, so a bad or
oversized Content-Length leaves the stream unrecoverable and the connection
must be closed.  CRLFs between messages are keep-alives (RFC 5626 §3.5.1)
and are skipped.
"""

from __future__ import annotations

from typing import NoReturn

from .message import DEFAULT_MAX_MESSAGE_SIZE, SipParseError

_CRLF_BYTES = b"\r\n"


class SipFramingError(SipParseError):
    """The stream cannot be framed any more; close the connection.

    ``messages`` holds the complete messages cut before the fault, which the
    caller should still process.
    """

    def __init__(self, reason: str, status_hint: int | None, messages: list[bytes]) -> None:
        super().__init__(reason, status_hint)
        self.messages = messages


class SipStreamFramer:
    """Feed bytes as they arrive; get back whole messages, each ready for ``parse_message``."""

    def __init__(self, max_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        if max_size < 64:
            raise ValueError("max_size must be at least 64 bytes")
        self.max_size = max_size
        self.keepalives = 0
        self._buffer = bytearray()
        self._failed: str | None = None

    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete message (for the shell's idle/slowloris checks)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Append ``data``; return every message it completes, in order.

        Raises :class:`SipFramingError` once the stream is unusable, and on
        every later call.
        """
        if self._failed is not None:
            raise SipFramingError(self._failed, None, [])
        buffer = self._buffer
        buffer += data
        out: list[bytes] = []
        while buffer:
            if buffer[0] in (10, 13):
                self.keepalives += 1
                del buffer[: len(buffer) - len(buffer.lstrip(_CRLF_BYTES))]
                if not buffer:
                    break
            head_end = buffer.find(b"\r\n\r\n")
            if head_end < 0:
                if len(buffer) > self.max_size:
                    self._fail("header block too large", 513, out)
                break
            head_size = head_end + 4
            if head_size > self.max_size:
                self._fail("header block too large", 513, out)
            try:
                length = _content_length(bytes(buffer[:head_end]))
            except ValueError:
                self._fail("malformed Content-Length", 400, out)
            total = head_size + length
            if total > self.max_size:
                self._fail("message too large", 513, out)
            if len(buffer) < total:
                break
            out.append(bytes(buffer[:total]))
            del buffer[:total]
        return out

    def _fail(self, reason: str, status: int, messages: list[bytes]) -> NoReturn:
        self._failed = reason
        self._buffer.clear()
        raise SipFramingError(reason, status, messages)


def _content_length(head: bytes) -> int:
    """Content-Length (or ``l``) from a raw header block; absent means 0; conflicting is an error."""
    found: int | None = None
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        name = name.strip().lower()
        if name != b"content-length" and name != b"l":
            continue
        value = value.strip()
        if not value.isdigit() or len(value) > 10:
            raise ValueError("malformed Content-Length")
        number = int(value)
        if found is not None and found != number:
            raise ValueError("conflicting Content-Length")
        found = number
    return found or 0
