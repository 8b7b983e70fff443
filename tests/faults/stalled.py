"""A websocket client that stops reading: a raw socket with a tiny receive buffer.

After the upgrade it may send frames, but it never reads again, so the
server's writes pile up in the kernel buffers and then in the server's own
transport until its send deadline fires. Closing it is the test's job.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket


async def stalled_websocket(port: int, path: str, headers: dict[str, str]) -> asyncio.StreamWriter:
    """Open ``path`` on 127.0.0.1:``port`` as a websocket, then stop reading; returns the writer."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13", *(f"{k}: {v}" for k, v in headers.items())]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 101"), head
    writer.transport.pause_reading()  # type: ignore[attr-defined]
    return writer


def text_frame(text: str) -> bytes:
    """One masked text frame, as a client must send it."""
    payload = text.encode()
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        header = bytes([0x81, 0x80 | size])
    elif size < 1 << 16:
        header = bytes([0x81, 0x80 | 126]) + size.to_bytes(2, "big")
    else:
        header = bytes([0x81, 0x80 | 127]) + size.to_bytes(8, "big")
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
