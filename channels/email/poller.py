"""One task per mailbox: fetch new mail over IMAP, commit it, and only then flag or move it.

The cycle, per connection:

1. SELECT the folder; compare its UIDVALIDITY with the one stored for the
   mailbox. On the first sync, or when it changed (UIDs restarted), start from
   the folder's UIDNEXT: what is pending then is what is unseen, and
   Message-IDs keep a message we already have from being stored twice.
2. Catch up: NOOP (so the server reports what arrived), UID SEARCH for what is
   pending (undeleted messages that are ``UNSEEN`` or above ``last_uid``, in
   both modes), then per batch of at most ``batch_size`` messages and
   ``batch_bytes`` bytes: UID FETCH the range, commit it in one transaction
   (``EmailIngest``), hand the new interactions to the router, and only then
   STORE ``\\Seen`` or MOVE the batch. A crash between commit and flag refetches
   the batch; it is recognised and flagged, never stored twice. A connection
   lost there does not hold up the committed interactions: they were handed to
   the router already (a refetch recognises them and does not route them again).
3. Wait: IDLE where the server offers it (re-issued every ``idle_renew`` s or
   ``poll_interval``, whichever is shorter; ``idle_settle`` s right after new
   mail), otherwise sleep ``poll_interval``. Any push ends the IDLE and starts
   a catch-up; so does an ``EXISTS`` the server slipped into another
   command's answer.

Any error (network, server, database) closes the connection and reconnects
after an exponential backoff with jitter; each mailbox has its own task, so
one broken server never holds up the others.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import uuid
from collections.abc import Awaitable, Callable, Sequence

import routing as r
from channels.email.imap_session import ImapError, ImapSession
from channels.email.ingest import BatchResult, EmailIngest
from channels.email.model import ParsedEmail
from channels.email.store import EmailStore
from contactcenter.acd.arrival import Arrival
from contactcenter.acd.service import RouterService
from contactcenter.config.schema_channels import Mailbox
from contactcenter.db import Database, StoreError
from contactcenter.outbox_worker import backoff_delay

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 200
DEFAULT_BATCH_BYTES = 32 * 1024 * 1024
DEFAULT_IDLE_RENEW_S = 25 * 60.0  # servers may drop an IDLE after 30 minutes (RFC 2177)
DEFAULT_IDLE_SETTLE_S = 1.0  # the first IDLE after new mail (see _serve)
DEFAULT_RECONNECT_BASE_S = 1.0
DEFAULT_RECONNECT_CAP_S = 300.0

# Called after a batch committed (and its interactions were handed to the router) and before it is
# flagged: (mailbox, uids). Tests use it to stop the process exactly there; production leaves it unset.
AfterCommit = Callable[[str, Sequence[int]], Awaitable[None]]
# Called after each batch is flagged (its routing may still be in flight): (mailbox, uids, result).
BatchListener = Callable[[str, Sequence[int], BatchResult], None]


class MailboxPoller:
    """The long-running task of one mailbox (see the module docstring); ``run`` never returns by itself."""

    def __init__(self, mailbox: Mailbox, ingest: EmailIngest, db: Database, router: RouterService, *,
                 batch_size: int = DEFAULT_BATCH_SIZE, batch_bytes: int = DEFAULT_BATCH_BYTES,
                 idle_renew_s: float = DEFAULT_IDLE_RENEW_S, idle_settle_s: float = DEFAULT_IDLE_SETTLE_S,
                 reconnect_base_s: float = DEFAULT_RECONNECT_BASE_S,
                 reconnect_cap_s: float = DEFAULT_RECONNECT_CAP_S, imap_timeout_s: float = 60.0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.mailbox = mailbox
        self.ingest = ingest
        self.db = db
        self.router = router
        self.batch_size = batch_size
        self.batch_bytes = batch_bytes
        self.idle_renew_s = idle_renew_s
        self.idle_settle_s = idle_settle_s
        self.reconnect_base_s = reconnect_base_s
        self.reconnect_cap_s = reconnect_cap_s
        self.imap_timeout_s = imap_timeout_s
        self.ssl_context = ssl_context  # None: the system's trust store
        self.after_commit: AfterCommit | None = None
        self.listeners: list[BatchListener] = []
        self.connected = False
        self.stopping = False  # set by the owner before cancelling: the loops end even if a cancel is lost
        self.messages_done = 0  # committed and flagged since start (including ones seen before)
        self.idling = asyncio.Event()  # set while an IDLE is in progress (tests wait on it)
        self.last_error: str | None = None
        self._caught_up = False

    @property
    def name(self) -> str:
        return self.mailbox.name

    async def run(self) -> None:
        """Forever: connect, serve, and after any failure reconnect with backoff."""
        failures = 0
        while not self.stopping:
            session: ImapSession | None = None
            self._caught_up = False
            try:
                session = await ImapSession.open(self.mailbox.imap, timeout=self.imap_timeout_s,
                                                 ssl_context=self.ssl_context)
                self.connected = True
                await self._serve(session)
            except (ImapError, StoreError, OSError, TimeoutError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("email %s: %s", self.name, self.last_error)
            except Exception as exc:  # a bug must not end the mailbox's task for good
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("email %s: unexpected error", self.name)
            finally:
                self.connected = False
                if session is not None:
                    await session.close()
            if self.stopping:
                break
            # A connection that caught up once was healthy: start the backoff from the beginning.
            failures = 1 if self._caught_up else failures + 1
            delay = backoff_delay(failures, base=self.reconnect_base_s, cap=self.reconnect_cap_s)
            log.info("email %s: reconnecting in %.1fs", self.name, delay)
            await asyncio.sleep(delay)

    async def _serve(self, session: ImapSession) -> None:
        uidvalidity = session.selected.uidvalidity
        async with self.db.connection() as tx:
            state = await EmailStore(tx.conn).mailbox_state(self.name)
        if state is not None and state[0] == uidvalidity:
            last_uid = state[1]
        else:
            # First sync, or UIDs restarted: what we ingested before is \Seen (or moved away), so
            # take the unseen messages (plus anything newer) rather than the folder's whole past.
            # Message-IDs keep a message we already have from being stored twice.
            last_uid = max(0, (session.selected.uidnext or 1) - 1)
            if state is not None:
                log.warning("email %s: UIDVALIDITY changed (%d → %d); taking the unseen messages again",
                            self.name, state[0], uidvalidity)
        imap = self.mailbox.imap
        if imap.after_ingest == "move" and imap.move_to is not None:
            await session.ensure_folder(imap.move_to)
        log.info("email %s: connected to %s:%d/%s (IDLE %s)", self.name, imap.host, imap.port, imap.folder,
                 "yes" if session.can_idle else "no")
        while not self.stopping:
            before = self.messages_done
            last_uid = await self._catch_up(session, uidvalidity, last_uid)
            self._caught_up = True
            self.last_error = None
            if session.can_idle:
                # After mail arrived, the first IDLE is short: a server that misses a change made
                # just before IDLE began (pymap does) cannot hold that message back for long.
                busy = self.messages_done != before
                timeout = self.idle_settle_s if busy else min(imap.poll_interval, self.idle_renew_s)
                try:
                    await session.idle(timeout, started=self.idling.set)
                finally:
                    self.idling.clear()
            else:
                await asyncio.sleep(imap.poll_interval)

    async def _catch_up(self, session: ImapSession, uidvalidity: int, last_uid: int) -> int:
        """Ingest everything pending; the highest UID done (unchanged when nothing was new)."""
        while True:
            await session.sync()
            session.take_announcement()
            uids = await self._pending(session, last_uid)
            if len(uids) >= self.ingest.parser.inline_below:
                self.ingest.parser.warm()  # a backlog: workers import while the first batch is fetched
            if not uids:
                # One more NOOP: some servers (pymap) report a message that arrived during the
                # search only at the next command, and an IDLE started after that would never
                # push it. What arrives after this NOOP is pushed by the IDLE.
                await session.sync()
                if session.take_announcement():
                    continue
                return last_uid
            last_uid = max(last_uid, await self._ingest_all(session, uidvalidity, await self._batches(session, uids)))

    async def _pending(self, session: ImapSession, last_uid: int) -> list[int]:
        """Unseen messages, and any above ``last_uid`` (read by someone before we took them).

        The same rule in ``move`` mode: what we ingest leaves the folder, but the folder's read
        history (below the UIDNEXT of the first sync) stays where it is and is never taken.
        """
        unseen = await session.search("UNSEEN", "UNDELETED")
        newer = [uid for uid in await session.search("UID", f"{last_uid + 1}:*", "UNDELETED") if uid > last_uid]
        return sorted(set(unseen) | set(newer))

    async def _batches(self, session: ImapSession, uids: list[int]) -> list[list[int]]:
        """Cut ``uids`` (in UID order) into batches of at most ``batch_size`` messages and ~``batch_bytes``.

        One ``SEARCH LARGER`` finds the messages above an even share of
        ``batch_bytes``; each of those is a batch of its own. So a batch holds
        either one large message or at most ``batch_size`` small ones, without a
        size fetch per message.
        """
        share = max(1, self.batch_bytes // self.batch_size)
        large = set(await session.search("LARGER", str(share), "UNDELETED"))
        batches: list[list[int]] = []
        current: list[int] = []
        for uid in uids:
            # The first batch is a quarter size: the next one's parsing overlaps its commit sooner.
            limit = self.batch_size if batches else max(1, self.batch_size // 4)
            if uid in large or len(current) >= limit:
                if current:
                    batches.append(current)
                current = []
            if uid in large:
                batches.append([uid])
            else:
                current.append(uid)
        if current:
            batches.append(current)
        return batches

    async def _ingest_all(self, session: ImapSession, uidvalidity: int, batches: list[list[int]]) -> int:
        """Fetch, parse, commit and flag ``batches`` in order; the highest UID done.

        Batch n+1 is fetched before batch n commits and is parsed (in the parser's
        worker processes) while batch n is written, flagged and routed: the IMAP
        commands stay strictly sequential, and each batch is still committed before
        it is flagged. Routing runs beside the next batch and is awaited at the end.
        """
        highest = 0
        routing: list[asyncio.Task[None]] = []
        prepared = await self._prepare(session, batches[0]) if batches else None
        try:
            for index in range(len(batches)):
                assert prepared is not None
                messages, parsing = prepared
                parsed = await parsing if parsing is not None else []
                prepared = await self._prepare(session, batches[index + 1]) if index + 1 < len(batches) else None
                if messages:
                    highest = max(highest, await self._commit(session, uidvalidity, messages, parsed, routing))
        finally:
            if prepared is not None and prepared[1] is not None:
                prepared[1].cancel()
            if routing:
                await asyncio.gather(*routing, return_exceptions=True)
        return highest

    async def _prepare(self, session: ImapSession, uids: list[int]) -> tuple[list[tuple[int, bytes]],
                                                                           asyncio.Task[list[ParsedEmail]] | None]:
        raws = await session.fetch(uids)
        messages = [(uid, raws[uid]) for uid in uids if uid in raws]  # one expunged meanwhile is skipped
        return messages, asyncio.ensure_future(self.ingest.parse(messages)) if messages else None

    async def _commit(self, session: ImapSession, uidvalidity: int, messages: list[tuple[int, bytes]],
                      parsed: list[ParsedEmail], routing: list[asyncio.Task[None]]) -> int:
        result = await self.ingest.commit(uidvalidity, messages, parsed)
        # Routed as soon as they are committed, not after the flag: if the IMAP connection drops
        # before STORE/MOVE, the refetch sees these messages as duplicates and routes nothing, so
        # waiting for the flag would leave them unoffered until a restart's rebuild.
        if result.route:
            routing.append(asyncio.ensure_future(self._route(result.route)))
        fetched = [uid for uid, _ in messages]
        self.messages_done += len(fetched)
        if self.after_commit is not None:
            await self.after_commit(self.name, fetched)
        imap = self.mailbox.imap
        if imap.after_ingest == "move" and imap.move_to is not None:
            await session.move(fetched, imap.move_to)
        else:
            await session.mark_seen(fetched)
        log.info("email %s: uids %d-%d: %d stored (%d not routed, %d for review), %d seen before, %d acks",
                 self.name, fetched[0], fetched[-1], result.stored, result.unrouted, result.review,
                 result.duplicates, result.acks)
        for listener in self.listeners:
            listener(self.name, fetched, result)
        return max(fetched)

    async def _route(self, interactions: list[Arrival | uuid.UUID]) -> None:
        """Queue new interactions (with intake's facts) and reopened ones (read by the router); one the router
        misses is queued by its rebuild."""
        outcomes = await asyncio.gather(
            *(self.router.interaction_arrived(i) if isinstance(i, Arrival) else self.router.interaction_created(i)
              for i in interactions),
            return_exceptions=True)
        for item, outcome in zip(interactions, outcomes, strict=True):
            interaction_id = item.interaction_id if isinstance(item, Arrival) else item
            if isinstance(outcome, StoreError | r.RoutingError):
                log.warning("email %s: interaction %s stored but not yet routed: %s", self.name, interaction_id,
                            outcome)
            elif isinstance(outcome, BaseException):
                log.error("email %s: routing %s failed: %r", self.name, interaction_id, outcome)
