"""Where bytes come from and go to: transports, addresses and the ``SendData`` decision.

The SIP core never touches a socket.  It names a destination and a transport
and leaves the sending to the I/O shell, which owns the UDP socket and the
TCP connections (a TCP destination is the peer address of an open
connection, because §18.2.2 answers stream requests on the same connection).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

Address = tuple[str, int]
"""A (host, port) pair as asyncio hands it to ``datagram_received``."""


class Transport(StrEnum):
    UDP = "udp"
    TCP = "tcp"
    TLS = "tls"

    @property
    def reliable(self) -> bool:
        """Reliable transports switch off Timers G, I and J (RFC 3261 §17.2)."""
        return self is not Transport.UDP


@dataclass(frozen=True, slots=True)
class SendData:
    """Send ``data`` to ``dest`` over ``transport``; the shell must not alter the bytes."""

    data: bytes
    dest: Address
    transport: Transport = Transport.UDP

    def __post_init__(self) -> None:
        if not isinstance(self.data, bytes) or not self.data:
            raise ValueError("SendData needs non-empty bytes")
        host, port = self.dest
        if not host or not 0 < port < 65536:
            raise ValueError(f"bad destination {self.dest!r}")
