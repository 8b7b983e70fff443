"""SIP messages: parse bytes into requests and responses, serialise them back, build responses.

Parsing is a single pass over the header block with ``partition`` and a dict
lookup per line.  It checks what a server needs before it can answer safely
(start line, the five mandatory request headers, CSeq/method agreement,
Content-Length) and nothing more; header values are otherwise kept verbatim.

A message that cannot be parsed raises :class:`SipParseError`.  The error
carries ``status_hint`` (the response RFC 3261 asks for, or ``None`` for
"drop silently") and ``partial``, a best-effort request holding whatever
header fields were readable, so the caller can still address a ``400 Bad
Request`` to the sender.  Bytes that are not UTF-8 survive a parse/serialise
round trip unchanged (``surrogateescape``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .headers import (
    CANONICAL,
    TOKEN_CHARS,
    HeaderValueError,
    SipHeaders,
    parse_cseq,
    parse_uint,
    parse_via,
    split_list,
)

MAX_DATAGRAM = 65_535
DEFAULT_MAX_MESSAGE_SIZE = 8_192
SIP_VERSION = "SIP/2.0"
SUPPORTED_URI_SCHEMES = frozenset({"sip", "sips", "tel"})
MANDATORY_REQUEST_HEADERS = ("via", "from", "to", "call-id", "cseq")
_SINGLE_VALUED = ("from", "to", "call-id", "cseq", "max-forwards")
_ENCODING = "utf-8"
_ERRORS = "surrogateescape"

REASON_PHRASES: dict[int, str] = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    305: "Use Proxy",
    380: "Alternative Service",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    410: "Gone",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    421: "Extension Required",
    423: "Interval Too Brief",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    484: "Address Incomplete",
    485: "Ambiguous",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    491: "Request Pending",
    493: "Undecipherable",
    500: "Server Internal Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    513: "Message Too Large",
    600: "Busy Everywhere",
    603: "Decline",
    604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
}


@dataclass(frozen=True, slots=True)
class SipRequest:
    method: str
    uri: str
    headers: SipHeaders = field(default_factory=SipHeaders)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def serialize(self) -> bytes:
        """Wire bytes; Content-Length is always rewritten to match ``body``."""
        return _serialize(f"{self.method} {self.uri} {SIP_VERSION}", self.headers, self.body)


@dataclass(frozen=True, slots=True)
class SipResponse:
    status: int
    reason: str
    headers: SipHeaders = field(default_factory=SipHeaders)
    body: bytes = b""

    def __post_init__(self) -> None:
        if not 100 <= self.status <= 699:
            raise ValueError(f"status {self.status} outside 100-699")
        if "\r" in self.reason or "\n" in self.reason:
            raise ValueError("reason phrase must be one line")

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def serialize(self) -> bytes:
        return _serialize(f"{SIP_VERSION} {self.status} {self.reason}", self.headers, self.body)


SipMessage = SipRequest | SipResponse


class SipParseError(Exception):
    """The peer sent something we cannot accept.

    ``status_hint`` is the response to send if ``partial`` is a request that
    can be answered (``None``: drop without answering); ``reason`` is a fixed
    phrase that never contains peer-supplied text, so it is safe to log and
    to put in a response.
    """

    def __init__(self, reason: str, status_hint: int | None = 400, partial: SipMessage | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_hint = status_hint
        self.partial = partial


def _serialize(start_line: str, headers: SipHeaders, body: bytes) -> bytes:
    parts = [start_line]
    length_written = False
    for name, value in headers:
        if name == "Content-Length":
            if length_written:
                continue
            value = str(len(body))
            length_written = True
        parts.append(f"{name}: {value}")
    if not length_written:
        parts.append(f"Content-Length: {len(body)}")
    parts.append("\r\n")
    return "\r\n".join(parts).encode(_ENCODING, _ERRORS) + body


def parse_message(data: bytes, *, max_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> SipMessage:
    """Parse one datagram or one framed stream message (see :class:`SipStreamFramer`).

    Leading CRLFs are skipped (§7.5).  A body longer than Content-Length is
    truncated and a shorter one is an error (§18.3).  Without Content-Length
    the rest of the datagram is the body.  Bare-LF line endings are tolerated.
    """
    start = 0
    while start < len(data) and data[start] in (13, 10):
        start += 1
    if start == len(data):
        raise SipParseError("empty message", None)
    head_end = data.find(b"\r\n\r\n", start)
    body_start = head_end + 4
    if head_end < 0:
        head_end = data.find(b"\n\n", start)
        body_start = head_end + 2
        if head_end < 0:  # no blank line: lenient, the whole datagram is the header block
            head_end = body_start = len(data)
    too_large = len(data) > max_size or len(data) > MAX_DATAGRAM
    if too_large and head_end - start > max_size:
        raise SipParseError("message too large", None)
    head = data[start:head_end].decode(_ENCODING, _ERRORS)
    lines = head.replace("\r\n", "\n").split("\n")
    items, header_error = _parse_header_lines(lines)
    headers = SipHeaders._trusted(items)
    first = lines[0]
    if first.startswith("SIP/"):
        message: SipMessage = _parse_status_line(first, headers)
    else:
        message = _parse_request_line(first, headers)
    if too_large:
        raise SipParseError("message too large", 513, message)
    if header_error is not None:
        raise SipParseError(header_error, 400, message)
    if isinstance(message, SipRequest):
        _check_request(message)
    else:
        _check_response(message)
    body = data[body_start:] if body_start < len(data) else b""
    lengths = headers.get_all("content-length")
    if lengths:
        try:
            length = parse_uint(lengths[0], "Content-Length", MAX_DATAGRAM)
            if any(parse_uint(v, "Content-Length", MAX_DATAGRAM) != length for v in lengths[1:]):
                raise HeaderValueError("conflicting Content-Length")
        except HeaderValueError as exc:
            raise SipParseError(str(exc), 400, message) from None
        if len(body) < length:
            raise SipParseError("body shorter than Content-Length", 400, message)
        body = body[:length]
    if not body:
        return message
    if isinstance(message, SipRequest):
        return SipRequest(message.method, message.uri, headers, body)
    return SipResponse(message.status, message.reason, headers, body)


def _parse_header_lines(lines: list[str]) -> tuple[list[tuple[str, str]], str | None]:
    """Header fields after the start line, folded lines joined; the first error is reported, not raised.

    Carrying on past a bad line lets the caller still find Via, From, To,
    Call-ID and CSeq to answer with a 400.
    """
    items: list[tuple[str, str]] = []
    error: str | None = None
    canonical = CANONICAL
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t":
            more = line.strip(" \t")
            if items and more:
                name, value = items[-1]
                items[-1] = (name, f"{value} {more}" if value else more)
            elif not items and error is None:
                error = "continuation line without a header"
            continue
        name, sep, value = line.partition(":")
        name = name.rstrip(" \t")
        canon = canonical.get(name.lower())
        if canon is None:
            if not sep or not name or not TOKEN_CHARS.issuperset(name):
                error = error or "malformed header line"
                continue
            canon = name
        elif not sep:
            error = error or "malformed header line"
            continue
        items.append((canon, value.strip(" \t")))
    return items, error


def _parse_request_line(line: str, headers: SipHeaders) -> SipRequest:
    parts = line.split(" ")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise SipParseError("malformed request line", None)
    method, uri, version = parts
    if not TOKEN_CHARS.issuperset(method):
        raise SipParseError("malformed method", None)
    request = SipRequest(method, uri, headers)
    if version.upper() != SIP_VERSION:
        hint = 505 if version.upper().startswith("SIP/") else 400
        raise SipParseError("unsupported SIP version", hint, request)
    scheme, colon, rest = uri.partition(":")
    if not colon or not rest or not scheme:
        raise SipParseError("malformed Request-URI", 400, request)
    if scheme.lower() not in SUPPORTED_URI_SCHEMES:
        raise SipParseError("unsupported URI scheme", 416, request)
    return request


def _parse_status_line(line: str, headers: SipHeaders) -> SipResponse:
    parts = line.split(" ", 2)
    if len(parts) < 2 or parts[0].upper() != SIP_VERSION:
        raise SipParseError("malformed status line", None)
    code = parts[1]
    if len(code) != 3 or not code.isascii() or not code.isdigit() or not 100 <= int(code) <= 699:
        raise SipParseError("malformed status code", None)
    reason = parts[2] if len(parts) == 3 else ""
    return SipResponse(int(code), reason.replace("\r", ""), headers)


def _check_request(request: SipRequest) -> None:
    fields = request.headers.by_key()
    for name in MANDATORY_REQUEST_HEADERS:
        values = fields.get(name)
        if not values or not values[0]:
            raise SipParseError(f"missing {CANONICAL[name]}", 400, request)
    for name in _SINGLE_VALUED:
        values = fields.get(name)
        if values is not None and len(values) > 1:
            raise SipParseError(f"duplicate {CANONICAL[name]}", 400, request)
    try:
        top = fields["via"][0]
        parse_via(split_list(top)[0] if "," in top else top)
        _number, cseq_method = parse_cseq(fields["cseq"][0])
        max_forwards = fields.get("max-forwards")
        if max_forwards is not None:
            parse_uint(max_forwards[0], "Max-Forwards", 255)
    except (HeaderValueError, IndexError) as exc:
        raise SipParseError(str(exc) if isinstance(exc, HeaderValueError) else "empty Via", 400, request) from None
    if cseq_method != request.method:
        raise SipParseError("CSeq method does not match request method", 400, request)


def _check_response(response: SipResponse) -> None:
    headers = response.headers
    try:
        via_list = headers.get_list("via")
        if not via_list:
            raise HeaderValueError("missing Via")
        parse_via(via_list[0])
        parse_cseq(headers.get("cseq") or "")
    except HeaderValueError as exc:
        raise SipParseError(str(exc), None, response) from None


def make_response(
    request: SipRequest,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
) -> SipResponse:
    """A response to ``request`` built per RFC 3261 §8.2.6.

    Via fields are copied in order, From, Call-ID and CSeq verbatim, To with
    ``to_tag`` appended unless the request already carried a tag (a tag is
    never put on a 100, which is hop-by-hop).  A 100 echoes Timestamp
    (§8.2.6.1).  ``headers`` are appended after those.
    """
    src = request.headers
    items: list[tuple[str, str]] = [("Via", via) for via in src.get_all("via")]
    from_value = src.get("from")
    if from_value is not None:
        items.append(("From", from_value))
    to_value = src.get("to")
    if to_value is not None:
        if to_tag and status != 100 and not has_tag(to_value):
            to_value = f"{to_value};tag={to_tag}"
        items.append(("To", to_value))
    for name in ("Call-ID", "CSeq"):
        value = src.get(name)
        if value is not None:
            items.append((name, value))
    if status == 100:
        timestamp = src.get("timestamp")
        if timestamp is not None:
            items.append(("Timestamp", timestamp))
    items.extend((CANONICAL.get(name.lower(), name), value) for name, value in headers)
    phrase = reason if reason is not None else REASON_PHRASES.get(status, "Unknown")
    return SipResponse(status, phrase, SipHeaders._trusted(items), body)


def has_tag(name_addr: str) -> bool:
    """Whether a From/To value carries a tag parameter (outside the URI's angle brackets)."""
    if "tag" not in name_addr.lower():
        return False
    close = name_addr.rfind(">")
    params = name_addr[close + 1 :] if close >= 0 else name_addr.partition(";")[2]
    return any(p.strip().lower().startswith("tag=") for p in params.split(";"))


def tag_of(name_addr: str) -> str:
    """A From/To value's tag parameter (outside the URI's angle brackets), or "" without one."""
    close = name_addr.rfind(">")
    params = name_addr[close + 1 :] if close >= 0 else name_addr.partition(";")[2]
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "tag":
            return value.strip()
    return ""


def dialog_id(request: SipRequest, to_tag: str | None = None) -> tuple[str, str, str]:
    """(Call-ID, From tag, To tag) (§12): ``to_tag`` is ours when we answer, else the request's own."""
    headers = request.headers
    to_tag = tag_of(headers.get("to") or "") if to_tag is None else to_tag
    return headers.get("call-id") or "", tag_of(headers.get("from") or ""), to_tag
