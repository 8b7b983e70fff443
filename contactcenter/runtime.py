"""Open the database the configuration asks for: a URL, or the embedded server.

One code path for both: with ``database.url`` (or ``DATABASE_URL``) we connect
to that PostgreSQL; without, we start the embedded one in ``database.data_dir``
and connect to it the same way, through asyncpg.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

from contactcenter.config import Settings
from contactcenter.db import Database, StoreConflict
from contactcenter.db.embedded import EmbeddedPostgres
from contactcenter.db.migrations import migrate
from contactcenter.model import Role
from contactcenter.passwords import hash_password_async

log = logging.getLogger(__name__)

ADMIN_PASSWORD_ENV = "CONTACTCENTER_ADMIN_PASSWORD"


@contextlib.asynccontextmanager
async def open_database(settings: Settings, *, run_migrations: bool = True) -> AsyncIterator[Database]:
    """Yield a migrated pool; stop the embedded server (if we started it) afterwards.

    The embedded server starts in a thread that cancellation cannot stop: Ctrl-C
    during start-up cancels the await, not initdb or pg_ctl. So the start runs
    shielded inside the ``try`` and the ``finally`` waits for it before stopping
    the server, whatever point start-up was interrupted at.
    """
    url = settings.database.url  # the config loader already took $DATABASE_URL when the file has none
    embedded: EmbeddedPostgres | None = None
    starting: asyncio.Task[str] | None = None
    try:
        if url is None:
            embedded = EmbeddedPostgres(Path(settings.database.data_dir))
            log.info("no database URL configured: starting embedded PostgreSQL in %s", embedded.data_dir)
            starting = asyncio.ensure_future(asyncio.to_thread(embedded.start))
            url = await asyncio.shield(starting)
        db = await Database.connect(
            url, min_size=settings.database.pool_min_size, max_size=settings.database.pool_max_size
        )
        try:
            if run_migrations:
                async with db.connection() as tx:
                    applied = await migrate(tx.conn)
                if applied:
                    log.info("database migrated to version %d", applied[-1])
            yield db
        finally:
            await db.close()
    finally:
        if embedded is not None:
            await _stop_embedded(embedded, starting)


async def _stop_embedded(embedded: EmbeddedPostgres, starting: asyncio.Task[str] | None) -> None:
    """Stop ``embedded`` once its start has finished, even if we are cancelled (again) while waiting.

    Stopping before the start thread is done would find nothing to stop and leave
    the server it then starts running. A cancellation that arrives while we wait is
    re-raised after the server is stopped.
    """
    interrupted = False
    while starting is not None and not starting.done():
        try:
            await asyncio.wait({starting})
        except asyncio.CancelledError:
            interrupted = True
    if starting is not None and not starting.cancelled():
        starting.exception()  # a failed start was reported by the shielded await; do not log it again
    await asyncio.to_thread(embedded.stop)
    if interrupted:
        raise asyncio.CancelledError


async def ensure_admin(db: Database) -> str | None:
    """Create the first ``admin`` account when there is no account at all.

    The password comes from ``CONTACTCENTER_ADMIN_PASSWORD``, or is random and
    logged once. Returns the password when an account was created.
    """
    async with db.connection() as tx:
        if await tx.agents.count() > 0:
            return None
    password = os.environ.get(ADMIN_PASSWORD_ENV) or secrets.token_urlsafe(12)
    password_hash = await hash_password_async(password)  # slow on purpose: not inside the transaction
    try:
        async with db.transaction() as tx:
            await tx.agents.create(
                login="admin",
                display_name="Administrator",
                role=Role.ADMIN,
                password_hash=password_hash,
            )
    except StoreConflict:
        return None  # another node created it first
    if os.environ.get(ADMIN_PASSWORD_ENV):
        log.warning("created account 'admin' with the password from %s", ADMIN_PASSWORD_ENV)
    else:
        log.warning("created account 'admin' with password %s (shown once; change it)", password)
    return password
