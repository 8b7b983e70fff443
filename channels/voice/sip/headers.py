"""Header fields: canonical names, an ordered multi-map, and the few values we must understand.

Everything here is written for the hot path (one INVITE in, one 182 out):
values are kept as the strings that arrived and are only taken apart when
asked, with ``str.partition``/``split`` rather than regular expressions.
Compact forms (RFC 3261 §7.3.3) are expanded on the way in so nothing
downstream has to know that ``v`` means ``Via``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

# Full name for every compact form we accept (RFC 3261 §7.3.3 and later RFCs).
COMPACT_FORMS: dict[str, str] = {
    "a": "Accept-Contact",
    "b": "Referred-By",
    "c": "Content-Type",
    "d": "Request-Disposition",
    "e": "Content-Encoding",
    "f": "From",
    "i": "Call-ID",
    "j": "Reject-Contact",
    "k": "Supported",
    "l": "Content-Length",
    "m": "Contact",
    "o": "Event",
    "r": "Refer-To",
    "s": "Subject",
    "t": "To",
    "u": "Allow-Events",
    "v": "Via",
    "x": "Session-Expires",
    "y": "Identity",
}

_KNOWN_NAMES = (
    "Accept",
    "Accept-Encoding",
    "Accept-Language",
    "Alert-Info",
    "Allow",
    "Authentication-Info",
    "Authorization",
    "Call-ID",
    "Call-Info",
    "Contact",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Content-Length",
    "Content-Type",
    "CSeq",
    "Date",
    "Error-Info",
    "Expires",
    "From",
    "In-Reply-To",
    "Max-Forwards",
    "Min-Expires",
    "MIME-Version",
    "Organization",
    "P-Asserted-Identity",
    "P-Preferred-Identity",
    "Priority",
    "Privacy",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Proxy-Require",
    "Record-Route",
    "Reply-To",
    "Require",
    "Retry-After",
    "Route",
    "Server",
    "Subject",
    "Supported",
    "Timestamp",
    "To",
    "Unsupported",
    "User-Agent",
    "Via",
    "Warning",
    "WWW-Authenticate",
    "Allow-Events",
    "Event",
    "Session-Expires",
    "Referred-By",
    "Refer-To",
    "Diversion",
    "Remote-Party-ID",
)

# lower-case spelling (full or compact) -> canonical spelling
CANONICAL: dict[str, str] = {name.lower(): name for name in _KNOWN_NAMES}
CANONICAL.update(COMPACT_FORMS)

# Headers whose values are comma-separated lists of elements (§7.3.1).
LIST_HEADERS = frozenset(
    {
        "via",
        "contact",
        "route",
        "record-route",
        "require",
        "supported",
        "proxy-require",
        "unsupported",
        "allow",
        "p-asserted-identity",
    }
)

_IPV6_CHARS = frozenset("0123456789abcdefABCDEF:.")
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._")
TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~")


_NO_PARAMS: Mapping[str, str | None] = MappingProxyType({})


class HeaderValueError(ValueError):
    """A header value we need to understand does not have the expected shape."""


def canonical_name(name: str) -> str:
    """The spelling we store and serialise: compact forms expanded, known names in RFC case."""
    return CANONICAL.get(name.lower(), name)


# lower-case spelling (full or compact) -> lower-case canonical spelling, the index key
_INDEX_KEY: dict[str, str] = {short: full.lower() for short, full in COMPACT_FORMS.items()}


def _key(name: str) -> str:
    lower = name.lower()
    return _INDEX_KEY.get(lower, lower)


class SipHeaders:
    """Ordered header fields with case-insensitive lookup.

    Order matters in SIP (Via, Route), so the fields stay a tuple; the index
    exists because a request is asked for the same five headers many times,
    and is built on the first lookup (responses we build are only ever
    serialised, so they never pay for it).  Instances are immutable:
    ``replace`` returns a new one.
    """

    __slots__ = ("_index_cache", "_items")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: tuple[tuple[str, str], ...] = tuple((canonical_name(name), value) for name, value in items)
        self._index_cache: dict[str, list[str]] | None = None

    @classmethod
    def _trusted(cls, items: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> SipHeaders:
        """Build from names already canonical (the parser's fast path)."""
        self = cls.__new__(cls)
        self._items = tuple(items)
        self._index_cache = None
        return self

    @property
    def _index(self) -> dict[str, list[str]]:
        index = self._index_cache
        if index is None:
            index = self._index_cache = _build_index(self._items)
        return index

    def by_key(self) -> Mapping[str, list[str]]:
        """Values by lower-case canonical name, for hot loops that look up many fields; do not mutate."""
        return self._index

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first field value named ``name`` (full or compact), or ``default``."""
        values = self._index.get(_key(name))
        return values[0] if values else default

    def get_all(self, name: str) -> list[str]:
        """Every field value named ``name`` in order, without splitting commas."""
        return list(self._index.get(_key(name), ()))

    def get_list(self, name: str) -> list[str]:
        """The elements of a list header (Via, Contact, ...), commas split across all fields."""
        out: list[str] = []
        for value in self._index.get(_key(name), ()):
            out.extend(split_list(value))
        return out

    def count(self, name: str) -> int:
        return len(self._index.get(_key(name), ()))

    def replace(self, name: str, values: Iterable[str]) -> SipHeaders:
        """A copy with ``name`` holding ``values``: first occurrence kept in place, others dropped."""
        canon = canonical_name(name)
        lower = canon.lower()
        new: list[tuple[str, str]] = []
        pending = list(values)
        placed = False
        for item in self._items:
            if item[0].lower() != lower:
                new.append(item)
            elif not placed:
                new.extend((canon, value) for value in pending)
                placed = True
        if not placed:
            new.extend((canon, value) for value in pending)
        return SipHeaders._trusted(new)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _key(name) in self._index

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SipHeaders) and self._items == other._items

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        return f"SipHeaders({list(self._items)!r})"


def _build_index(items: tuple[tuple[str, str], ...]) -> dict[str, list[str]]:
    index: dict[str, list[str]] = {}
    for name, value in items:
        key = name.lower()
        bucket = index.get(key)
        if bucket is None:
            index[key] = [value]
        else:
            bucket.append(value)
    return index


def split_list(value: str) -> list[str]:
    """Split a list header on commas that are outside quotes and angle brackets."""
    if "," not in value:
        stripped = value.strip()
        return [stripped] if stripped else []
    if '"' not in value and "<" not in value:
        return [part.strip() for part in value.split(",") if part.strip()]
    out: list[str] = []
    start = 0
    quoted = angled = False
    escaped = False
    for i, ch in enumerate(value):
        if escaped:
            escaped = False
        elif quoted:
            if ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "<":
            angled = True
        elif ch == ">":
            angled = False
        elif ch == "," and not angled:
            out.append(value[start:i].strip())
            start = i + 1
    out.append(value[start:].strip())
    return [part for part in out if part]


def parse_params(text: str) -> dict[str, str | None]:
    """``;a=1;b;c="x"`` -> ``{"a": "1", "b": None, "c": "x"}``; names lower-cased, quotes removed."""
    params: dict[str, str | None] = {}
    for part in text.split(";"):
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if not name:
            continue
        if sep:
            value = value.strip()
            if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
                value = value[1:-1]
            params.setdefault(name, value)
        else:
            params.setdefault(name, None)
    return params


def parse_cseq(value: str) -> tuple[int, str]:
    """``"314159 INVITE"`` -> ``(314159, "INVITE")``; the number must fit 31 bits (§8.1.1.5)."""
    parts = value.split()
    if len(parts) != 2 or not parts[0].isascii() or not parts[0].isdigit() or len(parts[0]) > 10:
        raise HeaderValueError("malformed CSeq")
    number = int(parts[0])
    if number >= 2**31:
        raise HeaderValueError("CSeq number out of range")
    if not TOKEN_CHARS.issuperset(parts[1]):
        raise HeaderValueError("malformed CSeq method")
    return number, parts[1]


def parse_uint(value: str, what: str, limit: int = 2**32 - 1) -> int:
    """A non-negative decimal such as Content-Length or Expires, bounded so it cannot be abused."""
    value = value.strip()
    if not value or not value.isascii() or not value.isdigit() or len(value) > 10:
        raise HeaderValueError(f"malformed {what}")
    number = int(value)
    if number > limit:
        raise HeaderValueError(f"{what} out of range")
    return number


@dataclass(frozen=True, slots=True)
class Via:
    """One Via element: ``SIP/2.0/UDP host:port;branch=...``.

    ``params`` is read-only because parsed Vias are cached and shared.
    """

    transport: str
    host: str
    port: int | None
    params: Mapping[str, str | None]

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def sent_by(self) -> str:
        """``host:port`` with the default port filled in, as used in transaction keys (§17.2.3)."""
        host = self.host.lower()
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        port = self.port if self.port is not None else (5061 if self.transport == "TLS" else 5060)
        return f"{host}:{port}"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        out = f"SIP/2.0/{self.transport} {host}" + (f":{self.port}" if self.port is not None else "")
        for name, value in self.params.items():
            out += f";{name}" if value is None else f";{name}={value}"
        return out


@lru_cache(maxsize=256)
def parse_via(value: str) -> Via:
    """Parse one Via element (not a comma list); raises ``HeaderValueError``.

    Cached: one request's top Via is read by the parser's checks, the
    transport's received-stamping and the transaction key.
    """
    head, _, params_text = value.partition(";")
    tokens = head.split()
    if len(tokens) < 2:
        raise HeaderValueError("malformed Via")
    protocol = "".join(tokens[:-1]).split("/")
    if len(protocol) != 3 or protocol[0].upper() != "SIP" or protocol[1] != "2.0" or not protocol[2]:
        raise HeaderValueError("malformed Via protocol")
    host, port = parse_hostport(tokens[-1])
    params = MappingProxyType(parse_params(params_text)) if params_text else _NO_PARAMS
    return Via(protocol[2].upper(), host, port, params)


def parse_hostport(text: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port``; the host is returned without brackets."""
    if text.startswith("["):
        end = text.find("]")
        if end < 3:
            raise HeaderValueError("malformed IPv6 reference")
        host, rest = text[1:end], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise HeaderValueError("malformed host:port")
        port_text = rest[1:] if rest else None
        if not _IPV6_CHARS.issuperset(host):
            raise HeaderValueError("malformed IPv6 reference")
    else:
        host, sep, port_text_raw = text.partition(":")
        port_text = port_text_raw if sep else None
        if not host or not _HOST_CHARS.issuperset(host):
            raise HeaderValueError("malformed host")
    if port_text is None:
        return host, None
    port = parse_uint(port_text, "port", 65535)
    if port == 0:
        raise HeaderValueError("port out of range")
    return host, port
