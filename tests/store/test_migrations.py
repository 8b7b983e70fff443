"""Migrations are idempotent, and data survives a stop and start of the embedded server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from contactcenter.db import Database
from contactcenter.db.embedded import EmbeddedPostgres
from contactcenter.db.migrations import available_migrations, is_current, migrate


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
