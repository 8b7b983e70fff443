"""The e-mail channel's I/O, wired into the app: mailbox pollers in, the SMTP outbox worker out.

``setup(app, context)`` is all the composition root calls. With mailboxes
configured it adds:

- a ``cleanup_ctx`` pair that runs the outbox worker (and shuts the parser
  workers down at the end);
- an ``on_startup`` hook that starts one ``MailboxPoller`` task per mailbox.
  It is ``on_startup`` rather than ``cleanup_ctx`` on purpose: aiohttp runs
  every ``cleanup_ctx`` first, so the router (the composition root's last
  context) is running before the first message is handed to it;
- an ``on_shutdown`` hook that stops the pollers before the router stops.

Agent replies on e-mail interactions wake the worker through
``actions.outbound_hooks["email"]``. Tests tune retry and reconnect delays
(and worker processes) through the ``EMAIL_*`` app keys before the app starts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from collections.abc import AsyncIterator

from aiohttp import web

from channels.email.ingest import EmailIngest
from channels.email.parser_pool import ParserPool
from channels.email.poller import DEFAULT_RECONNECT_BASE_S, MailboxPoller
from channels.email.sender import DEFAULT_RETRY_BASE_S, EmailSender
from contactcenter.channel_context import ChannelContext
from contactcenter.model import Channel
from contactcenter.outbox_worker import OutboxWorker
from contactcenter.store.records import Interaction, Touchpoint

log = logging.getLogger(__name__)

# Parser processes for a backlog, leaving a core to the event loop and PostgreSQL: on the 2-core reference
# machine one worker ingests ~1.5x as fast as none, and two are slower than one (bench/bench_email.py).
DEFAULT_PARSE_WORKERS = max(1, min(2, (os.cpu_count() or 1) - 1))

# First retry delay of failed sends, in seconds (doubling, with jitter, up to 5 min). Tests set it small.
EMAIL_RETRY_BASE_S = web.AppKey("email_retry_base_s", float)
# First reconnect delay after an IMAP failure, in seconds (doubling, with jitter, up to 5 min).
EMAIL_RECONNECT_BASE_S = web.AppKey("email_reconnect_base_s", float)
# Processes that parse a backlog (0 = parse on the event loop).
EMAIL_PARSE_WORKERS = web.AppKey("email_parse_workers", int)
# TLS contexts for SMTP and IMAP (tests trust their self-signed certificate with them); default: the system's.
EMAIL_SMTP_TLS_CONTEXT = web.AppKey("email_smtp_tls_context", ssl.SSLContext)
EMAIL_IMAP_TLS_CONTEXT = web.AppKey("email_imap_tls_context", ssl.SSLContext)


class EmailRuntime:
    """What the running channel shares between its hooks, pollers and worker."""

    def __init__(self, context: ChannelContext) -> None:
        self.context = context
        self.mailboxes = context.settings.channels.email.mailboxes
        self.own_addresses = frozenset(mailbox.address.lower() for mailbox in self.mailboxes)
        self.parser = ParserPool(DEFAULT_PARSE_WORKERS)
        self.pollers = [
            MailboxPoller(mailbox, EmailIngest(context, mailbox, self.own_addresses, self.parser, self.wake),
                          context.db, context.router)
            for mailbox in self.mailboxes
        ]
        self.worker: OutboxWorker | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def wake(self) -> None:
        if self.worker is not None:
            self.worker.wake()

    async def after_reply(self, interaction: Interaction, touchpoint: Touchpoint) -> None:
        """An agent's reply committed its outbox row: send now rather than at the next poll."""
        self.wake()

    async def run_sender(self, app: web.Application) -> AsyncIterator[None]:
        """``cleanup_ctx``: the outbox worker for the whole app's life; pollers stop before it."""
        self.parser.workers = app.get(EMAIL_PARSE_WORKERS, DEFAULT_PARSE_WORKERS)
        sender = EmailSender(self.context.db, self.mailboxes, tls_context=app.get(EMAIL_SMTP_TLS_CONTEXT))
        worker = OutboxWorker(self.context.db, self.context.feed, str(Channel.EMAIL), sender.deliver,
                              retry_base_s=app.get(EMAIL_RETRY_BASE_S, DEFAULT_RETRY_BASE_S))
        await worker.start()
        self.worker = worker
        try:
            yield
        finally:
            await self.stop_pollers(app)
            self.worker = None
            await worker.stop()
            self.parser.close()

    async def start_pollers(self, app: web.Application) -> None:
        # Start the parser's workers with the app: they take a few hundred ms to import, which the
        # first backlog (the mail that arrived while we were down) would otherwise wait for.
        self.parser.warm()
        reconnect = app.get(EMAIL_RECONNECT_BASE_S, DEFAULT_RECONNECT_BASE_S)
        for poller in self.pollers:
            poller.reconnect_base_s = reconnect
            poller.ssl_context = app.get(EMAIL_IMAP_TLS_CONTEXT)
            self._tasks.append(asyncio.create_task(poller.run(), name=f"email-{poller.name}"))

    async def stop_pollers(self, app: web.Application) -> None:
        """Cancel the poller tasks, and again until they end (a cancel can be lost inside a library)."""
        tasks, self._tasks = self._tasks, []
        for poller in self.pollers:
            poller.stopping = True
        pending = set(tasks)
        while pending:
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=1.0)
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                log.error("email poller ended with %r", task.exception())


EMAIL_CHANNEL = web.AppKey("email_channel", EmailRuntime)


def setup(app: web.Application, context: ChannelContext) -> None:
    """Register the e-mail channel's hook, sender and mailbox pollers on ``app``."""
    runtime = EmailRuntime(context)
    app[EMAIL_CHANNEL] = runtime
    context.actions.outbound_hooks[str(Channel.EMAIL)] = runtime.after_reply
    if not runtime.mailboxes:
        return
    app.cleanup_ctx.append(runtime.run_sender)
    app.on_startup.append(runtime.start_pollers)
    app.on_shutdown.append(runtime.stop_pollers)
