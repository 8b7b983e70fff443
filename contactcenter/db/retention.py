"""Delete what is only kept for a while: console events past their retention, expired login sessions.

Console events (``agent_events``) exist so that a console that reconnects can
resume where it was (docs/protocol.md); after ``database.retention.agent_events``
(default a day) nothing needs them, and without pruning the table grows by
several rows per conversation forever. A console resuming from before the
oldest kept event gets a fresh snapshot, which the protocol already provides.
Expired sessions are refused at login anyway; deleting them keeps the table
small. The customer history (touchpoints) and the agent state log are the
reports' data and are never pruned here.

Deletes go in batches of ``batch`` rows, each its own short transaction, so a
large backlog (the first run after an upgrade) never holds locks for long nor
builds one huge transaction. Several nodes may share the database: each batch
takes a transaction-level advisory lock with ``pg_try_advisory_xact_lock``,
and a node that does not get it leaves the round to the node that did. The
lock is transaction-scoped because pooled connections are not reset on
release (``database._NoResetConnection``): a session lock could outlive the
round on a connection someone else then uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from contactcenter.db.database import Database, StoreError

log = logging.getLogger(__name__)

# pg_try_advisory_xact_lock key: "cc-retention" as a number, distinct from migrations' key.
RETENTION_LOCK_KEY = 0x63632D726574
BATCH = 5_000

# (table, what to delete): each an id-free batch delete by ctid, $1 = cutoff, $2 = batch size.
_PRUNES = {
    "agent_events": """DELETE FROM agent_events WHERE ctid = ANY(ARRAY(
                           SELECT ctid FROM agent_events WHERE created_at < $1 LIMIT $2))""",
    "agent_sessions": """DELETE FROM agent_sessions WHERE ctid = ANY(ARRAY(
                             SELECT ctid FROM agent_sessions WHERE expires_at < $1 LIMIT $2))""",
}


class Retention:
    """Pruning rounds, every ``every_s`` seconds while the app runs (``running``).

    ``agent_events_s``: how long console events are kept (``database.retention.agent_events``).
    """

    def __init__(self, db: Database, *, agent_events_s: float, every_s: float, batch: int = BATCH) -> None:
        self.db = db
        self.agent_events_s = agent_events_s
        self.every_s = every_s
        self.batch = batch
        self._task: asyncio.Task[None] | None = None

    async def prune_once(self, now: datetime) -> dict[str, int] | None:
        """One round; rows deleted per table, or None when another node holds the round."""
        cutoffs = {"agent_events": now - timedelta(seconds=self.agent_events_s), "agent_sessions": now}
        deleted: dict[str, int] = {}
        for table, statement in _PRUNES.items():
            deleted[table] = 0
            while True:
                async with self.db.transaction() as tx:
                    if not await tx.conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", RETENTION_LOCK_KEY):
                        return None
                    status = await tx.conn.execute(statement, cutoffs[table], self.batch)
                count = int(status.split()[-1])
                deleted[table] += count
                if count < self.batch:
                    break
        return deleted

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)  # a periodic chore: nothing to wait on but time
            try:
                deleted = await self.prune_once(await self._database_now())
            except StoreError as exc:  # the database is down or busy: the next round catches up
                log.warning("retention: pruning skipped: %s", exc)
                continue
            except Exception:  # a bug must not end pruning for the life of the process
                log.exception("retention: pruning failed")
                continue
            if deleted and any(deleted.values()):
                log.info("retention: deleted %s", ", ".join(f"{n} {table}" for table, n in deleted.items()))

    async def _database_now(self) -> datetime:
        """The database's clock: every node then agrees on what is old, whatever its own clock says."""
        now: datetime = await self.db.fetchval("SELECT now()")
        return now

    async def running(self, _app: object) -> AsyncIterator[None]:
        """For ``app.cleanup_ctx``: prune while the app runs."""
        self._task = asyncio.create_task(self._run(), name="retention")
        yield
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
