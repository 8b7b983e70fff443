"""Kill the server with SIGKILL mid-flight; after restart nothing is lost or duplicated."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from contactcenter.db import Database
from tests.agent_console import AgentConsole
from tests.server_process import HttpClient, ServerProcess
from tests.support import PASSWORD, bearer, make_agent

CONFIG = Path(__file__).parents[1] / "fixtures" / "test.yaml"


async def _token(client: HttpClient, login: str) -> str:
    async with client.post("/api/login", json={"login": login, "password": PASSWORD}) as response:
        assert response.status == 200
        return (await response.json())["token"]


async def test_sigkill_with_queued_offered_and_assigned_interactions(db: Database, db_url: str) -> None:
    for login, skills in (("root", {}), ("alice", {"sales": 7}), ("bob", {"sales": 5})):
        await make_agent(db, login, role="admin" if login == "root" else "agent", skills=skills,
                         capacity={"chat": 1})
    server = ServerProcess(CONFIG, db_url)
    await server.start()
    async with aiohttp.ClientSession() as session:
        client = HttpClient(server.url, session)
        admin = await _token(client, "root")
        alice = AgentConsole(client, await _token(client, "alice"))  # type: ignore[arg-type]
        bob = AgentConsole(client, await _token(client, "bob"))  # type: ignore[arg-type]
        await alice.connect()
        await alice.available()
        ids = []
        for n in range(3):
            async with client.post("/api/interactions", headers=bearer(admin), json={
                "channel": "chat", "identity": f"email:c{n}@shop.cn", "queue": "sales", "body": f"q{n}",
            }) as response:
                assert response.status == 201
                ids.append((await response.json())["interaction_id"])
        assert await alice.offer() == ids[0]
        await alice.accept(ids[0])
        await bob.connect()
        await bob.available()
        assert await bob.offer() == ids[1]  # left offered at the crash; ids[2] stays queued

        await server.kill()
        await alice.disconnect()
        await bob.disconnect()
        server.port = 0
        await server.start()
        client.base_url = server.url

        hello = await alice.connect(resume=True)
        assert [i["id"] for i in hello["interactions"]] == [ids[0]]  # still assigned to alice
        await bob.connect(resume=True)
        await bob.expect("revoked", interaction_id=ids[1], reason="restart")
        assert await bob.offer() == ids[1]  # offers resume
        await alice.disconnect()
        await bob.disconnect()
        assert await server.terminate() == 0

    async with db.connection() as tx:
        rows = await tx.conn.fetch("SELECT id::text, state, agent_id FROM interactions ORDER BY arrived_at")
        inbound = await tx.conn.fetchval("SELECT count(*) FROM touchpoints WHERE kind = 'inbound_message'")
    assert [r["id"] for r in rows] == ids
    assert [r["state"] for r in rows] == ["assigned", "offered", "queued"]
    assert inbound == 3
