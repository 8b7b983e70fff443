"""One IMAP connection to one mailbox folder, over aioimaplib, with the gaps filled.

aioimaplib 2.0.3 is used as-is except for three things this class adds:

- **Connection loss wakes everyone.** The library leaves pending commands and
  an idle wait hanging until their timeouts; ``_Protocol.connection_lost`` fails
  them at once, so the poller reconnects immediately.
- **New mail is never missed.** Untagged ``EXISTS`` lines that arrive during an
  unrelated command are dropped by the library; we record them
  (``mail_announced``), so the poller searches again before it idles. (pymap,
  like most servers, evaluates a command against the view it had when the
  command began and reports new messages only afterwards.)
- **STARTTLS** (not offered by the library) and capabilities re-read after
  LOGIN (servers announce IDLE and MOVE only to authenticated clients).

Every failure leaves as ``ImapError`` (with the server's words), so the
poller's one ``except`` decides what to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import aioimaplib
from aioimaplib.aioimaplib import AioImapException, Command, IMAP4ClientProtocol, Response

from channels.email.imap_protocol import (
    Fetched,
    Selected,
    announces_mail,
    chunk_uid_sets,
    parse_fetch,
    parse_search,
    parse_select,
    quote_folder,
    uid_set,
)
from contactcenter.config.schema_channels import Imap

_LOST = [b"connection lost"]


class ImapError(Exception):
    """The IMAP server refused a command, or the connection failed."""


class _Protocol(IMAP4ClientProtocol):
    """aioimaplib's protocol, plus: record EXISTS, fail everything pending when the connection drops."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop, None)
        self.mail_announced = False
        self.lost: Exception | None = None

    def _untagged_response(self, line: bytes) -> Command:
        if announces_mail(line):
            self.mail_announced = True
        return super()._untagged_response(line)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc or ConnectionResetError("the IMAP server closed the connection")
        pending = [*self.pending_async_commands.values(), self.pending_sync_command]
        for command in pending:
            if command is not None:
                command._exception = ImapError(f"connection lost: {self.lost}")
                command.close(b"connection lost", "KO")
        self.idle_queue.put_nowait(_LOST)
        super().connection_lost(exc)


class _Client(aioimaplib.IMAP4):
    def create_client(self, host: str, port: int, loop: asyncio.AbstractEventLoop | None,
                      conn_lost_cb: object = None, ssl_context: ssl.SSLContext | None = None) -> None:
        local_loop = loop or asyncio.get_running_loop()
        self.protocol = _Protocol(local_loop)
        self._client_task = local_loop.create_task(
            local_loop.create_connection(lambda: self.protocol, host, port, ssl=ssl_context))


def _ok(response: Response, what: str) -> Response:
    if response.result != "OK":
        text = b" ".join(bytes(line) for line in response.lines[-1:]).decode(errors="replace")
        raise ImapError(f"{what}: {response.result} {text}".strip())
    return response


