"""Ordered SQL migrations, each in its own transaction, under an advisory lock.

Files are ``migrations/NNNN_name.sql``; ``schema_migrations`` records which
versions ran. Two nodes starting at once serialise on the advisory lock, so the
second finds everything applied and does nothing.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from contactcenter.db.database import map_store_errors

log = logging.getLogger(__name__)

MIGRATION_LOCK_KEY = 0x636F6E74  # "cont": any fixed 64-bit number private to this application
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


@functools.cache
def available_migrations() -> tuple[Migration, ...]:
    """Every migration shipped with the package, in version order (read once: /readyz asks often)."""
    found = []
    for entry in resources.files("contactcenter.db").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions: {versions}")
    return tuple(found)


async def applied_versions(conn: asyncpg.Connection) -> set[int]:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return set()
    return {row[0] for row in await conn.fetch("SELECT version FROM schema_migrations")}


async def migrate(conn: asyncpg.Connection) -> list[int]:
    """Apply the missing migrations; return the versions applied (empty when current)."""
    applied_now: list[int] = []
    with map_store_errors():
        # No statement time limit here: waiting for another node's migrations, or building an index on
        # a large table, may take longer than the 30 s every other statement gets (RESET restores it).
        await conn.execute("SET statement_timeout = 0")
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        try:
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version integer PRIMARY KEY,
                       name text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            done = await applied_versions(conn)
            for migration in available_migrations():
                if migration.version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                        migration.version,
                        migration.name,
                    )
                log.info("applied migration %04d_%s", migration.version, migration.name)
                applied_now.append(migration.version)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
            await conn.execute("RESET statement_timeout")
    return applied_now


async def is_current(conn: asyncpg.Connection) -> bool:
    """True when every shipped migration has been applied."""
    with map_store_errors():
        done = await applied_versions(conn)
    return all(m.version in done for m in available_migrations())
