"""Small tools for the voice channel tests: a raw UDP SIP peer, SIPp races, Contact regexps."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Awaitable
from typing import TypeVar
from xml.sax.saxutils import escape

from harness.sipp import SippRun

T = TypeVar("T")


def contact_regexp(uri_pattern: str) -> str:
    """SIPp's Contact check for ``<uri>`` (a regexp), escaped for the XML attribute it goes in."""
    return escape(f"^ *<{uri_pattern}>$", {'"': "&quot;"})


def exact(uri: str) -> str:
    return contact_regexp(re.escape(uri))


async def while_calling(waiting: Awaitable[T], call: asyncio.Task[SippRun]) -> T:
    """``waiting``'s result; fail at once with SIPp's output if SIPp ends first."""
    task = asyncio.ensure_future(waiting)
    done, _ = await asyncio.wait({task, call}, return_when=asyncio.FIRST_COMPLETED)
    if task not in done:
        task.cancel()
        raise AssertionError("SIPp ended first: " + call.result().explain())
    return task.result()


class UdpPeer(asyncio.DatagramProtocol):
    """A bare UDP socket on 127.0.0.1 that queues what it receives."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[bytes] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0

    @classmethod
    async def open(cls) -> UdpPeer:
        peer = cls()
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: peer, local_addr=("127.0.0.1", 0))
        peer.transport = transport  # type: ignore[assignment]
        peer.port = transport.get_extra_info("sockname")[1]
        # the server answers a burst in one go: the default 208 KiB buffer would drop some answers
        transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        return peer

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.inbox.put_nowait(data)

    def send(self, data: bytes, port: int) -> None:
        assert self.transport is not None
        self.transport.sendto(data, ("127.0.0.1", port))

    async def status(self, wanted: int, timeout: float = 5.0, *, call_id: str | None = None) -> bytes:
        """The next response with status ``wanted`` (and ``call_id`` if given); others are skipped."""
        async with asyncio.timeout(timeout):
            while True:
                data = await self.inbox.get()
                if data.startswith(f"SIP/2.0 {wanted} ".encode()) and (
                    call_id is None or f"\r\nCall-ID: {call_id}\r\n".encode() in data
                ):
                    return data

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def request(method: str, port: int, *, call_id: str, branch: str, service: str = "4008001234",
            caller: str = "13900139000", cseq: int = 1, extra: str = "") -> bytes:
    """A minimal well-formed request whose responses come back to ``port``."""
    target = f"sip:{service}@127.0.0.1" if method != "REGISTER" else "sip:127.0.0.1"
    return (
        f"{method} {target} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{branch};rport\r\n"
        f"From: \"Test\" <sip:{caller}@127.0.0.1:{port}>;tag=t{branch}\r\n"
        f"To: <sip:{service}@127.0.0.1>\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: {cseq} {method}\r\n"
        f"Contact: <sip:{caller}@127.0.0.1:{port}>\r\n"
        "Max-Forwards: 70\r\n"
        f"{extra}"
        "Content-Length: 0\r\n\r\n"
    ).encode()