class ImapSession:
    """A logged-in connection with ``folder`` selected. Build it with ``ImapSession.open``."""

    def __init__(self, client: _Client, folder: str, selected: Selected, timeout: float) -> None:
        self._client = client
        self.folder = folder
        self.selected = selected
        self.timeout = timeout

    @property
    def _protocol(self) -> _Protocol:
        return self._client.protocol  # type: ignore[return-value]

    @classmethod
    async def open(cls, config: Imap, *, timeout: float = 30.0,
                   ssl_context: ssl.SSLContext | None = None) -> ImapSession:
        """Connect (TLS as configured), log in, re-read capabilities and select the folder."""
        context = ssl_context or ssl.create_default_context()
        client = _Client(host=config.host, port=config.port, timeout=timeout,
                         ssl_context=context if config.tls == "implicit" else None)
        protocol = client.protocol
        step = f"connect to {config.host}:{config.port}"
        try:
            async with asyncio.timeout(timeout):
                await client._client_task  # a refused connection or a failed TLS handshake raises here
                await protocol.wait("AUTH|NONAUTH")
            if config.tls == "starttls":
                step = "STARTTLS"
                await _starttls(client, config.host, context, timeout)
            async with asyncio.timeout(timeout):
                step = "LOGIN"
                _ok(await protocol.login(config.user, config.password), step)
                step = "CAPABILITY"
                await protocol.capability()
                step = f"SELECT {config.folder}"
                selected = parse_select(_ok(await protocol.select(quote_folder(config.folder)), step).lines)
        except (OSError, TimeoutError, AioImapException, ValueError) as exc:
            await _close(client)
            raise ImapError(f"{step}: {exc!r}") from exc
        except BaseException:
            await _close(client)
            raise
        return cls(client, config.folder, selected, timeout)

    @property
    def can_idle(self) -> bool:
        return self._client.has_capability("IDLE")

    @property
    def can_move(self) -> bool:
        return self._client.has_capability("MOVE")

    async def close(self) -> None:
        await _close(self._client)

    # -- commands ------------------------------------------------------------------------------

    async def _run(self, what: str, call: Coroutine[Any, Any, Response]) -> Response:
        """Await one command with the session's timeout; every failure leaves as ``ImapError``.

        Commands go to the protocol object directly: the client's wrappers use
        ``asyncio.wait_for``, which on Python 3.11 can swallow a cancellation.
        """
        if self._protocol.lost is not None:
            call.close()
            raise ImapError(f"connection lost: {self._protocol.lost}")
        try:
            async with asyncio.timeout(self.timeout):
                response = await call
        except (TimeoutError, OSError, AioImapException) as exc:
            raise ImapError(f"{what}: {exc!r}") from exc
        return _ok(response, what)

    async def sync(self) -> None:
        """NOOP: lets the server tell us about messages that arrived since the last command."""
        await self._run("NOOP", self._protocol.simple_command("NOOP"))

    def take_announcement(self) -> bool:
        """Whether an EXISTS arrived since the last call (and forget it)."""
        announced, self._protocol.mail_announced = self._protocol.mail_announced, False
        return announced

    async def search(self, *criteria: str) -> list[int]:
        response = await self._run("UID SEARCH", self._protocol.search(*criteria, charset=None, by_uid=True))
        return parse_search(response.lines)

    async def fetch(self, uids: Sequence[int]) -> dict[int, bytes]:
        """The raw bytes of ``uids`` (``BODY.PEEK[]`` so fetching does not set ``\\Seen``)."""
        response = await self._run("UID FETCH", self._protocol.fetch(uid_set(uids), "(UID BODY.PEEK[])", by_uid=True))
        fetched: dict[int, Fetched] = parse_fetch(response.lines)
        return {uid: item.body for uid, item in fetched.items() if uid in uids and item.body is not None}

    async def mark_seen(self, uids: Sequence[int]) -> None:
        for part in chunk_uid_sets(uids):
            await self._run("UID STORE", self._protocol.store(uid_set(part), "+FLAGS.SILENT", r"(\Seen)", by_uid=True))

    async def move(self, uids: Sequence[int], folder: str) -> None:
        """UID MOVE where offered, else COPY + \\Deleted + EXPUNGE (UID EXPUNGE with UIDPLUS)."""
        target = quote_folder(folder)
        for part in chunk_uid_sets(uids):
            members = uid_set(part)
            if self.can_move:
                await self._run("UID MOVE", self._protocol.move(members, target, by_uid=True))
                continue
            await self._run("UID COPY", self._protocol.copy(members, target, by_uid=True))
            await self._run("UID STORE", self._protocol.store(members, "+FLAGS.SILENT", r"(\Deleted)", by_uid=True))
            if self._client.has_capability("UIDPLUS"):
                await self._run("UID EXPUNGE", self._protocol.expunge(members, by_uid=True))
            else:
                await self._run("EXPUNGE", self._protocol.expunge())

    async def ensure_folder(self, folder: str) -> None:
        """CREATE the folder unless it exists (servers answer NO for an existing one)."""
        listing = await self._run("LIST", self._protocol.simple_command("LIST", '""', quote_folder(folder)))
        if any(b"LIST" in bytes(line) or bytes(line).startswith(b"(") for line in listing.lines[:-1]):
            return
        await self._run(f"CREATE {folder}", self._protocol.simple_command("CREATE", quote_folder(folder)))

    async def idle(self, timeout: float, *, started: Callable[[], None] | None = None) -> bool:
        """IDLE until the server pushes something or ``timeout`` passes; True if it pushed.

        ``started`` is called once the server has accepted the IDLE (from then on
        a new message is pushed to us).

        One server event can arrive split over several pushes (``EXISTS`` then
        ``RECENT``); after DONE every push left in the queue is drained, so the
        next IDLE starts clean. (``asyncio.timeout`` and ``asyncio.wait`` rather
        than the library's ``wait_for``, which on Python 3.11 can swallow a
        cancellation that coincides with a completion.)
        """
        if self._protocol.lost is not None:
            raise ImapError(f"connection lost: {self._protocol.lost}")
        try:
            async with asyncio.timeout(self.timeout):
                idle = await self._client.idle_start(timeout=timeout + 60)
        except (TimeoutError, OSError, AioImapException) as exc:
            raise ImapError(f"IDLE: {exc!r}") from exc
        idle.add_done_callback(_consume)
        pushed = False
        try:
            if started is not None:
                started()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    push = await self._protocol.idle_queue.get()
                if push is _LOST:
                    raise ImapError(f"connection lost: {self._protocol.lost}")
                pushed = True
        finally:
            if self._protocol.lost is None and self._client.has_pending_idle():
                self._client.idle_done()
                await asyncio.wait({idle}, timeout=self.timeout)
            _drain(self._protocol.idle_queue)
        if self._protocol.lost is not None or not idle.done():
            raise ImapError(f"IDLE did not end: {self._protocol.lost or 'no answer to DONE'}")
        return pushed


def _consume(task: asyncio.Future[Response]) -> None:
    """Retrieve the IDLE task's outcome, so a lost connection is not logged as never retrieved."""
    if not task.cancelled():
        task.exception()


def _drain(queue: asyncio.Queue[list[bytes]]) -> None:
    while not queue.empty():
        queue.get_nowait()


async def _starttls(client: _Client, host: str, context: ssl.SSLContext, timeout: float) -> None:
    """Upgrade the plain connection (aioimaplib knows the command but has no method for it)."""
    protocol = client.protocol
    if "STARTTLS" not in protocol.capabilities:
        raise ImapError("the server does not offer STARTTLS")
    async with asyncio.timeout(timeout):
        _ok(await protocol.execute(Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)), "STARTTLS")
        loop = asyncio.get_running_loop()
        protocol.transport = await loop.start_tls(protocol.transport, protocol, context, server_hostname=host)
        await protocol.capability()


async def _close(client: aioimaplib.IMAP4) -> None:
    """LOGOUT politely when we can, then drop the socket either way."""
    protocol = client.protocol
    try:
        if protocol is not None and protocol.transport is not None and not protocol.transport.is_closing():
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await protocol.logout()
    finally:
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()
        with contextlib.suppress(BaseException):
            client._client_task.cancel()
