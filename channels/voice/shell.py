"""The I/O shell around the sans-I/O SIP endpoint: sockets, the clock and one timer.

Every call into the :class:`SipEndpoint` goes through this object and runs to
completion without an await, so the endpoint is never re-entered; after each
one the shell sends ``data_to_send()``, hands ``events_received()`` to the
application callback, and moves its single timer to ``next_deadline()``. The
clock is ``loop.time()`` (monotonic) here and nowhere else in the channel.

A failure in any handler is logged and counted, never propagated into the
event loop's transport machinery: one bad datagram or one bad connection must
not take the listening point down.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from channels.voice.sip import (
    Address,
    SendData,
    SipEndpoint,
    SipEvent,
    SipFramingError,
    SipStreamFramer,
    Transport,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

UDP_BUFFER_BYTES = 4 * 1024 * 1024  # bursts of thousands of INVITEs outrun the default socket buffer
UDP_READ_BATCH = 256  # datagrams read per wake-up before the loop serves others
MAX_UDP_DATAGRAM = 65_535
TCP_IDLE_SECONDS = 900.0  # phones keep their connection alive with CRLF or re-REGISTER well within this
TCP_MAX_CONNECTIONS = 2_000
TCP_MAX_WRITE_BUFFER = 1024 * 1024  # a peer that stops reading is cut off rather than buffered forever


@dataclass(slots=True)
class ShellCounters:
    """The shell's share of the metrics (the endpoint keeps its own ``SipCounters``)."""

    udp_datagrams: int = 0
    handler_errors: int = 0
    send_errors: int = 0
    unsendable: int = 0  # a response for a TCP peer whose connection is gone
    tcp_accepted: int = 0
    tcp_refused: int = 0
    tcp_framing_errors: int = 0
    timer_runs: int = 0


