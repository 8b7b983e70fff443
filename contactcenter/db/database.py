"""The asyncpg pool and the one place where driver errors become store errors.

Callers above this module never see asyncpg exceptions: a lost or refused
connection is ``StoreUnavailable`` (the HTTP layer answers 503 so gateways retry),
a unique or foreign-key violation is ``StoreConflict``, anything else is
``StoreError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

import asyncpg

from contactcenter.store import Tx

log = logging.getLogger(__name__)
T = TypeVar("T")

ACQUIRE_TIMEOUT_S = 10
STATEMENT_TIMEOUT_S = 30


class StoreError(Exception):
    """A database operation failed for a reason that is our fault."""


class StoreUnavailable(StoreError):
    """The database cannot be reached right now; retrying later may succeed."""


class StoreConflict(StoreError):
    """The write conflicts with existing data (a unique or reference constraint)."""


class StoreRetryable(StoreError):
    """PostgreSQL rolled the transaction back to break a deadlock (or a serialisation conflict).

    Nothing was written; the same work done again normally succeeds (see ``retrying``).
    """


class StoreInputError(StoreError):
    """A value the database cannot take: NUL in text, a number out of range, malformed input.

    The caller's input is at fault, not the server or the database: an HTTP request gets a 400.
    """


_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
)


@contextlib.contextmanager
def map_store_errors() -> Iterator[None]:
    """Translate driver exceptions into store exceptions (httpx-style boundary)."""
    try:
        yield
    except (asyncpg.UniqueViolationError, asyncpg.ForeignKeyViolationError) as exc:
        raise StoreConflict(str(exc)) from exc
    except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError) as exc:
        raise StoreRetryable(str(exc)) from exc
    except asyncpg.DataError as exc:  # SQLSTATE class 22, e.g. NUL in text, a value out of range
        raise StoreInputError(str(exc)) from exc
    except asyncpg.InterfaceError as exc:
        if isinstance(exc, ValueError):  # asyncpg could not encode an argument (an int beyond int64)
            raise StoreInputError(str(exc)) from exc
        raise StoreUnavailable(f"database unavailable: {exc}") from exc
    except _UNAVAILABLE as exc:
        raise StoreUnavailable(f"database unavailable: {exc}") from exc
    except asyncpg.PostgresConnectionError as exc:
        raise StoreUnavailable(f"database unavailable: {exc}") from exc
    except asyncpg.PostgresError as exc:
        raise StoreError(str(exc)) from exc


async def _init_connection(conn: asyncpg.Connection) -> None:
    """Decode json/jsonb columns to Python objects on every pooled connection."""
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=lambda v: json.dumps(v, ensure_ascii=False), decoder=json.loads, schema="pg_catalog"
        )


class _NoResetConnection(asyncpg.Connection):
    """Skip the session reset query on release to the pool.

    We never leave session state behind (no LISTEN, cursors, SET or session
    advisory locks outside ``migrate``, which unlocks explicitly), and the reset
    is one more round trip on every request. Open transactions are still
    rolled back by asyncpg on release.
    """

    def get_reset_query(self) -> str:
        return ""


async def retrying(work: Callable[[], Awaitable[T]], *, attempts: int = 3) -> T:
    """Run ``work`` (one whole transaction), again if PostgreSQL broke a deadlock by rolling it back.

    Rows are locked in whatever order each unit of work meets them (an interaction, then its agent's
    event counter), so two units can deadlock; PostgreSQL then aborts one of them, which did nothing,
    and doing it again succeeds once the other has committed.
    """
    for attempt in range(1, attempts + 1):
        try:
            return await work()
        except StoreRetryable as exc:
            if attempt == attempts:
                raise
            log.info("transaction rolled back (%s); attempt %d of %d", exc, attempt + 1, attempts)
    raise AssertionError("unreachable")


class Database:
    """A pool of connections to one PostgreSQL database."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def connect(cls, dsn: str, *, min_size: int = 2, max_size: int = 10) -> Database:
        with map_store_errors():
            pool = await asyncpg.create_pool(
                dsn, min_size=min_size, max_size=max_size, init=_init_connection,
                connection_class=_NoResetConnection,
                # PostgreSQL itself cancels a statement after 30 s. asyncpg's command_timeout would do the
                # same from here at the price of a timer armed and cancelled around every statement.
                server_settings={"statement_timeout": f"{STATEMENT_TIMEOUT_S * 1000}"},
            )
        return cls(pool)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.pool.close()

    @contextlib.asynccontextmanager
    async def _acquire(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection, waiting at most ``ACQUIRE_TIMEOUT_S`` for one.

        The wait is bounded here rather than by ``pool.acquire(timeout=)``, which
        on Python 3.11 wraps every acquisition in a new task.
        """
        async with asyncio.timeout(ACQUIRE_TIMEOUT_S):
            conn = await self.pool.acquire()
        try:
            yield conn
        finally:
            await self.pool.release(conn)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Tx]:
        """The stores over a pooled connection outside any transaction (each statement commits)."""
        with map_store_errors():
            async with self._acquire() as conn:
                yield Tx(conn)

    @contextlib.asynccontextmanager
    async def transaction(self, *, isolation: str = "read_committed") -> AsyncIterator[Tx]:
        """The stores inside one transaction: committed when the block ends, rolled back on error.

        ``isolation="repeatable_read"`` gives one snapshot for every read (consistent console state).
        """
        with map_store_errors():
            async with self._acquire() as conn, conn.transaction(isolation=isolation):
                yield Tx(conn)

    async def fetchval(self, query: str, *args: Any) -> Any:
        async with self.connection() as tx:
            return await tx.conn.fetchval(query, *args)
