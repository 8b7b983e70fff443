"""The pure SIP layer of the voice channel: no sockets, no asyncio, no clock.

Time enters as ``now`` arguments and leaves as deadlines; bytes enter as
``datagram_received`` and leave as :class:`SendData`.  The I/O shell (UDP
socket, TCP connections with :class:`SipStreamFramer`, a timer on
``next_deadline``) lives outside this package.
"""

from .digest import DigestResult, DigestStatus, Ha1, make_authorization, make_challenge, verify
from .endpoint import SipEndpoint
from .events import (
    CallArrived,
    CallCancelled,
    CallCompleted,
    EndpointConfig,
    Registered,
    SipCounters,
    SipEvent,
    Trunk,
    Unregistered,
)
from .framing import SipFramingError, SipStreamFramer
from .headers import SipHeaders
from .message import SipParseError, SipRequest, SipResponse, make_response, parse_message
from .net import Address, SendData, Transport
from .registrar import Registrar
from .transactions import ServerTransactions
from .uri import CallerId, NameAddr, SipUri, caller_id, dialled_number, parse_name_addr, parse_uri

__all__ = [
    "Address",
    "CallArrived",
    "CallCancelled",
    "CallCompleted",
    "CallerId",
    "DigestResult",
    "DigestStatus",
    "EndpointConfig",
    "Ha1",
    "NameAddr",
    "Registered",
    "Registrar",
    "SendData",
    "ServerTransactions",
    "SipCounters",
    "SipEndpoint",
    "SipEvent",
    "SipFramingError",
    "SipHeaders",
    "SipParseError",
    "SipRequest",
    "SipResponse",
    "SipStreamFramer",
    "SipUri",
    "Transport",
    "Trunk",
    "Unregistered",
    "caller_id",
    "dialled_number",
    "make_authorization",
    "make_challenge",
    "make_response",
    "parse_message",
    "parse_name_addr",
    "parse_uri",
    "verify",
]
