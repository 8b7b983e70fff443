"""Garbage on the real sockets: 1,000 random and mutated datagrams, broken TCP streams; then a call still works."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from aiohttp.test_utils import TestClient

from channels.voice import VoiceChannel
from harness.sipp import run_sipp
from tests.voice_channel.helpers import UdpPeer, request
from tests.voice_channel.sipp import needs_sipp, scenario

pytestmark = needs_sipp

SEED = 20240611
DATAGRAMS = 1_000
HEADERS = ("Via", "From", "To", "Call-ID", "CSeq", "Content-Length", "Max-Forwards", "Contact", "Require")


def _valid(rng: random.Random, port: int, n: int) -> bytes:
    method = rng.choice(["INVITE", "INVITE", "OPTIONS", "REGISTER", "CANCEL", "ACK", "BYE", "INFO"])
    return request(method, port, call_id=f"fuzz-{n}", branch=f"fz{n}", caller=rng.choice(["13800138000", "1001"]))


def _mutate(rng: random.Random, data: bytes) -> bytes:
    """One of a dozen ways a broken peer or an attacker mangles a SIP message."""
    lines = data.split(b"\r\n")
    match rng.randrange(12):
        case 0:  # flip bytes
            out = bytearray(data)
            for _ in range(rng.randint(1, 8)):
                out[rng.randrange(len(out))] = rng.randrange(256)
            return bytes(out)
        case 1:  # truncate
            return data[: rng.randrange(len(data))]
        case 2:  # drop a header
            del lines[rng.randrange(1, max(2, len(lines) - 2))]
            return b"\r\n".join(lines)
        case 3:  # duplicate a header with another value
            name = rng.choice(HEADERS).encode()
            lines.insert(1, name + b": " + rng.randbytes(rng.randint(0, 40)))
            return b"\r\n".join(lines)
        case 4:  # lie about the body length
            return data.replace(b"Content-Length: 0", f"Content-Length: {rng.choice([-1, 5, 99999, 2**40])}".encode())
        case 5:  # bare LF line ends
            return data.replace(b"\r\n", b"\n")
        case 6:  # a huge header
            lines.insert(2, b"X-Pad: " + b"A" * rng.choice([600, 9000, 60000]))
            return b"\r\n".join(lines)
        case 7:  # not UTF-8 where text is expected
            return data.replace(b"Test", rng.randbytes(6))
        case 8:  # a broken start line
            return rng.choice([b"INVITE\r\n", b"SIP/2.0 200\r\n", b" INVITE sip:x SIP/2.0", b"INVITE sip:x SIP/3.0"]) \
                + b"\r\n".join(lines[1:])
        case 9:  # a broken Via or CSeq
            return data.replace(b"CSeq: 1", rng.choice([b"CSeq: x", b"CSeq: 99999999999", b"CSeq: 1 OPTIONS"]))
        case 10:  # NULs and controls in the middle
            cut = rng.randrange(len(data))
            return data[:cut] + b"\x00\x01\x1b" + data[cut:]
        case _:  # keep-alives and empties
            return rng.choice([b"\r\n\r\n", b"\r\n", b"\x00", b" "])


def datagrams(port: int, count: int = DATAGRAMS) -> list[bytes]:
    rng = random.Random(SEED)
    out: list[bytes] = []
    for n in range(count):
        kind = rng.random()
        if kind < 0.15:
            out.append(rng.randbytes(rng.randint(1, 1500)))
        elif kind < 0.25:
            out.append(_valid(rng, port, n))
        else:
            out.append(_mutate(rng, _valid(rng, port, n)) or b"\r\n")
    return out


async def test_random_and_mutated_datagrams_then_a_call_still_works(
    client: TestClient, channel: VoiceChannel, sip_port: int, tmp_path: Path,
) -> None:
    peer = await UdpPeer.open()
    try:
        for data in datagrams(peer.port):
            peer.send(data, sip_port)
        # loopback keeps order: once this OPTIONS is answered, every datagram before it was handled
        peer.send(request("OPTIONS", peer.port, call_id="fuzz-end", branch="fuzzend"), sip_port)
        await peer.status(200, timeout=20, call_id="fuzz-end")
    finally:
        peer.close()

    metrics = channel.metrics()
    print(f"\nfuzz: received={metrics['sip_received']} malformed={metrics['sip_malformed']} "
          f"answered_400s={metrics['sip_malformed_answered']} dropped={metrics['sip_dropped_malformed']}")
    assert metrics["sip_received"] >= DATAGRAMS
    assert metrics["sip_malformed"] > 100 and metrics["sip_dropped_malformed"] > 0
    assert metrics["shell_handler_errors"] == 0 and metrics["desk_reaction_errors"] == 0
    await channel.desk.settle()  # mutated INVITEs that still parse are calls: filed, with their odd bytes cleaned
    assert channel.metrics()["writer_failed_batches"] == 0
    assert channel.metrics()["desk_rejected_store_failed"] == 0

    result = await run_sipp(scenario("queue_cancel.xml", tmp_path), sip_port, workdir=tmp_path)
    assert result.returncode == 0, result.explain()
    assert (await client.get("/healthz")).status == 200


async def test_broken_tcp_streams_are_closed_and_the_listener_survives(channel: VoiceChannel) -> None:
    """Unframeable streams are closed (§18.3); a framed message that is garbage is dropped, the stream goes on."""
    port = channel.shell.tcp_port
    assert port is not None
    for unframeable in (b"INVITE sip:x SIP/2.0\r\nContent-Length: abc\r\n\r\n",
                        b"OPTIONS sip:x SIP/2.0\r\nX: " + b"y" * 70000):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(unframeable)
        async with asyncio.timeout(5):
            assert await reader.read() == b""  # closed without an answer
        writer.close()

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    local = writer.get_extra_info("sockname")[1]
    garbage = random.Random(SEED).randbytes(3000).replace(b"\r\n", b"--") + b"\r\n\r\n"
    options = request("OPTIONS", local, call_id="tcp-ok", branch="tcpok").replace(b"/UDP", b"/TCP")
    writer.write(garbage + b"\r\n" + options)
    async with asyncio.timeout(5):
        status = await reader.readline()
    writer.close()
    assert status.startswith(b"SIP/2.0 200 ")
    metrics = channel.metrics()
    assert metrics["shell_tcp_framing_errors"] == 2 and metrics["shell_handler_errors"] == 0
