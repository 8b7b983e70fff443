"""What one ``hello`` costs the database, and that the cheap paths still answer what the full read would.

Every statement sent on any pooled connection is recorded with the asyncio task
that sent it (BEGIN and COMMIT included: asyncpg sends them through
``Connection.execute``). The server handles one websocket in one task, so the
statements of that task between the hello and its welcome are the hello's
round trips; background work (routing, outboxes) runs in other tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from channels.webchat import availability as availability_module
from channels.webchat.availability import Availability
from channels.webchat.visitors import hash_token
from contactcenter.config import Settings
from contactcenter.db import Database
from tests.webchat.chat_customer import ChatCustomer

Recorded = list[tuple[asyncio.Task[Any] | None, str]]


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> Recorded:
    """(task, SQL) of every statement sent from now on, in order."""
    recorded: Recorded = []

    def recording(name: str) -> Callable[..., Any]:
        original = getattr(asyncpg.Connection, name)

        async def method(self: asyncpg.Connection, query: str, *args: Any, **kwargs: Any) -> Any:
            recorded.append((asyncio.current_task(), " ".join(query.split())))
            return await original(self, query, *args, **kwargs)

        return method

    for name in ("execute", "executemany", "fetch", "fetchrow", "fetchval"):
        monkeypatch.setattr(asyncpg.Connection, name, recording(name))
    return recorded


async def _hello(customer: ChatCustomer, statements: Recorded, **fields: Any) -> list[str]:
    """Say hello on a new socket; the statements the connection's task sent until the welcome."""
    await customer.open()
    statements.clear()
    hello = {"widget": customer.widget, **fields}
    if customer.token is not None:
        hello["visitor_token"] = customer.token
    await customer.send("hello", **hello)
    customer.welcome = await customer.expect("welcome")
    customer.token = customer.welcome["visitor_token"]
    visitor_tasks = {task for task, sql in statements if "chat_visitors" in sql}
    assert len(visitor_tasks) == 1, statements
    task = visitor_tasks.pop()
    return [sql for sent_by, sql in statements if sent_by is task]


