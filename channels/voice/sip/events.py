"""What the SIP endpoint tells the application, how it is configured, and what it counts.

Events are facts in the past tense; each call produces exactly one
``CallArrived`` and then exactly one of ``CallCancelled`` or
``CallCompleted``.  Configuration fails loudly: a bad value names itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from .digest import ALGORITHMS, DEFAULT_NONCE_TTL, Ha1
from .message import DEFAULT_MAX_MESSAGE_SIZE, MAX_DATAGRAM
from .net import Address, Transport
from .registrar import DEFAULT_EXPIRES, MAX_EXPIRES, MIN_EXPIRES
from .transactions import T1, T2, T4

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class CallArrived:
    """A new call is waiting for an answer: ``mark_queued``, ``redirect`` or ``reject`` it.

    ``gateway`` names the trusted trunk it came from; ``user`` is the digest
    user when it was authenticated instead.  ``caller`` is E.164-ish (digits,
    optional ``+``) or None for anonymous callers; ``caller_uri`` is the URI
    the caller ID was taken from, so a caller without a number (a SIP user)
    can still be told apart.
    """

    call_key: str
    call_id: str
    dialled: str | None
    caller: str | None
    caller_display: str | None
    source: Address
    transport: Transport
    gateway: str | None = None
    user: str | None = None
    caller_uri: str | None = None

    def __post_init__(self) -> None:
        if not self.call_key or not self.call_id:
            raise ValueError("CallArrived needs call_key and call_id")


@dataclass(frozen=True, slots=True)
class CallCancelled:
    """The caller hung up while waiting; 487 has been sent."""

    call_key: str


@dataclass(frozen=True, slots=True)
class CallCompleted:
    """Our final answer (``status``) was acknowledged, or Timer H gave up waiting for the ACK."""

    call_key: str
    status: int
    acknowledged: bool

    def __post_init__(self) -> None:
        if not 300 <= self.status <= 699:
            raise ValueError(f"CallCompleted status {self.status} is not a failure/redirect")


@dataclass(frozen=True, slots=True)
class Registered:
    """A softphone registered or refreshed; ``expires`` is in seconds."""

    user: str
    contact: str
    expires: int


@dataclass(frozen=True, slots=True)
class Unregistered:
    """A binding was removed by its phone or lapsed."""

    user: str
    contact: str


SipEvent = CallArrived | CallCancelled | CallCompleted | Registered | Unregistered


@dataclass(frozen=True, slots=True)
class Trunk:
    """A trusted gateway/PBX: INVITEs from ``networks`` need no authentication."""

    name: str
    networks: tuple[Network, ...]

    @classmethod
    def from_strings(cls, name: str, networks: list[str] | tuple[str, ...]) -> Trunk:
        parsed: list[Network] = []
        for text in networks:
            try:
                parsed.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                raise ValueError(f"trunks.{name}.networks: {text!r} is not an IP network") from None
        return cls(name, tuple(parsed))

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("trunks: a trunk needs a name")
        if not self.networks:
            raise ValueError(f"trunks.{self.name}.networks: at least one network is required")


@dataclass(frozen=True, slots=True)
class EndpointConfig:
    """Everything the endpoint needs; times in seconds.

    ``credentials`` maps a digest username to its password or stored
    :class:`Ha1` (None: unknown);
    without it REGISTER is refused and untrusted INVITEs cannot be
    authenticated.  ``invite_auth`` makes INVITEs from outside every trunk
    answer 407 instead of 403.
    """

    realm: str
    nonce_secret: bytes
    tag_secret: bytes
    trunks: tuple[Trunk, ...] = ()
    credentials: Callable[[str], str | Ha1 | None] | None = None
    invite_auth: bool = False
    digest_algorithms: tuple[str, ...] = ("MD5",)
    nonce_ttl: float = DEFAULT_NONCE_TTL
    queued_interval: float = 10.0
    max_queue_seconds: float = 3600.0
    max_calls: int = 10_000
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    t1: float = T1
    t2: float = T2
    t4: float = T4
    min_expires: int = MIN_EXPIRES
    max_expires: int = MAX_EXPIRES
    default_expires: int = DEFAULT_EXPIRES
    server_name: str | None = "contactcenter"

    def __post_init__(self) -> None:
        checks = {
            "realm": bool(self.realm) and '"' not in self.realm,
            "nonce_secret": len(self.nonce_secret) >= 16,
            "tag_secret": len(self.tag_secret) >= 16,
            "digest_algorithms": bool(self.digest_algorithms) and all(a in ALGORITHMS for a in self.digest_algorithms),
            "nonce_ttl": self.nonce_ttl > 0,
            "queued_interval": self.queued_interval > 0,
            "max_queue_seconds": self.max_queue_seconds > 0,
            "max_calls": self.max_calls > 0,
            "max_message_size": 512 <= self.max_message_size <= MAX_DATAGRAM,
            "t1": 0 < self.t1 <= self.t2,
            "t4": self.t4 >= 0,
            "invite_auth": not self.invite_auth or self.credentials is not None,
            "min_expires": 0 < self.min_expires <= self.default_expires <= self.max_expires,
        }
        for key, ok in checks.items():
            if not ok:
                raise ValueError(f"sip.{key}: invalid value {getattr(self, key)!r}")


@dataclass(slots=True)
class SipCounters:
    """Monotonic counters for metrics; the shell exports them, nothing here resets them."""

    received: int = 0
    keepalives: int = 0
    malformed: int = 0
    malformed_answered: int = 0
    responses_ignored: int = 0
    forbidden: int = 0
    challenged: int = 0
    overloaded: int = 0
    calls_arrived: int = 0
    calls_cancelled: int = 0
    calls_completed: int = 0
    calls_timed_out: int = 0
