"""SIGKILL the server under mixed load; after a restart nothing acknowledged is lost or stored twice.

Covers web chat, SMS webhooks and the admin intake API (the email and voice
channels have no ``setup`` in the composition root yet).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from contactcenter.db import Database
from tests.faults.conftest import count, fault_config, write_config
from tests.faults.load import ApiCaller, ChatVisitor, ConsoleClient, Progress, SmsCustomer
from tests.server_process import HttpClient, ServerProcess
from tests.sms.fake_gateway import FakeGateway
from tests.support import login, make_agent, wait_for

VISITORS = 6
PHONES = 6
PER_SOURCE = 40  # at most this many messages from each source: the load is bounded
KILL_AFTER = 120  # acknowledgements before the crash


async def test_sigkill_under_mixed_load_loses_and_duplicates_nothing(
    db: Database, db_url: str, provider: FakeGateway, tmp_path: Path
) -> None:
    await make_agent(db, "root", role="admin")
    for name in ("alice", "bob"):
        await make_agent(db, name, skills={"sales": 5})
    server = ServerProcess(write_config(tmp_path, fault_config(provider.base_url)), db_url)
    await server.start()
    async with aiohttp.ClientSession() as session:
        url = server.url
        http = HttpClient(url, session)
        admin = await login(http, "root")
        consoles = [ConsoleClient(session, url, await login(http, name)) for name in ("alice", "bob")]
        for console in consoles:
            await console.connect()
            await console.available()
        visitors = [ChatVisitor(session, url, f"v{n}") for n in range(VISITORS)]
        phones = [SmsCustomer(session, url, f"+86139123456{n:02d}") for n in range(PHONES)]
        api = ApiCaller(session, url, admin)
        progress = Progress(KILL_AFTER)
        sources = [*visitors, *phones, api]
        load = [asyncio.create_task(source.run(PER_SOURCE, progress)) for source in sources]
        async with asyncio.timeout(30):
            await progress.reached.wait()

        await server.kill()
        async with asyncio.timeout(15):
            await asyncio.gather(*load)  # each stops at its first unanswered message
        for console in consoles:
            await console.close()
        waiting_at_crash = {str(r["id"]) for r in await db.pool.fetch(
            "SELECT id FROM interactions WHERE state IN ('queued', 'offered')")}
        offers_before = [len(c.offers) for c in consoles]

        server.port = 0
        await server.start()
        for client in [*consoles, *sources]:
            client.base_url = server.url
        for console in consoles:
            await console.connect(resume=True)
        for source in sources:
            await source.resend_pending()

        async def all_assigned() -> bool:
            return await count(db, "SELECT count(*) FROM interactions WHERE state <> 'assigned'") == 0

        await wait_for(all_assigned, 20, "every interaction to be offered and accepted after the restart")
        offered_after = {i for c, before in zip(consoles, offers_before, strict=True) for i in c.offers[before:]}
        for console in consoles:
            await console.close()
        assert await server.terminate() == 0

    assert waiting_at_crash <= offered_after, "an interaction queued at the crash was not offered again"
    assert not [p for c in consoles for p in c.problems], "console events skipped or repeated"
    acknowledged = {t for v in visitors for t in v.acked} | {t for p in phones for t in p.acked} | set(api.acked)
    assert len(acknowledged) >= KILL_AFTER
    stored = {r["body"]: r["n"] for r in await db.pool.fetch(
        "SELECT body, count(*) AS n FROM touchpoints WHERE kind = 'inbound_message' GROUP BY body")}
    assert acknowledged == set(stored), "acknowledged messages missing from the store (or stored unacknowledged)"
    assert all(n == 1 for n in stored.values()), {b: n for b, n in stored.items() if n > 1}
    for visitor in visitors:  # the ack named the stored touchpoint
        for text, touchpoint_id in visitor.acked.items():
            assert await db.fetchval("SELECT body FROM touchpoints WHERE id = $1", touchpoint_id) == text
    # One conversation per visitor and per phone, one case per API call: none lost, none doubled.
    by_channel = {r["channel"]: r["n"] for r in await db.pool.fetch(
        "SELECT channel, count(*) AS n FROM interactions GROUP BY channel")}
    assert by_channel == {"chat": VISITORS, "sms": PHONES, "email": len(api.acked)}
    assert set(api.acked.values()) == {str(r["id"]) for r in await db.pool.fetch(
        "SELECT id FROM interactions WHERE channel = 'email'")}