async def test_a_new_visitors_hello_is_one_insert_and_a_returning_one_reads_its_conversation(
    client: TestClient, db: Database, statements: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(availability_module, "CACHE_S", 3600.0)  # warmed by the first visitor, then not asked
    first = ChatCustomer(client)
    await _hello(first, statements)
    assert first.welcome["conversation"] == {"id": None, "state": "none", "messages": []}
    assert first.welcome["online"] is False and first.welcome["offline_reason"] == "no_agent"
    await first.close()

    customer = ChatCustomer(client)
    sent = await _hello(customer, statements)
    assert len(sent) == 1 and sent[0].startswith("INSERT INTO chat_visitors"), sent  # no BEGIN, COMMIT or read
    assert not any("FROM agents" in sql for _, sql in statements)  # availability came from the cache
    welcome = customer.welcome
    assert welcome["conversation"] == {"id": None, "state": "none", "messages": []}
    assert welcome["online"] is False and welcome["offline_reason"] == "no_agent"
    assert welcome["prechat_done"] is False and len(welcome["visitor_token"]) >= 40

    # it can chat at once: the message starts its conversation, which is then live on this socket
    ack = await customer.say("新访客的第一条消息")
    assert (await customer.expect("queue"))["conversation_id"] == ack["conversation_id"]
    await customer.close()

    # the same token again: found by one UPDATE (no transaction around it), and its open conversation is read
    sent = await _hello(customer, statements)
    assert sent[0].startswith("UPDATE chat_visitors SET last_seen_at"), sent
    assert any("thread_key" in sql for sql in sent), sent
    conversation = customer.welcome["conversation"]
    assert conversation["id"] == ack["conversation_id"] and conversation["state"] == "waiting"
    assert [(m["id"], m["text"]) for m in conversation["messages"]] == [(ack["id"], "新访客的第一条消息")]
    assert customer.welcome["visitor_token"] == customer.token
    assert await db.fetchval("SELECT count(*) FROM chat_visitors") == 2
    await customer.close()


async def test_an_unknown_token_or_prechat_makes_a_new_visitor_with_an_empty_conversation(
    client: TestClient, db: Database, statements: Recorded
) -> None:
    stale = ChatCustomer(client)
    stale.token = "forgotten-by-the-server"
    sent = await _hello(stale, statements, last_id=42)
    assert [sql.split()[0] for sql in sent] == ["UPDATE", "INSERT"], sent
    assert stale.welcome["visitor_token"] != "forgotten-by-the-server"
    assert stale.welcome["conversation"] == {"id": None, "state": "none", "messages": []}
    await stale.close()

    # pre-chat answers commit with the visitor, in one transaction and in the visitor's own row
    form = ChatCustomer(client)
    sent = await _hello(form, statements, name="李四", email="LISI@example.com", topic="售后服务")
    assert sent[0].startswith("BEGIN") and sent[-1].startswith("COMMIT"), sent
    assert not any(sql.startswith("UPDATE chat_visitors") for sql in sent), sent
    assert not any("thread_key" in sql for sql in sent), sent  # a visitor this new has no conversation to read
    assert form.welcome["conversation"] == {"id": None, "state": "none", "messages": []}
    assert form.welcome["prechat_done"] is True
    prechat = await db.fetchval("SELECT prechat FROM chat_visitors WHERE token_hash = $1", hash_token(form.token))
    assert prechat == {"name": "李四", "email": "lisi@example.com", "topic": "售后服务"}
    async with db.connection() as tx:
        owner = await tx.customers.find_by_identity("email", "lisi@example.com")
    assert owner is not None and owner.display_name == "李四"

    # the topic's queue takes the first message; the conversation then shows on reload
    ack = await form.say("退货怎么办？")
    await form.close()
    await form.connect()
    assert form.welcome["conversation"]["id"] == ack["conversation_id"]
    assert form.welcome["prechat_done"] is True
    async with db.connection() as tx:
        interaction = await tx.interactions.get(uuid.UUID(ack["conversation_id"]))
    assert interaction.queue == "support"
    await form.close()


class _CountingDb:
    """A stand-in for ``Database`` whose one query waits until released, counting how often it is sent."""

    def __init__(self) -> None:
        self.queries = 0
        self.asked = asyncio.Event()  # the query has been sent
        self.release = asyncio.Event()
        self.fail = False

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        yield self

    @property
    def conn(self) -> _CountingDb:
        return self

    async def fetch(self, query: str) -> list[dict[str, Any]]:
        self.queries += 1
        self.asked.set()
        await self.release.wait()
        if self.fail:
            raise RuntimeError("database down")
        return [{"skills": {"sales": 5}, "capacity": {"chat": 2}}]


async def test_availability_is_asked_once_for_many_hellos_and_reused_for_a_while(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _CountingDb()
    availability = Availability(settings, db)  # type: ignore[arg-type]
    widget = settings.channels.webchat.widgets[0]
    storm = [asyncio.create_task(availability.status(widget, "sales")) for _ in range(20)]
    async with asyncio.timeout(5):
        await db.asked.wait()
    storm[0].cancel()  # one visitor leaves while the question is out: the others still get the answer
    db.release.set()
    results = await asyncio.gather(*storm, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    assert results[1:] == [(True, None)] * 19 and db.queries == 1
    assert await availability.status(widget, "sales") == (True, None) and db.queries == 1  # cached

    monkeypatch.setattr(availability_module, "CACHE_S", 0.0)  # expired: asked again, errors reach every caller
    db.fail = True
    failed = await asyncio.gather(availability.agent_for("sales"), availability.agent_for("sales"),
                                  return_exceptions=True)
    assert [type(f) for f in failed] == [RuntimeError, RuntimeError] and db.queries == 2
    db.fail = False
    assert await availability.agent_for("sales") is True and db.queries == 3  # a failure is not cached