@functools.lru_cache(maxsize=4096)
def _numeric(host: str) -> bool:
    """Only IP literals are sent to: a host name would make ``sendto`` resolve it, blocking the loop.
    (The core stamps ``received`` with the source address, so replies always go to one.)"""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class SipShell:
    """Owns the endpoint, its UDP socket, its TCP connections and its timer."""

    def __init__(self, endpoint: SipEndpoint, on_events: Callable[[list[SipEvent]], None]) -> None:
        self.endpoint = endpoint
        self.on_events = on_events
        self.counters = ShellCounters()
        self.udp_port: int | None = None
        self.tcp_port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._udp: socket.socket | None = None
        self._tcp_server: asyncio.Server | None = None
        self._tcp: dict[Address, asyncio.StreamWriter] = {}
        self._tcp_tasks: set[asyncio.Task[None]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self, host: str, port: int, transports: tuple[str, ...]) -> None:
        """Listen on ``host:port``; with port 0 the UDP port is picked and TCP takes the same number."""
        self._loop = asyncio.get_running_loop()
        requested = port
        if "udp" in transports:
            family, _, _, _, address = (await self._loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM))[0]
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                sock.setblocking(False)
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_BUFFER_BYTES)
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, UDP_BUFFER_BYTES)
                sock.bind(address)
            except OSError:
                sock.close()
                raise
            self._udp = sock
            self._loop.add_reader(sock.fileno(), self._udp_readable)
            self.udp_port = int(sock.getsockname()[1])
            port = port or self.udp_port
        if "tcp" in transports:
            try:
                self._tcp_server = await asyncio.start_server(self._serve_tcp, host, port, reuse_address=True)
            except OSError:
                if requested != 0:  # a configured port is taken: that is the operator's to fix
                    raise
                self._tcp_server = await asyncio.start_server(self._serve_tcp, host, 0, reuse_address=True)
            self.tcp_port = int(self._tcp_server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._tcp_server is not None:
            self._tcp_server.close()
        for writer in list(self._tcp.values()):
            writer.close()
        for task in list(self._tcp_tasks):
            task.cancel()
        if self._tcp_tasks:
            await asyncio.gather(*self._tcp_tasks, return_exceptions=True)
        if self._udp is not None:
            if self._loop is not None:
                self._loop.remove_reader(self._udp.fileno())
            self._udp.close()
            self._udp = None

    # -- into the endpoint ---------------------------------------------------------------------

    def now(self) -> float:
        """The endpoint's clock: the event loop's monotonic time (the only clock the channel reads)."""
        return (self._loop or asyncio.get_running_loop()).time()

    def receive(self, data: bytes, source: Address, transport: Transport) -> None:
        """One datagram or one framed stream message."""
        self._feed(data, source, transport, self.now())
        self._flush()

    def _feed(self, data: bytes, source: Address, transport: Transport, now: float) -> None:
        try:
            self.endpoint.datagram_received(data, source, now, transport)
        except Exception:  # the core promises not to raise on input; if it does, drop and go on
            self.counters.handler_errors += 1
            log.exception("SIP endpoint failed on a message from %s", source)

    def _udp_readable(self) -> None:
        """Drain up to ``UDP_READ_BATCH`` datagrams per wake-up, then flush once.

        asyncio's datagram transport reads one datagram per event-loop turn;
        with database replies and router work in every turn that caps intake
        at a few hundred datagrams a second and lets bursts rot in the socket
        buffer until callers retransmit. Reading a batch keeps up with the
        wire and still yields to the rest of the loop between batches.
        """
        sock = self._udp
        if sock is None:
            return
        now = self.now()
        try:
            for _ in range(UDP_READ_BATCH):
                try:
                    data, addr = sock.recvfrom(MAX_UDP_DATAGRAM)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:  # an ICMP error for an earlier send surfaces here on Linux
                    self.counters.send_errors += 1
                    continue
                self.counters.udp_datagrams += 1
                self._feed(data, (str(addr[0]), int(addr[1])), Transport.UDP, now)
        finally:
            self._flush()

    def command(self, do: Callable[[float], T]) -> T:
        """Run endpoint commands (``mark_queued``, ``redirect``, ``reject``) at the current time, then flush."""
        try:
            done = do(self.now())
        finally:
            self._flush()
        return done

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        self.counters.timer_runs += 1
        try:
            self.endpoint.tick(self.now())
        except Exception:
            self.counters.handler_errors += 1
            log.exception("SIP endpoint timer failed")
        self._flush()

    # -- out of the endpoint -------------------------------------------------------------------

    def _flush(self) -> None:
        for item in self.endpoint.data_to_send():
            self._send(item)
        events = self.endpoint.events_received()
        if events:
            try:
                self.on_events(events)
            except Exception:
                self.counters.handler_errors += 1
                log.exception("voice channel failed on SIP events")
        self._schedule()

    def _send(self, item: SendData) -> None:
        try:
            if item.transport is Transport.UDP:
                if self._udp is None or not _numeric(item.dest[0]):
                    self.counters.unsendable += 1
                else:
                    self._udp.sendto(item.data, item.dest)  # non-blocking; a full buffer drops, SIP retransmits
                return
            writer = self._tcp.get(item.dest)
            if writer is None or writer.is_closing():
                self.counters.unsendable += 1
                return
            writer.write(item.data)
            if writer.transport.get_write_buffer_size() > TCP_MAX_WRITE_BUFFER:
                writer.close()
        except Exception:  # a bad destination address, a socket torn down under us
            self.counters.send_errors += 1
            log.debug("could not send to %s", item.dest, exc_info=True)

    def _schedule(self) -> None:
        """Keep one timer at the endpoint's next deadline; only an earlier deadline moves it."""
        deadline = self.endpoint.next_deadline()
        if deadline is None or self._loop is None:
            return
        if self._timer is not None and self._timer_at is not None and self._timer_at <= deadline:
            return  # it fires no later than needed; the tick then reschedules
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self._loop.call_at(deadline, self._on_timer)

    # -- TCP -----------------------------------------------------------------------------------

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer_info = writer.get_extra_info("peername")
        peer: Address = (str(peer_info[0]), int(peer_info[1]))
        if len(self._tcp) >= TCP_MAX_CONNECTIONS:
            self.counters.tcp_refused += 1
            writer.close()
            return
        self.counters.tcp_accepted += 1
        task = asyncio.current_task()
        if task is not None:
            self._tcp_tasks.add(task)
        self._tcp[peer] = writer
        framer = SipStreamFramer(self.endpoint.config.max_message_size)
        try:
            while True:
                async with asyncio.timeout(TCP_IDLE_SECONDS):
                    data = await reader.read(65536)
                if not data:
                    break
                broken = False
                try:
                    messages = framer.feed(data)
                except SipFramingError as exc:
                    messages, broken = exc.messages, True
                for message in messages:
                    self.receive(message, peer, Transport.TCP)
                if broken:  # no way to find the next message boundary: RFC 3261 §18.3 says close
                    self.counters.tcp_framing_errors += 1
                    break
        except (TimeoutError, ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        except Exception:
            self.counters.handler_errors += 1
            log.exception("SIP TCP connection from %s failed", peer)
        finally:
            if self._tcp.get(peer) is writer:
                del self._tcp[peer]
            writer.close()
            if task is not None:
                self._tcp_tasks.discard(task)
