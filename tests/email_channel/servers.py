"""The real peers of the e-mail tests: a pymap IMAP server process and an aiosmtpd sink in the test's loop.

``PymapServer`` runs ``pymap ... dict`` (in memory, no demo data: the INBOX
starts empty) on a free loopback port in its own TMPDIR and waits until the
port accepts connections. ``Mailbox`` is a second IMAP connection that APPENDs
test mail and reads flags back. ``SmtpSink`` records every message it accepts
and can be told to answer 4xx / 5xx, or be stopped and started again on the
same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import ssl
import sys
from dataclasses import dataclass, field
from pathlib import Path

import aioimaplib
from aiosmtpd.smtp import SMTP as SMTPProtocol
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

PYMAP = Path(sys.executable).with_name("pymap")
USER, PASSWORD = "demouser", "demopass"
_APPENDUID = re.compile(rb"APPENDUID \d+ (\d+)")
_FLAGS = re.compile(rb"UID (\d+) FLAGS \(([^)]*)\)|FLAGS \(([^)]*)\) UID (\d+)")


def free_port() -> int:
    """A loopback port nobody listens on right now (pymap needs a number, not 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Wait until something accepts connections on ``port`` (a condition, bounded by ``timeout``)."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.02)
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return


class PymapServer:
    """``certificate`` (cert, key): offer STARTTLS with it; without, plain IMAP only."""

    def __init__(self, tmpdir: Path, certificate: tuple[Path, Path] | None = None) -> None:
        self.tmpdir = tmpdir
        self.certificate = certificate
        self.port = 0
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, port: int | None = None) -> None:
        """Listen on ``port`` (a free one by default) once the process accepts connections."""
        self.port = port or free_port()
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        tls = ["--no-tls"] if self.certificate is None else ["--cert", str(self.certificate[0]),
                                                            "--key", str(self.certificate[1])]
        self.process = await asyncio.create_subprocess_exec(
            str(PYMAP), "--host", "127.0.0.1", "--port", str(self.port), *tls, "dict",
            env={**os.environ, "TMPDIR": str(self.tmpdir)},
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        await wait_for_port(self.port)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            async with asyncio.timeout(10):
                await self.process.wait()
        self.process = None

    async def restart(self) -> None:
        """Stop, then start on the same port: the in-memory server comes back empty, with a new UIDVALIDITY."""
        await self.stop()
        await self.start(self.port)


class Mailbox:
    """A second IMAP client: APPEND mail and read flags, as another mail client would."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.client: aioimaplib.IMAP4 | None = None

    async def connect(self) -> Mailbox:
        self.client = aioimaplib.IMAP4(host="127.0.0.1", port=self.port, timeout=60)
        await self.client.wait_hello_from_server()
        response = await self.client.login(USER, PASSWORD)
        assert response.result == "OK", response
        return self

    async def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.logout()

    async def append(self, raw: bytes, folder: str = "INBOX") -> int:
        """APPEND ``raw``; return its UID."""
        assert self.client is not None
        response = await self.client.append(raw, mailbox=folder)
        assert response.result == "OK", response
        match = _APPENDUID.search(b" ".join(bytes(line) for line in response.lines))
        assert match, response
        return int(match[1])

    async def flags(self, folder: str = "INBOX") -> dict[int, set[str]]:
        """UID → flags of every message in ``folder``."""
        assert self.client is not None
        status = await self.client.select(folder)
        assert status.result == "OK", status
        response = await self.client.uid("fetch", "1:*", "(UID FLAGS)")
        found: dict[int, set[str]] = {}
        for line in response.lines:
            for match in _FLAGS.finditer(bytes(line)):
                uid = int(match[1] or match[4])
                flags = (match[2] if match[1] else match[3]).decode()
                found.setdefault(uid, set()).update(flags.split())
        return found


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class _Handler:
    """aiosmtpd handler: answers per ``mode`` and records what it accepted."""

    mode: str = "ok"  # ok | defer (451) | reject (550)
    received: list[Received] = field(default_factory=list)
    arrived: asyncio.Queue[Received] = field(default_factory=asyncio.Queue)

    async def handle_DATA(self, server: SMTPProtocol, session: Session, envelope: Envelope) -> str:
        if self.mode == "defer":
            return "451 4.3.0 Try again later"
        if self.mode == "reject":
            return "550 5.1.1 Mailbox unavailable"
        content = envelope.original_content or envelope.content or b""
        item = Received(str(envelope.mail_from), list(envelope.rcpt_tos),
                        content if isinstance(content, bytes) else content.encode())
        self.received.append(item)
        self.arrived.put_nowait(item)
        return "250 2.0.0 Ok: queued"


class SmtpSink:
    """``tls``: ``none``, ``starttls`` (required before MAIL) or ``implicit``; ``login``: required AUTH."""

    def __init__(self, *, tls: str = "none", context: ssl.SSLContext | None = None,
                 login: tuple[str, str] | None = None) -> None:
        self.handler = _Handler()
        self.port = 0
        self.tls = tls
        self.context = context
        self.login = login
        self.authenticated: list[str] = []
        self._server: asyncio.Server | None = None

    def _authenticate(self, server: SMTPProtocol, session: Session, envelope: Envelope, mechanism: str,
                      data: object) -> AuthResult:
        assert isinstance(data, LoginPassword) and self.login is not None
        ok = (data.login.decode(), data.password.decode()) == self.login
        if ok:
            self.authenticated.append(data.login.decode())
        return AuthResult(success=ok)

    def _protocol(self, loop: asyncio.AbstractEventLoop) -> SMTPProtocol:
        options: dict[str, object] = {}
        if self.tls == "starttls":
            options.update(tls_context=self.context, require_starttls=True)
        if self.login is not None:
            # aiosmtpd only knows about TLS it negotiated itself (STARTTLS), not a TLS listening socket.
            options.update(authenticator=self._authenticate, auth_required=True,
                           auth_require_tls=self.tls == "starttls")
        return SMTPProtocol(self.handler, hostname="sink.test", loop=loop, **options)  # type: ignore[arg-type]

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    async def start(self) -> None:
        """Listen (again, on the same port after ``stop``)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: self._protocol(loop), "127.0.0.1", self.port or 0,
                                                ssl=self.context if self.tls == "implicit" else None)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def next(self, timeout: float = 10) -> Received:
        async with asyncio.timeout(timeout):
            return await self.handler.arrived.get()


async def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """(certificate, key) for 127.0.0.1, made with ``openssl req -x509``."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    process = await asyncio.create_subprocess_exec(
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    assert await process.wait() == 0
    return cert, key
