"""Clients that stop reading, or send too much: dropped or refused, and nobody else waits for them.

The send deadline is shortened from 10 s to 1 s here so the tests stay quick;
the behaviour is the same.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import aiohttp
import psutil
import pytest
from aiohttp.test_utils import TestClient

import channels.webchat.connection as chat_connection
import contactcenter.hub.agent_ws as agent_ws
from channels.webchat import CHAT_HUB
from contactcenter.api.keys import AGENT_HUB, SETTINGS
from contactcenter.db import Database
from tests.faults.conftest import SHOP_ORIGIN, sms_body
from tests.faults.load import ChatVisitor, ConsoleClient, Progress
from tests.faults.stalled import stalled_websocket, text_frame
from tests.support import bearer, login, make_agent, wait_for

BIG = "长" * 4_900  # ~15 kB of UTF-8 per message: the buffers fill after a few dozen
MAX_MESSAGES = 400  # the pump is bounded; the stalled client is dropped long before
OFFER_BOUND_S = 1.5  # how long another agent may wait for an offer while the pump runs
SEND_DEADLINE_S = 1.0


def _server_sockets(server_port: int, client_port: int) -> list[object]:
    """The server's end of the client's TCP connection, while it has one (server and client share this process)."""
    return [c for c in psutil.Process().net_connections("tcp")
            if c.laddr and c.laddr.port == server_port and c.raddr and c.raddr.port == client_port]


def _url(client: TestClient) -> str:
    return str(client.make_url("")).rstrip("/")


async def _offers_on_time(fast: ConsoleClient, client: TestClient, admin: str, stop: asyncio.Event,
                          latencies: list[float]) -> None:
    """Raise support cases one by one while ``stop`` is unset; record how long each took to be offered."""
    loop = asyncio.get_running_loop()
    for n in range(50):
        if stop.is_set():
            return
        started = loop.time()
        response = await client.post("/api/interactions", headers=bearer(admin), json={
            "channel": "email", "identity": f"email:case{n}@shop.cn", "queue": "support", "body": f"case {n}"})
        assert response.status == 201, await response.text()
        await fast.next("offer", timeout=OFFER_BOUND_S * 2)
        latencies.append(loop.time() - started)


async def test_a_console_that_never_reads_is_dropped_and_holds_nobody_up(
    client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agent_ws, "SEND_TIMEOUT_S", SEND_DEADLINE_S)
    await make_agent(db, "root", role="admin")
    await make_agent(db, "slow", skills={"sales": 5})
    await make_agent(db, "fast", skills={"support": 5})
    url, admin, slow_token = _url(client), await login(client, "root"), await login(client, "slow")
    slow = ConsoleClient(client.session, url, slow_token)
    await slow.connect()
    await slow.available()
    talker = ChatVisitor(client.session, url, "talker")
    await talker.run(1, Progress(0))
    await slow.next("assigned")
    await slow.close()  # within the grace period: still available, still assigned
    fast = ConsoleClient(client.session, url, await login(client, "fast"))
    await fast.connect()
    await fast.available()
    hub = client.app[AGENT_HUB]
    stalled = await stalled_websocket(client.port, "/agent/ws", bearer(slow_token))

    async def stalled_is_connected() -> bool:
        return len(hub.connections) == 2

    await wait_for(stalled_is_connected, 5, "the stalled console to be connected")
    stop, latencies = asyncio.Event(), []
    offers = asyncio.create_task(_offers_on_time(fast, client, admin, stop, latencies))
    chat = await talker.open()
    loop = asyncio.get_running_loop()
    started, sent = loop.time(), 0
    for n in range(MAX_MESSAGES):  # each becomes a ~15 kB event for the stalled console
        await talker.say(chat, f"big-{n}", f"{BIG} {n}")
        sent += 1
        if len(hub.connections) == 1:
            break

    async def stalled_is_dropped() -> bool:
        return len(hub.connections) == 1

    await wait_for(stalled_is_dropped, 5, "the stalled console to be disconnected")
    dropped_after = loop.time() - started
    client_port = stalled.get_extra_info("sockname")[1]

    async def socket_released() -> bool:
        return not _server_sockets(client.port, client_port)

    await wait_for(socket_released, 5, "the server to release the stalled console's socket")
    stop.set()
    await offers
    await chat.close()
    stalled.close()
    assert dropped_after < SEND_DEADLINE_S + 8, dropped_after
    assert latencies and max(latencies) < OFFER_BOUND_S, latencies

    # It reconnects where it left off and loses nothing.
    again = ConsoleClient(client.session, url, slow_token)
    again.last_seq = slow.last_seq
    await again.connect(resume=True)
    for n in range(sent):
        message = await again.next("message", timeout=10)
        assert message["touchpoint"]["body"] == f"{BIG} {n}"
    assert not again.problems and not fast.problems
    await again.close()
    await fast.close()


async def test_a_chat_customer_that_never_reads_is_dropped_and_holds_nobody_up(
    client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chat_connection, "SEND_TIMEOUT_S", SEND_DEADLINE_S)
    await make_agent(db, "amy", skills={"sales": 5})
    url = _url(client)
    amy = ConsoleClient(client.session, url, await login(client, "amy"))
    await amy.connect()
    await amy.available()
    stalling = ChatVisitor(client.session, url, "stalling")
    await stalling.run(1, Progress(0))
    interaction = (await amy.next("assigned"))["interaction"]["id"]
    other = ChatVisitor(client.session, url, "other")
    other_ws = await other.open()
    hub = client.app[CHAT_HUB]
    before = len(hub.connections)
    stalled = await stalled_websocket(client.port, "/chat/ws?widget=shop", {"Origin": SHOP_ORIGIN})
    stalled.write(text_frame(json.dumps({"type": "hello", "widget": "shop", "visitor_token": stalling.token})))

    async def connected() -> bool:
        return len(hub.connections) == before + 1

    await wait_for(connected, 5, "the stalled chat to be connected")
    loop = asyncio.get_running_loop()
    started, worst = loop.time(), 0.0
    for n in range(MAX_MESSAGES):  # the agent's replies pile up for the stalled customer
        msg_id = uuid.uuid4().hex
        await amy.send("reply", interaction_id=interaction, text=f"{BIG} {n}", client_msg_id=msg_id)
        await amy.next("ack", lambda m, i=msg_id: m["client_msg_id"] == i)
        if n % 10 == 0:  # meanwhile another customer is answered at once
            said = loop.time()
            await other.say(other_ws, f"o-{n}", f"other #{n}")
            worst = max(worst, loop.time() - said)
        if len(hub.connections) == before:
            break
    assert worst < OFFER_BOUND_S, worst

    async def dropped() -> bool:
        return len(hub.connections) == before and not _server_sockets(client.port, client_port)

    client_port = stalled.get_extra_info("sockname")[1]
    try:
        await wait_for(dropped, 3, "the stalled chat to be disconnected and its socket released")
    finally:
        stalled.close()
        await other_ws.close()
        await amy.close()
    assert loop.time() - started < SEND_DEADLINE_S + 10


async def test_oversized_messages_and_bodies_are_refused(client: TestClient, db: Database) -> None:
    await make_agent(db, "amy", role="admin", skills={"sales": 5})
    token = await login(client, "amy")
    too_big = "x" * (64 * 1024 + 1)
    async with client.session.ws_connect(f"{_url(client)}/agent/ws", headers=bearer(token)) as console:
        assert (await console.receive_json(timeout=10))["type"] == "hello"
        await console.send_str(too_big)
        closing = await console.receive(timeout=10)
        assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, aiohttp.WSCloseCode.MESSAGE_TOO_BIG)
    async with client.session.ws_connect(f"{_url(client)}/chat/ws?widget=shop",
                                         headers={"Origin": SHOP_ORIGIN}) as chat:
        await chat.send_str(too_big)
        closing = await chat.receive(timeout=10)
        assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, aiohttp.WSCloseCode.MESSAGE_TOO_BIG)

    huge = b"{" + b" " * (client.app[SETTINGS].server.max_body_bytes + 1) + b"}"
    for path, headers in (("/api/login", {"Content-Type": "application/json"}),
                          ("/sms/local/inbound", sms_body("+8613912345678", "x", "big")[1]),
                          ("/api/interactions", bearer(token))):
        response = await client.post(path, data=huge, headers=headers)
        assert response.status == 413, (path, response.status)
        assert (await response.json())["error"]["code"] == "body_too_large"
