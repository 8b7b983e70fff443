"""Retention: console events past their keep time and expired sessions are deleted, nothing else."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from contactcenter.config import Settings
from contactcenter.db import Database
from contactcenter.db.retention import RETENTION_LOCK_KEY, Retention
from tests.agent_console import AgentConsole
from tests.support import login, make_agent, wait_for

DAY = 24 * 3600.0


async def _events(db: Database, agent_id: uuid.UUID, count: int, age: timedelta) -> None:
    """``count`` console events for the agent, created ``age`` ago."""
    async with db.transaction() as tx:
        for n in range(count):
            await tx.agent_events.append(agent_id, "state", {"n": n})
        await tx.conn.execute("UPDATE agent_events SET created_at = now() - $2::interval "
                              "WHERE agent_id = $1 AND created_at > now() - interval '1 minute'", agent_id, age)


async def _seqs(db: Database, agent_id: uuid.UUID) -> list[int]:
    async with db.connection() as tx:
        return [r["seq"] for r in await tx.conn.fetch(
            "SELECT seq FROM agent_events WHERE agent_id = $1 ORDER BY seq", agent_id)]


async def _now(db: Database) -> datetime:
    value: datetime = await db.fetchval("SELECT now()")
    return value


async def test_old_console_events_go_and_recent_ones_stay(db: Database) -> None:
    agent = await make_agent(db, "alice")
    await _events(db, agent.id, 4, timedelta(days=2))
    await _events(db, agent.id, 3, timedelta(hours=1))
    retention = Retention(db, agent_events_s=DAY, every_s=600, batch=3)  # small batches: the loop must go on

    deleted = await retention.prune_once(await _now(db))

    assert deleted == {"agent_events": 4, "agent_sessions": 0}
    assert await _seqs(db, agent.id) == [5, 6, 7]
    async with db.connection() as tx:  # numbering carries on from where it was, not from what is left
        assert await tx.agent_events.latest_seq(agent.id) == 7
        assert (await tx.agent_events.append(agent.id, "state", {})).seq == 8


async def test_expired_sessions_go_and_live_ones_still_log_in(client: TestClient, db: Database) -> None:
    await make_agent(db, "alice")
    expired, live = await login(client, "alice"), await login(client, "alice")
    async with db.connection() as tx:
        await tx.conn.execute("UPDATE agent_sessions SET expires_at = now() - interval '1 second' "
                              "WHERE created_at = (SELECT min(created_at) FROM agent_sessions)")
    async with db.connection() as tx:
        assert await tx.conn.fetchval("SELECT count(*) FROM agent_sessions") == 2

    deleted = await Retention(db, agent_events_s=DAY, every_s=600).prune_once(await _now(db))

    assert deleted is not None and deleted["agent_sessions"] == 1
    statuses = []
    for token in (expired, live):
        response = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        statuses.append(response.status)
    assert statuses == [401, 200]


async def test_a_round_held_by_another_node_is_skipped(db: Database, db_url: str) -> None:
    agent = await make_agent(db, "alice")
    await _events(db, agent.id, 2, timedelta(days=2))
    other_node = await asyncpg.connect(db_url)
    try:
        async with other_node.transaction():
            assert await other_node.fetchval("SELECT pg_try_advisory_xact_lock($1)", RETENTION_LOCK_KEY)
            skipped = await Retention(db, agent_events_s=DAY, every_s=600).prune_once(await _now(db))
            assert skipped is None
            assert await _seqs(db, agent.id) == [1, 2]
    finally:
        await other_node.close()
    assert await Retention(db, agent_events_s=DAY, every_s=600).prune_once(await _now(db)) is not None
    assert await _seqs(db, agent.id) == []


@pytest.fixture
async def pruning_client(settings: Settings, db: Database) -> AsyncIterator[TestClient]:
    """The app with a retention round every 50 ms."""
    from contactcenter.api.app import build_app

    database = settings.database.model_copy(
        update={"retention": settings.database.retention.model_copy(update={"every": 0.05})})
    app = build_app(settings.model_copy(update={"database": database}), db)
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as test_client:
        yield test_client


async def test_the_server_prunes_and_a_console_resuming_from_before_gets_a_snapshot(
        pruning_client: TestClient, db: Database) -> None:
    agent = await make_agent(db, "alice")
    console = AgentConsole(pruning_client, await login(pruning_client, "alice"))
    await console.connect()
    await console.available()
    await console.disconnect()
    seen = console.last_seq
    assert seen >= 1
    async with db.connection() as tx:  # everything the console saw is now two days old
        await tx.conn.execute("UPDATE agent_events SET created_at = now() - interval '2 days' WHERE agent_id = $1",
                              agent.id)
    await _events(db, agent.id, 2, timedelta(0))  # and two more happened since, still kept

    async def pruned() -> bool:
        return len(await _seqs(db, agent.id)) == 2
    await wait_for(pruned, 10, "the server's retention round")

    console.last_seq = seen - 1  # it missed an event that is gone: it cannot resume
    hello = await console.connect(resume=True)
    assert hello["resumed"] is False
    assert hello["seq"] == seen + 2
    await console.disconnect()

    console.last_seq = seen  # it saw everything up to the kept ones: it resumes
    hello = await console.connect(resume=True)
    assert hello["resumed"] is True
    await console.disconnect()
