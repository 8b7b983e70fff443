"""Migrations are idempotent, and data survives a stop and start of the embedded server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from contactcenter.db import Database
from contactcenter.db.embedded import EmbeddedPostgres
from contactcenter.db.migrations import available_migrations, is_current, migrate
from tests.support import wait_for


async def test_migrations_run_twice_are_a_no_op(db: Database) -> None:
    async with db.connection() as tx:
        assert await migrate(tx.conn) == []  # the template was migrated already
        assert await migrate(tx.conn) == []
        assert await is_current(tx.conn)
        versions = await tx.conn.fetch("SELECT version FROM schema_migrations ORDER BY 1")
    assert [r[0] for r in versions] == [m.version for m in available_migrations()]


async def test_two_nodes_migrating_at_once_apply_each_migration_once(pg_cluster, db_url: str) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()
    conns = [await asyncpg.connect(db_url) for _ in range(2)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
        assert sorted(len(r) for r in results) == [0, len(available_migrations())]
    finally:
        for c in conns:
            await c.close()


async def test_data_survives_a_restart_of_the_embedded_server(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "restart" / "pgdata")
    url = await asyncio.to_thread(server.start)
    try:
        conn = await asyncpg.connect(url)
        assert len(await migrate(conn)) == len(available_migrations())
        await conn.execute("INSERT INTO customers (display_name) VALUES ('持久')")
        await conn.close()
        await asyncio.to_thread(server.stop)

        url = await asyncio.to_thread(server.start)
        conn = await asyncpg.connect(url)
        assert await conn.fetchval("SELECT display_name FROM customers") == "持久"
        assert await migrate(conn) == []
        await conn.close()
    finally:
        await asyncio.to_thread(server.stop)


async def test_waiting_for_another_nodes_migrations_outlasts_the_statement_limit(db: Database, db_url: str) -> None:
    """Migrations lift the per-statement limit (a node waits for another's long migration), then restore it."""
    from contactcenter.db.migrations import MIGRATION_LOCK_KEY

    async with db.connection() as tx:
        assert await tx.conn.fetchval("SHOW statement_timeout") == "30s"  # what the pool gives every connection
    holder = await asyncpg.connect(db_url)
    node = await asyncpg.connect(db_url, server_settings={"statement_timeout": "100ms"})
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)  # another node is migrating
        migrating = asyncio.create_task(migrate(node))
        node_pid = node.get_server_pid()

        async def waited_past_its_limit() -> bool:
            return bool(await holder.fetchval(
                """SELECT wait_event_type = 'Lock' AND now() - query_start > interval '300 ms'
                   FROM pg_stat_activity WHERE pid = $1""", node_pid))

        await wait_for(waited_past_its_limit, 10, "the node to wait on the lock three times its limit", every=0.02)
        assert not migrating.done()
        await holder.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
        assert await asyncio.wait_for(migrating, 10) == []  # not cancelled by the 100 ms limit
        assert await node.fetchval("SHOW statement_timeout") == "100ms"
    finally:
        await holder.close()
        await node.close()
