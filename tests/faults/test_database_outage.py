"""Stop PostgreSQL under a running server, then start it again: 503s meanwhile, recovery by itself.

The test has its own embedded PostgreSQL (in ``tmp_path``), so stopping it
touches no other test's database.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from contactcenter.db import Database
from contactcenter.db.embedded import EmbeddedPostgres
from contactcenter.db.migrations import migrate
from tests.faults.conftest import SHOP_ORIGIN, fault_config, post_sms, write_config
from tests.faults.load import ChatVisitor, ConsoleClient, Progress, SmsCustomer
from tests.server_process import HttpClient, ServerProcess
from tests.sms.fake_gateway import FakeGateway
from tests.support import bearer, login, make_agent, wait_for


class OwnPostgres:
    """An embedded PostgreSQL for one test, with the database migrated."""

    def __init__(self, folder: Path) -> None:
        self.server = EmbeddedPostgres(folder / "data")
        self.url = ""

    async def start(self) -> None:
        self.url = await asyncio.to_thread(self.server.start)

    async def stop(self) -> None:
        await asyncio.to_thread(self.server.stop)


@pytest.fixture
async def own_postgres(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[OwnPostgres]:
    runtime = tmp_path / "outage-pg" / ".pgruntime"
    runtime.mkdir(parents=True, mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))  # its own lock folder if the wheel is not loaded yet
    postgres = OwnPostgres(tmp_path / "outage-pg")
    await postgres.start()
    db = await Database.connect(postgres.url, min_size=1, max_size=2)
    try:
        async with db.connection() as tx:
            await migrate(tx.conn)
        await make_agent(db, "root", role="admin")
        await make_agent(db, "alice", skills={"sales": 5})
    finally:
        await db.close()
    yield postgres
    await postgres.stop()


async def _status(session: aiohttp.ClientSession, method: str, url: str, **kwargs: object) -> tuple[int, dict]:
    async with session.request(method, url, **kwargs) as response:  # type: ignore[arg-type]
        return response.status, await response.json()


async def test_postgres_stopped_and_started_again(own_postgres: OwnPostgres, provider: FakeGateway,
                                                  tmp_path: Path) -> None:
    server = ServerProcess(write_config(tmp_path, fault_config(provider.base_url)), own_postgres.url)
    await server.start()
    url = server.url
    async with aiohttp.ClientSession() as session:
        http = HttpClient(url, session)
        admin = bearer(await login(http, "root"))
        alice = ConsoleClient(session, url, await login(http, "alice"))
        assert (await alice.connect())["database"] == "ok"
        await alice.available()
        visitor = ChatVisitor(session, url, "before")
        phone = SmsCustomer(session, url, "+8613912345600")
        progress = Progress(0)
        await visitor.run(3, progress)
        await phone.run(3, progress)
        assert progress.count == 6
        await alice.next("offer")

        await own_postgres.stop()
        assert (await _status(session, "GET", f"{url}/readyz"))[0] == 503
        assert (await _status(session, "GET", f"{url}/healthz"))[0] == 200
        assert await post_sms(session, url, "+8613912345601", "down?", "during-1") == 503
        status, body = await _status(session, "POST", f"{url}/api/interactions", headers=admin, json={
            "channel": "email", "identity": "email:a@shop.cn", "queue": "sales", "body": "down?"})
        assert (status, body["error"]["code"]) == (503, "unavailable")
        async with session.ws_connect(f"{url}/chat/ws?widget=shop", headers={"Origin": SHOP_ORIGIN}) as chat:
            await chat.send_json({"type": "hello", "widget": "shop"})
            answer = json.loads((await chat.receive(timeout=10)).data)
            assert (answer["type"], answer["code"]) == ("error", "unavailable")
        degraded = await alice.next("status", timeout=15)  # the monitor probes every 5 s while healthy
        assert degraded == {"type": "status", "seq": None, "database": "degraded"}

        await own_postgres.start()
        assert await alice.next("status", timeout=10) == {"type": "status", "seq": None, "database": "ok"}

        async def ready() -> bool:
            return (await _status(session, "GET", f"{url}/readyz"))[0] == 200

        await wait_for(ready, 10, "/readyz to answer 200 again")
        seen = set(alice.offers)
        assert await post_sms(session, url, "+8613912345601", "back?", "after-1") == 200
        offer = await alice.next("offer", lambda m: m["interaction"]["id"] not in seen)  # no restart needed
        assert offer["interaction"]["channel"] == "sms"
        await alice.next("assigned", lambda m: m["interaction"]["id"] == offer["interaction"]["id"])
        after = ChatVisitor(session, url, "after")
        await after.run(1, progress)
        assert after.acked and not alice.ws.closed  # type: ignore[union-attr]
        await alice.close()
        assert await server.terminate() == 0

    assert not alice.problems
    db = await Database.connect(own_postgres.url, min_size=1, max_size=2)
    try:
        bodies = {r["body"] for r in await db.pool.fetch("SELECT body FROM touchpoints WHERE kind = 'inbound_message'")}
    finally:
        await db.close()
    assert {*visitor.acked, *phone.acked, *after.acked, "back?"} == bodies
