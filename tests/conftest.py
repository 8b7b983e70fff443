"""Shared fixtures: one embedded PostgreSQL per test session, one fresh database per test.

The session migrates a template database once; each test gets
``CREATE DATABASE ... TEMPLATE cc_template``, which copies files instead of
replaying migrations, so tests are isolated and fast.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from contactcenter.config import Settings, load_config
from contactcenter.db import Database
from contactcenter.db.embedded import EmbeddedPostgres
from contactcenter.db.migrations import migrate

TEMPLATE = "cc_template"
TEST_CONFIG = Path(__file__).parent / "fixtures" / "test.yaml"


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


class PgCluster:
    """The session's embedded server and how to make databases on it."""

    def __init__(self, url: str, server: EmbeddedPostgres) -> None:
        self.url = url
        self.server = server

    async def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(self.url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE}')
        finally:
            await conn.close()
        return with_database(self.url, name)

    async def drop_database(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        conn = await asyncpg.connect(self.url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def _make_template(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
        await conn.execute(f"CREATE DATABASE {TEMPLATE}")
    finally:
        await conn.close()
    conn = await asyncpg.connect(with_database(url, TEMPLATE))
    try:
        await migrate(conn)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgCluster]:
    base = tmp_path_factory.mktemp("pg")
    os.environ["XDG_RUNTIME_DIR"] = str(base / ".pgruntime")
    (base / ".pgruntime").mkdir(mode=0o700)
    server = EmbeddedPostgres(base / "data")
    url = server.start()
    asyncio.run(_make_template(url))
    yield PgCluster(url, server)
    server.stop()


@pytest.fixture
async def db_url(pg_cluster: PgCluster) -> AsyncIterator[str]:
    url = await pg_cluster.create_database()
    yield url
    await pg_cluster.drop_database(url)


@pytest.fixture
def settings(db_url: str) -> Settings:
    base = load_config(TEST_CONFIG)
    return base.model_copy(update={"database": base.database.model_copy(update={"url": db_url})})


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = await Database.connect(db_url, min_size=1, max_size=20)
    yield database
    await database.close()


@pytest.fixture
async def client(settings: Settings, db: Database) -> AsyncIterator[TestClient]:
    from contactcenter.api.app import build_app

    app = build_app(settings, db)
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as test_client:
        yield test_client


