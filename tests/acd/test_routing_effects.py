"""The rows each routing decision writes through ``cc_route_apply``, and what the channels are told.

A ``RouterService`` runs over the real (embedded) PostgreSQL with a fake clock:
time moves only when a test moves it and sends a ``Tick``, so offer timeouts,
wrap-up, escalation and max wait are exact and nothing sleeps. Every case reads
back the interaction's state columns, its touchpoints, the agents' numbered
console events (and what the feed published), and what the channel listeners
and no-agent handlers were handed after commit.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

import routing as r
from contactcenter.acd.arrival import Arrival
from contactcenter.acd.feed import AgentFeed, AgentSubscription
from contactcenter.acd.service import Rebuilt, RouterService, _Job
from contactcenter.config import to_routing_config, validate_settings
from contactcenter.db import Database, StoreError
from contactcenter.model import ActorKind, TouchpointKind
from contactcenter.store.records import Agent
from tests.conftest import TEST_CONFIG
from tests.support import make_agent

T0 = 1_700_000_000.0  # before any real arrived_at, so routing counts waits from the fake clock
# Deadlines are minutes apart on the fake clock. The service's own timer still sleeps in real time
# (deadline minus the fake now), so with these it never fires within a test: the Ticks are the test's.
OFFER = 120.0  # chat offer timeout
SHORT_OFFER = 40.0
WRAPUP = 300.0
COOLDOWN = 60.0  # reject_cooldown
STEP1, STEP2, MAX_WAIT = 100.0, 200.0, 300.0  # the billing queue's escalation and max wait
WAIT = 10.0  # seconds any single wait on the service may take
STAMPS = ("offered_at", "assigned_at", "ended_at", "closed_at")
CHANNELS = ("chat", "email", "sms", "voice")

Row = dict[str, Any]
Tp = tuple[str, str, str | None, str | None, dict[str, Any]]  # kind, actor_kind, actor_id, body, payload
Ev = tuple[int, str, dict[str, Any]]  # seq, type, payload


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


# -- configuration ---------------------------------------------------------------------------------


def routing_config(*, offer_timeout: float = OFFER, wrapup: float = WRAPUP, reject_cooldown: float = COOLDOWN,
                   max_missed_offers: int = 3) -> r.RoutingConfig:
    """tests/fixtures/test.yaml with chat timings set, plus a ``billing`` queue that escalates and gives up."""
    data = yaml.safe_load(TEST_CONFIG.read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    data["routing"]["offer_timeout"]["chat"] = f"{offer_timeout:g}s"
    data["routing"]["wrapup"]["chat"] = f"{wrapup:g}s"
    data["routing"]["reject_cooldown"] = f"{reject_cooldown:g}s"
    data["routing"]["max_missed_offers"] = max_missed_offers
    data["queues"]["billing"] = {
        "label": "账务",
        "channels": ["chat"],
        "skills": {"billing": 5},
        "service_level": "30s",
        "max_wait": f"{MAX_WAIT:g}s",
        "no_agent_action": "callback",
        "escalation": [{"after": f"{STEP1:g}s", "skills": {"billing": 1}},
                       {"after": f"{STEP2:g}s", "skills": {"billing": 1}}],
    }
    return to_routing_config(validate_settings(data, env={}))


# -- the service under test ------------------------------------------------------------------------


class FakeClock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@dataclass
class Harness:
    db: Database
    service: RouterService
    clock: FakeClock
    feed: AgentFeed
    changes: list[tuple[str, str, uuid.UUID, dict[str, Any]]] = field(default_factory=list)
    no_agent: list[tuple[str, uuid.UUID, str | None]] = field(default_factory=list)
    observed: list[object] = field(default_factory=list)
    rebuilt: list[list[object]] = field(default_factory=list)  # the decisions each observed Rebuilt came with
    subscriptions: dict[uuid.UUID, AgentSubscription] = field(default_factory=dict)

    def listen(self) -> None:
        for channel in CHANNELS:
            self.service.channel_listeners[channel] = self._listener(channel)
            self.service.no_agent_handlers[channel] = self._no_agent_handler(channel)
        self.service.observers.append(self._observe)

    def _observe(self, at: float, event: object, decisions: list[object]) -> None:
        self.observed.append(event)
        if isinstance(event, Rebuilt):
            self.rebuilt.append(decisions)

    def _listener(self, channel: str) -> Callable[[str, uuid.UUID, dict[str, Any]], Awaitable[None]]:
        async def listener(change: str, interaction_id: uuid.UUID, details: dict[str, Any]) -> None:
            self.changes.append((channel, change, interaction_id, details))
        return listener

    def _no_agent_handler(self, channel: str) -> Callable[[uuid.UUID, str | None], Awaitable[None]]:
        async def handler(interaction_id: uuid.UUID, action: str | None) -> None:
            self.no_agent.append((channel, interaction_id, action))
        return handler

    def subscribe(self, *agents: Agent) -> None:
        for agent in agents:
            self.subscriptions[agent.id] = self.feed.subscribe(agent.id)

    def published(self, agent: Agent) -> list[Ev]:
        """What the feed pushed to the agent's console since the last call."""
        events, _ = self.subscriptions[agent.id].drain()
        return [(e.seq, e.type, e.payload) for e in events]

    async def settle(self) -> None:
        """Wait for every channel reaction the service spawned after its last commit."""
        tasks = list(self.service._side_tasks)
        if tasks:
            async with asyncio.timeout(WAIT):
                await asyncio.gather(*tasks)

    async def route(self, make: Callable[[float], object], *, actor: str | None = None, **extra: Any) -> list[object]:
        async with asyncio.timeout(WAIT):
            decisions = await self.service.submit(make, actor=actor, **extra)
        await self.settle()
        return decisions

    async def tick(self, advance: float) -> list[object]:
        """Move the clock on and send the Tick the service's timer would send."""
        self.clock.advance(advance)
        return await self.route(lambda at: r.Tick(at=at))

    async def available(self, agent: Agent) -> list[object]:
        return await self.route(lambda at: r.AgentStateChanged(at=at, agent_id=str(agent.id),
                                                               state=r.AgentState.AVAILABLE), actor=str(agent.id))

    async def accept(self, interaction_id: uuid.UUID, agent: Agent) -> list[object]:
        return await self.route(lambda at: r.OfferAccepted(at=at, interaction_id=str(interaction_id),
                                                           agent_id=str(agent.id)), actor=str(agent.id))

    async def end(self, interaction_id: uuid.UUID, agent: Agent, **extra: Any) -> list[object]:
        return await self.route(lambda at: r.InteractionEnded(at=at, interaction_id=str(interaction_id)),
                                actor=str(agent.id), **extra)

    async def arrive(self, interaction_id: uuid.UUID) -> None:
        async with asyncio.timeout(WAIT):
            await self.service.interaction_created(interaction_id)
        await self.settle()

    async def process(self, jobs: list[_Job]) -> None:
        """Run several jobs as ONE batch (one ``_process`` call, one ``cc_route_apply``)."""
        async with asyncio.timeout(WAIT):
            await self.service._process(jobs)
        await self.settle()


HarnessFactory = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def harness(db: Database) -> AsyncIterator[HarnessFactory]:
    started: list[RouterService] = []

    async def start(config: r.RoutingConfig | None = None) -> Harness:
        clock = FakeClock(T0)
        feed = AgentFeed()
        service = RouterService(db, feed, config or routing_config(), clock=clock)
        h = Harness(db, service, clock, feed)
        h.listen()
        await service.start()
        started.append(service)
        return h

    yield start
    for service in started:
        await service.stop()


def job(make: Callable[[float], object], actor: str | None = None, **extra: Any) -> _Job:
    return _Job(make, actor, extra, asyncio.get_running_loop().create_future())


# -- the store ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Made:
    id: uuid.UUID
    customer_id: uuid.UUID
    thread_key: str
    channel: str = "chat"


async def new_interaction(db: Database, address: str, *, queue: str = "sales", body: str = "在吗？想问一下订单",
                          channel: str = "chat") -> Made:
    async with db.transaction() as tx:
        customer, _ = await tx.customers.find_or_create("email", address, display_name="王小明", tier="gold")
        key = f"thread-{address}"
        ix = await tx.interactions.create(channel=channel, customer_id=customer.id, queue=queue, subject="订单",
                                          thread_key=key)
        await tx.touchpoints.append(customer_id=customer.id, interaction_id=ix.id, kind=TouchpointKind.INBOUND_MESSAGE,
                                    channel=channel, actor_kind=ActorKind.CUSTOMER, body=body)
    return Made(ix.id, customer.id, key, channel)


async def interaction(db: Database, iid: uuid.UUID) -> Row:
    async with db.connection() as tx:
        row = await tx.conn.fetchrow(
            """SELECT state, agent_id, queue, disposition, arrived_at, offered_at, assigned_at, ended_at, closed_at
               FROM interactions WHERE id = $1""", iid)
    assert row is not None
    return dict(row)


def stamped(before: Row, after: Row) -> set[str]:
    """The timestamp columns a move (re)stamped."""
    changed = {c for c in STAMPS if after[c] != before[c]}
    assert all(after[c] is not None for c in changed)
    return changed


async def touchpoints(db: Database, made: Made) -> list[Tp]:
    """The interaction's touchpoints after the customer's first message, in order."""
    async with db.connection() as tx:
        rows = await tx.conn.fetch(
            """SELECT kind, channel, customer_id, actor_kind, actor_id, body, payload FROM touchpoints
               WHERE interaction_id = $1 ORDER BY id""", made.id)
    assert rows[0]["kind"] == "inbound_message"
    assert all(row["channel"] == made.channel and row["customer_id"] == made.customer_id for row in rows)
    return [(row["kind"], row["actor_kind"], row["actor_id"], row["body"], row["payload"]) for row in rows[1:]]


async def events(db: Database, agent: Agent) -> list[Ev]:
    """The agent's stored console events in order; the numbering has no gap and matches agents.event_seq."""
    async with db.connection() as tx:
        rows = await tx.conn.fetch("SELECT seq, type, payload FROM agent_events WHERE agent_id = $1 ORDER BY seq",
                                   agent.id)
        last = await tx.conn.fetchval("SELECT event_seq FROM agents WHERE id = $1", agent.id)
    seqs = [row["seq"] for row in rows]
    assert seqs == list(range(1, len(rows) + 1)), seqs
    assert last == len(rows)
    return [(row["seq"], row["type"], row["payload"]) for row in rows]


async def summary(db: Database, iid: uuid.UUID) -> dict[str, Any]:
    async with db.connection() as tx:
        return (await tx.interactions.summaries([iid]))[iid]


def answered_after(row: Row) -> float:
    return (row["assigned_at"] - row["arrived_at"]).total_seconds()


def state_event(seq: int, state: str = "available", reason: str | None = None) -> Ev:
    return (seq, "state", {"state": state, "reason": reason})


def offer_tp(agent: Agent, expires_at: float) -> Tp:
    return ("offer", "system", None, None, {"agent_id": str(agent.id), "expires_at": iso(expires_at)})


# -- the cases ------------------------------------------------------------------------------------------


async def test_arrival_offers_then_accept_assigns(harness: HarnessFactory, db: Database) -> None:
    alice = await make_agent(db, "alice", skills={"sales": 7}, display_name="王丽 Alice")
    h = await harness()
    h.subscribe(alice)
    await h.available(alice)
    assert await events(db, alice) == [state_event(1)]

    made = await new_interaction(db, "offer@shop.cn")
    before = await interaction(db, made.id)
    assert before["state"] == "queued" and before["agent_id"] is None
    await h.arrive(made.id)

    offered = await interaction(db, made.id)
    assert (offered["state"], offered["agent_id"], offered["queue"], offered["disposition"]) == (
        "offered", alice.id, "sales", None)
    assert stamped(before, offered) == {"offered_at"}
    assert await touchpoints(db, made) == [offer_tp(alice, T0 + OFFER)]
    console = await summary(db, made.id)
    assert console["state"] == "offered" and console["preview"] == "在吗？想问一下订单"
    assert console["customer"] == {"id": str(made.customer_id), "name": "王小明", "tier": "gold"}
    offer_event = (2, "offer", {"interaction": console, "expires_at": iso(T0 + OFFER), "waited_ms": 0})
    assert await events(db, alice) == [state_event(1), offer_event]
    assert h.published(alice) == [state_event(1), offer_event]
    assert h.changes == [] and h.no_agent == []  # an offer is the console's business, not the channel's

    h.clock.advance(3)
    decisions = await h.accept(made.id, alice)
    assert decisions == [r.Assigned(str(made.id), str(alice.id))]
    assigned = await interaction(db, made.id)
    assert (assigned["state"], assigned["agent_id"], assigned["queue"], assigned["disposition"]) == (
        "assigned", alice.id, "sales", None)
    assert stamped(offered, assigned) == {"assigned_at"}
    assert (await touchpoints(db, made))[1:] == [
        ("accept", "agent", str(alice.id), None, {"agent_id": str(alice.id)})]
    assigned_event = (3, "assigned", {"interaction": await summary(db, made.id)})
    assert assigned_event[2]["interaction"]["state"] == "assigned"
    assert (await events(db, alice))[2:] == [assigned_event]
    assert h.published(alice) == [assigned_event]
    assert len(h.changes) == 1
    channel, change, iid, details = h.changes[0]
    assert (channel, change, iid) == ("chat", "assigned", made.id)
    assert details == {"agent_id": str(alice.id), "agent_name": "王丽 Alice", "queue": "sales",
                       "thread_key": made.thread_key, "answered_after_s": pytest.approx(answered_after(assigned))}
    assert isinstance(details["answered_after_s"], float) and details["answered_after_s"] > 0
    assert h.no_agent == []


async def test_reject_with_nobody_else_requeues_and_reoffers_after_the_cooldown(
    harness: HarnessFactory, db: Database
) -> None:
    alice = await make_agent(db, "alice", skills={"sales": 7})
    h = await harness()
    await h.available(alice)
    made = await new_interaction(db, "reject@shop.cn")
    await h.arrive(made.id)
    offered = await interaction(db, made.id)

    h.clock.advance(2)
    decisions = await h.route(lambda at: r.OfferRejected(at=at, interaction_id=str(made.id), agent_id=str(alice.id)),
                              actor=str(alice.id))
    assert decisions == [r.Requeued(str(made.id), "sales", r.RequeueReason.REJECTED)]
    queued = await interaction(db, made.id)
    assert (queued["state"], queued["agent_id"], queued["queue"], queued["disposition"]) == (
        "queued", None, "sales", None)
    assert stamped(offered, queued) == set()
    assert (await touchpoints(db, made))[1:] == [
        ("reject", "agent", str(alice.id), None, {"agent_id": str(alice.id)}),
        ("state_change", "system", None, None, {"state": "queued", "reason": "rejected"}),
    ]
    assert (await events(db, alice))[2:] == [
        (3, "revoked", {"interaction_id": str(made.id), "reason": "rejected"})]
    assert h.changes == [] and h.no_agent == []
    assert h.service.router.interaction_holder(str(made.id)) == (r.InteractionState.QUEUED, None)

    # not offered straight back; after reject_cooldown (5 s) it is
    assert await h.tick(COOLDOWN - 0.5) == []
    assert (await interaction(db, made.id))["state"] == "queued"
    decisions = await h.tick(0.5)
    assert [type(d) for d in decisions] == [r.Offer]
    again = await interaction(db, made.id)
    assert (again["state"], again["agent_id"]) == ("offered", alice.id)
    assert stamped(queued, again) == {"offered_at"}
    assert (await touchpoints(db, made))[3:] == [offer_tp(alice, T0 + 2 + COOLDOWN + OFFER)]
    seq, kind, payload = (await events(db, alice))[3]
    assert (seq, kind, payload["expires_at"], payload["waited_ms"]) == (
        4, "offer", iso(T0 + 2 + COOLDOWN + OFFER), int((2 + COOLDOWN) * 1000))


async def test_reject_passes_the_offer_to_the_next_agent_in_the_same_batch(
    harness: HarnessFactory, db: Database
) -> None:
    alice = await make_agent(db, "alice", skills={"sales": 7})
    bob = await make_agent(db, "bob", skills={"sales": 5})
    h = await harness()
    h.subscribe(alice, bob)
    await h.available(alice)
    h.clock.advance(1)
    await h.available(bob)  # alice has been idle longer: she is offered first
    made = await new_interaction(db, "next@shop.cn")
    await h.arrive(made.id)
    assert (await interaction(db, made.id))["agent_id"] == alice.id
    offered = await interaction(db, made.id)
    h.published(alice)
    h.published(bob)

    h.clock.advance(2)
    decisions = await h.route(lambda at: r.OfferRejected(at=at, interaction_id=str(made.id), agent_id=str(alice.id)),
                              actor=str(alice.id))
    assert [type(d) for d in decisions] == [r.Requeued, r.Offer]
    now = await interaction(db, made.id)
    assert (now["state"], now["agent_id"]) == ("offered", bob.id)
    assert stamped(offered, now) == {"offered_at"}
    assert (await touchpoints(db, made))[1:] == [
        ("reject", "agent", str(alice.id), None, {"agent_id": str(alice.id)}),
        ("state_change", "system", None, None, {"state": "queued", "reason": "rejected"}),
        offer_tp(bob, T0 + 3 + OFFER),
    ]
    revoked = (3, "revoked", {"interaction_id": str(made.id), "reason": "rejected"})
    assert (await events(db, alice))[2:] == [revoked]
    assert h.published(alice) == [revoked]
    bob_events = await events(db, bob)
    assert [(s, t) for s, t, _ in bob_events] == [(1, "state"), (2, "offer")]
    assert bob_events[1][2]["interaction"] == await summary(db, made.id)
    assert bob_events[1][2]["waited_ms"] == 2000
    assert h.published(bob) == bob_events[1:]


async def test_offer_timeout_revokes_and_requeues(harness: HarnessFactory, db: Database) -> None:
    alice = await make_agent(db, "alice", skills={"sales": 7})
    h = await harness(routing_config(offer_timeout=SHORT_OFFER))
    await h.available(alice)
    made = await new_interaction(db, "timeout@shop.cn")
    await h.arrive(made.id)
    offered = await interaction(db, made.id)
    assert h.service.router.next_deadline() == T0 + SHORT_OFFER

    assert await h.tick(SHORT_OFFER - 0.5) == []
    assert await interaction(db, made.id) == offered
    decisions = await h.tick(0.5)
    assert decisions == [r.RevokeOffer(str(made.id), str(alice.id), r.RevokeReason.EXPIRED),
                         r.Requeued(str(made.id), "sales", r.RequeueReason.EXPIRED)]
    queued = await interaction(db, made.id)
    assert (queued["state"], queued["agent_id"], queued["queue"], queued["disposition"]) == (
        "queued", None, "sales", None)
    assert stamped(offered, queued) == set()
    assert (await touchpoints(db, made))[1:] == [
        ("revoke", "system", None, None, {"agent_id": str(alice.id), "reason": "expired"}),
        ("state_change", "system", None, None, {"state": "queued", "reason": "expired"}),
    ]
    assert (await events(db, alice))[2:] == [(3, "revoked", {"interaction_id": str(made.id), "reason": "expired"})]
    assert h.changes == [] and h.no_agent == []


async def test_missed_offers_force_the_agent_away(harness: HarnessFactory, db: Database) -> None:
    alice = await make_agent(db, "alice", skills={"sales": 7})
    h = await harness(routing_config(offer_timeout=SHORT_OFFER, max_missed_offers=1))
    await h.available(alice)
    made = await new_interaction(db, "missed@shop.cn")
    await h.arrive(made.id)

    decisions = await h.tick(SHORT_OFFER)
    assert [type(d) for d in decisions] == [r.RevokeOffer, r.Requeued, r.AgentForcedAway]
    async with db.connection() as tx:
        agent = await tx.agents.get(alice.id)
        log = await tx.conn.fetch("SELECT state, reason FROM agent_state_log WHERE agent_id = $1 ORDER BY id",
                                  alice.id)
    assert agent is not None and (agent.state, agent.state_reason) == ("away", "missed_offers")
    assert [tuple(row) for row in log] == [("available", None), ("away", "missed_offers")]
    assert (await events(db, alice))[2:] == [
        (3, "revoked", {"interaction_id": str(made.id), "reason": "expired"}),
        state_event(4, "away", "missed_offers"),
    ]
    assert (await interaction(db, made.id))["state"] == "queued"
    assert h.service.router.agent_state(str(alice.id)) is r.AgentState.AWAY


async def test_end_with_disposition_and_notes_then_complete_wrap_up(harness: HarnessFactory, db: Database) -> None:
    alice = await make_agent(db, "alice", skills={"sales": 7})
    h = await harness()
    await h.available(alice)
    made = await new_interaction(db, "end@shop.cn")
    await h.arrive(made.id)
    await h.accept(made.id, alice)
    assigned = await interaction(db, made.id)
    h.changes.clear()
    h.subscribe(alice)

    decisions = await h.route(lambda at: r.InteractionEnded(at=at, interaction_id=str(made.id)),
                              actor=str(alice.id), disposition="resolved", notes="已退款，客户满意")
    assert decisions == []
    wrap = await interaction(db, made.id)
    assert (wrap["state"], wrap["agent_id"], wrap["queue"], wrap["disposition"]) == (
        "wrap_up", alice.id, "sales", "resolved")
    assert stamped(assigned, wrap) == {"ended_at"}
    assert (await touchpoints(db, made))[2:] == [
        ("state_change", "agent", str(alice.id), None, {"state": "wrap_up", "disposition": "resolved"}),
        ("note", "agent", str(alice.id), "已退款，客户满意", {}),
    ]
    wrap_event = (4, "wrap_up", {"interaction_id": str(made.id), "disposition": "resolved"})
    assert (await events(db, alice))[3:] == [wrap_event]
    assert h.published(alice) == [wrap_event]
    ended = {"queue": "sales", "thread_key": made.thread_key, "answered_after_s": pytest.approx(answered_after(wrap))}
    assert h.changes == [("chat", "ended", made.id, ended)]

    h.clock.advance(5)
    decisions = await h.route(lambda at: r.WrapUpCompleted(at=at, interaction_id=str(made.id)), actor=str(alice.id))
    assert decisions == []
    closed = await interaction(db, made.id)
    assert (closed["state"], closed["agent_id"], closed["queue"], closed["disposition"]) == (
        "closed", alice.id, "sales", "resolved")
    assert stamped(wrap, closed) == {"closed_at"}
    assert (await touchpoints(db, made))[4:] == [("state_change", "agent", str(alice.id), None, {"state": "closed"})]
    assert (await events(db, alice))[4:] == [(5, "closed", {"interaction_id": str(made.id), "reason": "closed"})]
    assert h.changes[1:] == [("chat", "closed", made.id, ended)]
    assert h.service.router.interaction_state(str(made.id)) is None
    assert h.no_agent == []


async def test_wrap_up_time_elapsing_closes(harness: HarnessFactory, db: Database) -> None:
    alice = await make_agent(db, "alice", skills={"sales": 7})
    h = await harness()
    await h.available(alice)
    made = await new_interaction(db, "elapsed@shop.cn")
    await h.arrive(made.id)
    await h.accept(made.id, alice)
    await h.end(made.id, alice)
    wrap = await interaction(db, made.id)
    assert wrap["disposition"] is None
    h.changes.clear()

    assert await h.tick(WRAPUP - 0.5) == []
    decisions = await h.tick(0.5)
    assert decisions == [r.WrapUpEnded(str(made.id), str(alice.id))]
    closed = await interaction(db, made.id)
    assert (closed["state"], closed["agent_id"], closed["disposition"]) == ("closed", alice.id, None)
    assert stamped(wrap, closed) == {"closed_at"}
    assert (await touchpoints(db, made))[-1] == (
        "state_change", "system", None, None, {"state": "closed", "reason": "wrapup_elapsed"})
    assert (await events(db, alice))[-1] == (
        5, "closed", {"interaction_id": str(made.id), "reason": "wrapup_elapsed"})
    assert h.changes == [("chat", "closed", made.id, {"queue": "sales", "thread_key": made.thread_key,
                                                       "answered_after_s": pytest.approx(answered_after(closed))})]


async def test_zero_wrap_up_closes_in_the_same_batch(harness: HarnessFactory, db: Database) -> None:
    alice = await make_agent(db, "alice", skills={"sales": 7})
    h = await harness(routing_config(wrapup=0))
    await h.available(alice)
    made = await new_interaction(db, "quick@shop.cn")
    await h.arrive(made.id)
    await h.accept(made.id, alice)
    assigned = await interaction(db, made.id)
    h.changes.clear()

    decisions = await h.route(lambda at: r.InteractionEnded(at=at, interaction_id=str(made.id)),
                              actor=str(alice.id), disposition="follow_up")
    assert decisions == [r.WrapUpEnded(str(made.id), str(alice.id))]
    closed = await interaction(db, made.id)
    assert (closed["state"], closed["agent_id"], closed["disposition"]) == ("closed", alice.id, "follow_up")
    assert stamped(assigned, closed) == {"ended_at", "closed_at"}
    assert closed["ended_at"] <= closed["closed_at"]
    assert (await touchpoints(db, made))[2:] == [
        ("state_change", "agent", str(alice.id), None, {"state": "wrap_up", "disposition": "follow_up"}),
        ("state_change", "system", None, None, {"state": "closed", "reason": "wrapup_elapsed"}),
    ]
    assert (await events(db, alice))[3:] == [
        (4, "wrap_up", {"interaction_id": str(made.id), "disposition": "follow_up"}),
        (5, "closed", {"interaction_id": str(made.id), "reason": "wrapup_elapsed"}),
    ]
    details = {"queue": "sales", "thread_key": made.thread_key,
               "answered_after_s": pytest.approx(answered_after(closed))}
    assert h.changes == [("chat", "ended", made.id, details), ("chat", "closed", made.id, details)]
    assert h.service.router.interaction_state(str(made.id)) is None
    assert h.service.router.agent_load(str(alice.id))[r.Channel.CHAT] == 0


async def test_abandoned_while_offered(harness: HarnessFactory, db: Database) -> None:
    alice = await make_agent(db, "alice", skills={"sales": 7})
    h = await harness()
    await h.available(alice)
    made = await new_interaction(db, "hangup@shop.cn", channel="voice")
    await h.arrive(made.id)
    offered = await interaction(db, made.id)
    assert (offered["state"], offered["agent_id"]) == ("offered", alice.id)

    h.clock.advance(3)
    decisions = await h.route(lambda at: r.InteractionAbandoned(at=at, interaction_id=str(made.id)), waited_s=3.0)
    assert decisions == [r.RevokeOffer(str(made.id), str(alice.id), r.RevokeReason.ABANDONED)]
    gone = await interaction(db, made.id)
    # the revoke that follows the abandon must not move it back to queued; nobody answered, so no
    # agent is recorded (as the voice channel records calls lost in a restart)
    assert (gone["state"], gone["agent_id"], gone["queue"], gone["disposition"]) == (
        "abandoned", None, "sales", None)
    assert stamped(offered, gone) == {"closed_at"}
    assert (await touchpoints(db, made))[1:] == [
        ("state_change", "system", None, None, {"state": "abandoned", "waited_s": 3.0}),
        ("revoke", "system", None, None, {"agent_id": str(alice.id), "reason": "abandoned"}),
    ]
    assert (await events(db, alice))[2:] == [(3, "revoked", {"interaction_id": str(made.id), "reason": "abandoned"})]
    assert h.changes == [] and h.no_agent == []
    assert h.service.router.interaction_state(str(made.id)) is None
    assert h.service.router.agent_load(str(alice.id))[r.Channel.VOICE] == 0


async def test_wrap_up_end_writes_nothing_once_the_store_has_left_wrap_up(
    harness: HarnessFactory, db: Database
) -> None:
    """WrapUpEnded only closes what the store still has in wrap-up (``only_in``): if another writer
    (an operator's fix, here a plain UPDATE) closed it meanwhile, the move writes nothing and tells nobody."""
    alice = await make_agent(db, "alice", skills={"sales": 7})
    h = await harness()
    await h.available(alice)
    made = await new_interaction(db, "fixed@shop.cn")
    await h.arrive(made.id)
    await h.accept(made.id, alice)
    await h.end(made.id, alice)
    async with db.connection() as tx:
        await tx.conn.execute("UPDATE interactions SET state = 'closed', closed_at = now() WHERE id = $1", made.id)
    closed = await interaction(db, made.id)
    tps, evs = await touchpoints(db, made), await events(db, alice)
    h.changes.clear()

    assert await h.tick(WRAPUP) == [r.WrapUpEnded(str(made.id), str(alice.id))]
    assert await interaction(db, made.id) == closed
    assert await touchpoints(db, made) == tps
    assert await events(db, alice) == evs
    assert h.changes == []
    assert h.service.router.agent_load(str(alice.id))[r.Channel.CHAT] == 0


async def test_transfer_to_another_queue(harness: HarnessFactory, db: Database) -> None:
    alice = await make_agent(db, "alice", skills={"sales": 7, "support": 3})
    bob = await make_agent(db, "bob", skills={"support": 2}, display_name="Bob")
    h = await harness()
    await h.available(alice)
    made = await new_interaction(db, "transfer@shop.cn")
    await h.arrive(made.id)
    await h.accept(made.id, alice)
    h.clock.advance(1)
    await h.available(bob)
    assigned = await interaction(db, made.id)
    h.changes.clear()
    h.subscribe(alice, bob)

    h.clock.advance(1)
    decisions = await h.route(lambda at: r.InteractionTransferred(at=at, interaction_id=str(made.id),
                                                                  to_queue="support"), actor=str(alice.id))
    # alice passed it on: she is not offered it back, bob is
    assert [type(d) for d in decisions] == [r.Transferred, r.Offer]
    now = await interaction(db, made.id)
    assert (now["state"], now["agent_id"], now["queue"], now["disposition"]) == ("offered", bob.id, "support", None)
    assert stamped(assigned, now) == {"offered_at"}
    assert now["assigned_at"] == assigned["assigned_at"]
    assert (await touchpoints(db, made))[2:] == [
        ("transfer", "agent", str(alice.id), None,
         {"from_agent": str(alice.id), "from_queue": "sales", "to_queue": "support", "to_agent": None}),
        offer_tp(bob, T0 + 2 + OFFER),
    ]
    revoked = (4, "revoked", {"interaction_id": str(made.id), "reason": "transferred"})
    assert (await events(db, alice))[3:] == [revoked]
    assert h.published(alice) == [revoked]
    bob_events = await events(db, bob)
    assert [(s, t) for s, t, _ in bob_events] == [(1, "state"), (2, "offer")]
    assert bob_events[1][2]["interaction"]["queue"] == "support"
    assert h.changes == [("chat", "transferred", made.id, {
        "to_queue": "support", "to_agent": None, "queue": "support", "thread_key": made.thread_key,
        "answered_after_s": pytest.approx(answered_after(now))})]


async def test_transfer_to_a_named_agent(harness: HarnessFactory, db: Database) -> None:
    alice = await make_agent(db, "alice", skills={"sales": 7})
    bob = await make_agent(db, "bob")  # no skills: a named transfer needs none
    carol = await make_agent(db, "carol", skills={"sales": 9})
    h = await harness()
    await h.available(alice)
    made = await new_interaction(db, "named@shop.cn")
    await h.arrive(made.id)
    await h.accept(made.id, alice)
    await h.available(carol)
    await h.available(bob)
    h.changes.clear()

    decisions = await h.route(lambda at: r.InteractionTransferred(at=at, interaction_id=str(made.id),
                                                                  to_agent=str(bob.id)), actor=str(alice.id))
    assert [type(d) for d in decisions] == [r.Transferred, r.Offer]
    assert decisions[1] == r.Offer(str(made.id), str(bob.id), T0 + OFFER, "sales", r.Channel.CHAT, 0.0)
    now = await interaction(db, made.id)
    assert (now["state"], now["agent_id"], now["queue"]) == ("offered", bob.id, "sales")
    assert (await touchpoints(db, made))[2:] == [
        ("transfer", "agent", str(alice.id), None,
         {"from_agent": str(alice.id), "from_queue": "sales", "to_queue": None, "to_agent": str(bob.id)}),
        offer_tp(bob, T0 + OFFER),
    ]
    assert (await events(db, alice))[-1] == (4, "revoked", {"interaction_id": str(made.id), "reason": "transferred"})
    assert [t for _, t, _ in await events(db, carol)] == ["state"]
    assert h.changes == [("chat", "transferred", made.id, {
        "to_queue": None, "to_agent": str(bob.id), "queue": "sales", "thread_key": made.thread_key,
        "answered_after_s": pytest.approx(answered_after(now))})]


async def test_moving_an_offered_interaction_tells_the_agent_once(harness: HarnessFactory, db: Database) -> None:
    """A supervisor moves an interaction while it is offered: one ``revoked``, from the revoke decision."""
    alice = await make_agent(db, "alice", skills={"sales": 7})
    h = await harness()
    await h.available(alice)
    made = await new_interaction(db, "moved@shop.cn")
    await h.arrive(made.id)
    h.subscribe(alice)

    h.clock.advance(1)
    decisions = await h.route(lambda at: r.InteractionTransferred(at=at, interaction_id=str(made.id),
                                                                  to_queue="support"))
    assert [type(d) for d in decisions] == [r.RevokeOffer, r.Transferred]
    now = await interaction(db, made.id)
    assert (now["state"], now["agent_id"], now["queue"]) == ("queued", None, "support")
    revoked = [e for e in await events(db, alice) if e[1] == "revoked"]
    assert revoked == [(3, "revoked", {"interaction_id": str(made.id), "reason": "transferred"})]
    assert h.published(alice) == revoked
    assert [(kind, payload.get("reason")) for kind, _, _, _, payload in await touchpoints(db, made)] == [
        ("offer", None), ("transfer", None), ("revoke", "transferred")]


async def test_a_rebuild_tells_the_channels_what_it_decided(harness: HarnessFactory, db: Database) -> None:
    """An interaction past its queue's max wait at start-up is closed by the rebuild, and its channel told."""
    made = await new_interaction(db, "waited-too-long@shop.cn", queue="billing")
    async with db.connection() as tx:
        await tx.conn.execute("UPDATE interactions SET arrived_at = to_timestamp($2) WHERE id = $1",
                              made.id, T0 - MAX_WAIT - 10)
    h = await harness()
    await h.settle()
    closed = await interaction(db, made.id)
    assert (closed["state"], closed["disposition"]) == ("closed", "no_agent")
    assert h.no_agent == [("chat", made.id, "callback")]
    # the observers (metrics) are told too, once, with the Rebuilt: the store has it, so must "today"
    assert [type(e) for e in h.observed] == [Rebuilt]
    iid = str(made.id)
    assert h.rebuilt == [[r.Escalated(iid, "billing", 1), r.Escalated(iid, "billing", 2),
                          r.NoAgent(iid, "billing", r.NoAgentAction.CALLBACK, MAX_WAIT + 10)]]
    assert h.service.decisions_total == 3


async def moved(db: Database, made: Made, at: float, **payload: str | None) -> None:
    """A transfer touchpoint as ``cc_route_apply`` writes it, stamped ``at`` on the fake clock."""
    async with db.connection() as tx:
        await tx.conn.execute(
            """INSERT INTO touchpoints (customer_id, interaction_id, kind, channel, actor_kind, payload, created_at)
               VALUES ($1, $2, 'transfer', $3, 'system', $4, to_timestamp($5))""",
            made.customer_id, made.id, made.channel, payload, at)


async def test_a_rebuild_restarts_a_moved_interactions_queue_clocks_at_its_last_move(
    harness: HarnessFactory, db: Database
) -> None:
    """Arrived long ago, moved to support and then to billing: after a restart billing's escalation and max
    wait run from the last move (its transfer touchpoint), not from the arrival, as they did before."""
    made = await new_interaction(db, "moved-twice@shop.cn", queue="billing")
    handed = await new_interaction(db, "handed-to-bob@shop.cn", queue="billing")
    fast = await new_interaction(db, "moved-by-a-fast-clock@shop.cn", queue="billing")
    async with db.connection() as tx:
        await tx.conn.execute("UPDATE interactions SET arrived_at = to_timestamp($2) WHERE id = ANY($1)",
                              [made.id, handed.id, fast.id], T0 - 1000)
    await moved(db, made, T0 - 60, from_queue="sales", to_queue="support")
    await moved(db, made, T0 - 20, from_queue="support", to_queue="billing")
    await moved(db, handed, T0 - 90, from_queue="sales", to_queue="billing")
    await moved(db, handed, T0 - 30, from_queue="billing", to_queue=None, to_agent=None)  # to a named agent
    await moved(db, fast, T0 + 5, from_queue="sales", to_queue="billing")  # the store's clock ahead of ours

    h = await harness()  # the start-up rebuild, at T0
    router = h.service.router
    clocks = {iid: (ix["queue"], ix["state"], ix["arrived_at"], ix["enqueued_at"])
              for iid, ix in router.snapshot()["interactions"].items()}
    assert clocks == {  # none closed: MAX_WAIT after the arrival is long past
        str(made.id): ("billing", "queued", T0 - 1000, T0 - 20),
        str(handed.id): ("billing", "queued", T0 - 1000, T0 - 30),
        str(fast.id): ("billing", "queued", T0 - 1000, T0),  # never later than the rebuild
    }
    assert h.rebuilt == [[]]
    assert router.next_deadline() == T0 - 30 + STEP1
    assert await h.tick(STEP1 - 30) == [r.Escalated(str(handed.id), "billing", 1)]
    assert await h.tick(10) == [r.Escalated(str(made.id), "billing", 1)]
    assert await h.tick(MAX_WAIT - 30 - 80) == [
        r.Escalated(str(fast.id), "billing", 1), r.Escalated(str(handed.id), "billing", 2),
        r.Escalated(str(made.id), "billing", 2), r.Escalated(str(fast.id), "billing", 2),
        r.NoAgent(str(handed.id), "billing", r.NoAgentAction.CALLBACK, 1270)]  # at T0 - 30 + MAX_WAIT
    assert await h.tick(10) == [r.NoAgent(str(made.id), "billing", r.NoAgentAction.CALLBACK, 1280)]
    assert await h.tick(20) == [r.NoAgent(str(fast.id), "billing", r.NoAgentAction.CALLBACK, 1300)]


async def test_keep_waiting_survives_a_rebuild_and_interaction_created(harness: HarnessFactory, db: Database) -> None:
    """The ``keep_waiting`` attribute (an offline form) exempts from max wait however the router learns of it."""

    async def left_long_ago(address: str) -> Made:
        made = await new_interaction(db, address, queue="billing")
        async with db.connection() as tx:
            await tx.conn.execute(
                """UPDATE interactions SET arrived_at = to_timestamp($2),
                          attributes = attributes || '{"keep_waiting": true}' WHERE id = $1""",
                made.id, T0 - MAX_WAIT - 10)
        return made

    old = await left_long_ago("left-a-message@shop.cn")
    h = await harness()  # the start-up rebuild reads ``old`` from the store
    await h.settle()
    new = await left_long_ago("left-another@shop.cn")
    await h.arrive(new.id)  # handed over as a channel does: read back from the store
    for made in (old, new):
        assert (await interaction(db, made.id))["state"] == "queued"
    assert h.no_agent == []
    assert h.service.router.next_deadline() is None  # no max-wait clock runs for either


async def test_a_rebuild_revokes_an_outstanding_offer_and_offers_again(harness: HarnessFactory, db: Database) -> None:
    """An offer outstanding when the router's memory is lost is void: revoked in the store, then routed anew."""
    alice = await make_agent(db, "alice", skills={"sales": 7})
    h = await harness()
    h.subscribe(alice)
    await h.available(alice)
    made = await new_interaction(db, "offered-at-restart@shop.cn")
    await h.arrive(made.id)
    offered = await interaction(db, made.id)
    assert (offered["state"], offered["agent_id"]) == ("offered", alice.id)
    h.published(alice)

    await h.service.rebuild()
    await h.settle()
    reoffered = await interaction(db, made.id)
    assert (reoffered["state"], reoffered["agent_id"]) == ("offered", alice.id)
    assert await touchpoints(db, made) == [
        offer_tp(alice, T0 + OFFER),
        ("revoke", "system", None, None, {"agent_id": str(alice.id), "reason": "restart"}),
        offer_tp(alice, T0 + OFFER),
    ]
    stored = (await events(db, alice))[2:]
    assert [(seq, kind) for seq, kind, _ in stored] == [(3, "revoked"), (4, "offer")]
    assert stored[0][2] == {"interaction_id": str(made.id), "reason": "restart"}
    assert h.published(alice) == stored  # published after the rebuild's commit, in order
    assert h.service.router.interaction_holder(str(made.id)) == (r.InteractionState.OFFERED, str(alice.id))


async def test_escalation_steps_then_no_agent(harness: HarnessFactory, db: Database) -> None:
    h = await harness()
    made = await new_interaction(db, "nobody@shop.cn", queue="billing")
    await h.arrive(made.id)
    queued = await interaction(db, made.id)

    assert await h.tick(STEP1 - 0.5) == []
    decisions = await h.tick(0.5)
    assert decisions == [r.Escalated(str(made.id), "billing", 1)]
    assert await interaction(db, made.id) == queued  # a step changes no column
    assert await touchpoints(db, made) == [
        ("state_change", "system", None, None, {"escalation_step": 1, "state": "queued"})]
    assert h.changes == [] and h.no_agent == []

    assert await h.tick(STEP2 - STEP1) == [r.Escalated(str(made.id), "billing", 2)]
    decisions = await h.tick(MAX_WAIT - STEP2)
    assert decisions == [r.NoAgent(str(made.id), "billing", "callback", MAX_WAIT)]
    closed = await interaction(db, made.id)
    assert (closed["state"], closed["agent_id"], closed["queue"], closed["disposition"]) == (
        "closed", None, "billing", "no_agent")
    assert stamped(queued, closed) == {"closed_at"}
    assert (await touchpoints(db, made))[1:] == [
        ("state_change", "system", None, None, {"escalation_step": 2, "state": "queued"}),
        ("state_change", "system", None, None,
         {"state": "closed", "reason": "no_agent", "action": "callback", "waited_s": MAX_WAIT}),
    ]
    assert h.no_agent == [("chat", made.id, "callback")]
    assert h.changes == []
    assert h.service.router.interaction_state(str(made.id)) is None


async def test_escalation_records_the_current_state_and_comes_before_the_offer_it_allows(
    harness: HarnessFactory, db: Database
) -> None:
    junior = await make_agent(db, "junior", skills={"billing": 2})  # meets step 1 (billing 1), not the base (5)
    h = await harness(routing_config(offer_timeout=2 * MAX_WAIT))  # still offered when max wait passes
    await h.available(junior)
    made = await new_interaction(db, "escalate@shop.cn", queue="billing")
    await h.arrive(made.id)
    assert (await interaction(db, made.id))["state"] == "queued"

    decisions = await h.tick(STEP1)
    assert [type(d) for d in decisions] == [r.Escalated, r.Offer]
    offered = await interaction(db, made.id)
    assert (offered["state"], offered["agent_id"]) == ("offered", junior.id)
    assert await touchpoints(db, made) == [
        ("state_change", "system", None, None, {"escalation_step": 1, "state": "queued"}),
        offer_tp(junior, T0 + STEP1 + 2 * MAX_WAIT),
    ]
    assert await h.tick(STEP2 - STEP1) == [r.Escalated(str(made.id), "billing", 2)]  # while offered
    assert (await touchpoints(db, made))[2:] == [
        ("state_change", "system", None, None, {"escalation_step": 2, "state": "offered"})]
    assert await interaction(db, made.id) == offered

    # max wait passes while offered: the interaction is overdue, and a reject ends it
    assert await h.tick(MAX_WAIT - STEP2) == []
    decisions = await h.route(lambda at: r.OfferRejected(at=at, interaction_id=str(made.id),
                                                         agent_id=str(junior.id)), actor=str(junior.id))
    assert decisions == [r.NoAgent(str(made.id), "billing", "callback", MAX_WAIT)]
    closed = await interaction(db, made.id)
    assert (closed["state"], closed["agent_id"], closed["disposition"]) == ("closed", None, "no_agent")
    assert stamped(offered, closed) == {"closed_at"}
    assert (await touchpoints(db, made))[3:] == [
        ("reject", "agent", str(junior.id), None, {"agent_id": str(junior.id)}),
        ("state_change", "system", None, None,
         {"state": "closed", "reason": "no_agent", "action": "callback", "waited_s": MAX_WAIT}),
    ]
    assert (await events(db, junior))[2:] == [(3, "revoked", {"interaction_id": str(made.id), "reason": "rejected"})]
    assert h.no_agent == [("chat", made.id, "callback")]


async def test_agent_state_changes(harness: HarnessFactory, db: Database) -> None:
    alice = await make_agent(db, "alice", skills={"sales": 7})
    h = await harness()
    h.subscribe(alice)
    await h.available(alice)
    made = await new_interaction(db, "state@shop.cn")
    await h.arrive(made.id)

    h.clock.advance(1)
    decisions = await h.route(lambda at: r.AgentStateChanged(at=at, agent_id=str(alice.id), state=r.AgentState.AWAY,
                                                             reason="lunch"), actor=str(alice.id))
    assert decisions == [r.RevokeOffer(str(made.id), str(alice.id), r.RevokeReason.AGENT_UNAVAILABLE),
                         r.Requeued(str(made.id), "sales", r.RequeueReason.AGENT_UNAVAILABLE)]
    async with db.connection() as tx:
        agent = await tx.agents.get(alice.id)
        log = await tx.conn.fetch("SELECT state, reason FROM agent_state_log WHERE agent_id = $1 ORDER BY id",
                                  alice.id)
    assert agent is not None and (agent.state, agent.state_reason) == ("away", "lunch")
    assert [tuple(row) for row in log] == [("available", None), ("away", "lunch")]
    stored = await events(db, alice)
    assert [(s, t) for s, t, _ in stored] == [(1, "state"), (2, "offer"), (3, "state"), (4, "revoked")]
    assert stored[2] == state_event(3, "away", "lunch")
    assert stored[3] == (4, "revoked", {"interaction_id": str(made.id), "reason": "agent_unavailable"})
    assert h.published(alice) == stored
    assert (await touchpoints(db, made))[1:] == [
        ("revoke", "system", None, None, {"agent_id": str(alice.id), "reason": "agent_unavailable"}),
        ("state_change", "system", None, None, {"state": "queued", "reason": "agent_unavailable"}),
    ]
    row = await interaction(db, made.id)
    assert (row["state"], row["agent_id"]) == ("queued", None)

    await h.route(lambda at: r.AgentStateChanged(at=at, agent_id=str(alice.id), state=r.AgentState.OFFLINE))
    async with db.connection() as tx:
        agent = await tx.agents.get(alice.id)
    assert agent is not None and (agent.state, agent.state_reason) == ("offline", None)
    assert (await events(db, alice))[4:] == [state_event(5, "offline")]
    assert h.service.router.agent_state(str(alice.id)) is r.AgentState.OFFLINE


async def test_one_batch_of_many_interactions_and_agents_numbers_each_agents_events_in_order(
    harness: HarnessFactory, db: Database
) -> None:
    alice = await make_agent(db, "alice", skills={"sales": 7})
    bob = await make_agent(db, "bob", skills={"sales": 7, "support": 5})
    carol = await make_agent(db, "carol", skills={"support": 5})
    h = await harness()
    h.subscribe(alice, bob, carol)
    await h.available(alice)  # alice: seq 1 before the batch
    held = await new_interaction(db, "held@shop.cn")
    await h.arrive(held.id)
    await h.accept(held.id, alice)
    assert [s for s, _, _ in await events(db, alice)] == [1, 2, 3]
    h.published(alice)
    h.changes.clear()
    made = [await new_interaction(db, f"batch{i}@shop.cn", queue="sales" if i % 2 else "support")
            for i in range(6)]

    def arrival(m: Made, queue: str) -> _Job:
        return job(lambda at: r.InteractionArrived(at=at, interaction_id=str(m.id), queue=queue,
                                                   channel=r.Channel.CHAT, tier="gold", arrived_at=at,
                                                   customer_id=str(m.customer_id)))

    def presence(agent: Agent, state: r.AgentState) -> _Job:
        return job(lambda at: r.AgentStateChanged(at=at, agent_id=str(agent.id), state=state), str(agent.id))

    h.clock.advance(1)
    jobs = [
        presence(bob, r.AgentState.AVAILABLE),
        arrival(made[0], "support"),
        arrival(made[1], "sales"),
        job(lambda at: r.InteractionEnded(at=at, interaction_id=str(held.id)), str(alice.id),
            disposition="resolved"),
        presence(carol, r.AgentState.AVAILABLE),
        arrival(made[2], "support"),
        arrival(made[3], "sales"),
        job(lambda at: r.WrapUpCompleted(at=at, interaction_id=str(held.id)), str(alice.id)),
        arrival(made[4], "support"),
        arrival(made[5], "sales"),
        presence(bob, r.AgentState.AWAY),
    ]
    await h.process(jobs)
    results: list[list[object]] = [j.future.result() for j in jobs if j.future is not None]

    # what each agent must have been told, in the order of the batch's events and decisions
    expected: dict[uuid.UUID, list[tuple[str, dict[str, Any]]]] = {a.id: [] for a in (alice, bob, carol)}
    agents = {str(a.id): a.id for a in (alice, bob, carol)}
    for j, decisions in zip(jobs, results, strict=True):
        event = j.make(T0 + 1)
        if isinstance(event, r.AgentStateChanged):
            expected[agents[event.agent_id]].append(("state", {"state": str(event.state), "reason": None}))
        elif isinstance(event, r.InteractionEnded):
            expected[alice.id].append(("wrap_up", {"interaction_id": str(held.id), "disposition": "resolved"}))
        elif isinstance(event, r.WrapUpCompleted):
            expected[alice.id].append(("closed", {"interaction_id": str(held.id), "reason": "closed"}))
        for d in decisions:
            if isinstance(d, r.Offer):
                expected[agents[d.agent_id]].append(("offer", {"interaction_id": d.interaction_id}))
            elif isinstance(d, r.RevokeOffer):
                expected[agents[d.agent_id]].append(
                    ("revoked", {"interaction_id": d.interaction_id, "reason": str(d.reason)}))
            elif not isinstance(d, r.Requeued):
                raise AssertionError(f"unexpected decision {d!r}")
    offers = [d for decisions in results for d in decisions if isinstance(d, r.Offer)]
    assert len(offers) >= 6 and {o.agent_id for o in offers} == set(agents)  # everyone got something
    assert any(isinstance(d, r.RevokeOffer) for d in results[-1])  # bob going away took offers back

    for agent in (alice, bob, carol):
        stored = await events(db, agent)
        first = 4 if agent is alice else 1
        batch = [(t, p) for s, t, p in stored if s >= first]
        assert [s for s, _, _ in stored if s >= first] == list(range(first, first + len(expected[agent.id])))
        got = [(t, {"interaction_id": p["interaction"]["id"]} if t == "offer" else p) for t, p in batch]
        assert got == expected[agent.id], agent.login
        assert h.published(agent) == [e for e in stored if e[0] >= first]

    rows = {m.id: await interaction(db, m.id) for m in made}
    last_offer = {o.interaction_id: o.agent_id for o in offers}
    for m in made:
        state = h.service.router.interaction_holder(str(m.id))
        assert state is not None
        assert rows[m.id]["state"] == str(state[0])
        assert rows[m.id]["agent_id"] == (None if state[1] is None else uuid.UUID(state[1]))
        if state[0] is r.InteractionState.OFFERED:
            assert last_offer[str(m.id)] == state[1]
    assert [c[:2] for c in h.changes] == [("chat", "ended"), ("chat", "closed")]
    assert (await interaction(db, held.id))["state"] == "closed"


async def test_a_failing_batch_raises_and_the_router_is_rebuilt_from_the_store(
    harness: HarnessFactory, db: Database
) -> None:
    alice = await make_agent(db, "alice", skills={"sales": 7})
    h = await harness()
    h.subscribe(alice)
    await h.available(alice)
    real = await new_interaction(db, "real@shop.cn")
    h.published(alice)
    h.observed.clear()
    phantom = uuid.uuid4()  # accepted by the router, never stored

    with pytest.raises(StoreError):
        async with asyncio.timeout(WAIT):
            await h.service.interaction_arrived(Arrival(
                interaction_id=phantom, queue="sales", channel="chat", priority=0, customer_id=real.customer_id,
                tier="gold", arrived=T0, last_agent_id=None))
    await h.settle()
    assert await events(db, alice) == [state_event(1)]  # the offer that failed took no number
    assert h.published(alice) == []
    assert h.observed == []  # nothing was committed, so nothing was observed
    async with db.connection() as tx:
        assert await tx.conn.fetchval("SELECT count(*) FROM interactions WHERE id = $1", phantom) == 0
        assert await tx.conn.fetchval("SELECT count(*) FROM touchpoints WHERE interaction_id = $1", phantom) == 0

    # the next batch finds the router rebuilt from the store: no phantom, alice free again, and the
    # interaction that was waiting in the store (never handed to the router) offered to her
    await h.tick(0)
    assert [type(e) for e in h.observed] == [Rebuilt, r.Tick]
    router = h.service.router
    assert router.interaction_state(str(phantom)) is None
    assert router.interaction_holder(str(real.id)) == (r.InteractionState.OFFERED, str(alice.id))
    assert router.offers_outstanding() == 1
    assert router.agent_load(str(alice.id))[r.Channel.CHAT] == 1
    row = await interaction(db, real.id)
    assert (row["state"], row["agent_id"]) == ("offered", alice.id)
    assert await touchpoints(db, real) == [offer_tp(alice, T0 + OFFER)]
    assert [(s, t) for s, t, _ in await events(db, alice)] == [(1, "state"), (2, "offer")]


async def test_a_failing_batch_leaves_nothing_half_written(harness: HarnessFactory, db: Database) -> None:
    alice = await make_agent(db, "alice", skills={"sales": 7})
    bob = await make_agent(db, "bob", skills={"sales": 7})
    h = await harness()
    await h.available(alice)
    held = await new_interaction(db, "held2@shop.cn")
    await h.arrive(held.id)
    await h.accept(held.id, alice)
    waiting = await new_interaction(db, "waiting@shop.cn")
    customer = str(waiting.customer_id)
    held_before, tps_before = await interaction(db, held.id), await touchpoints(db, held)
    waiting_before = await interaction(db, waiting.id)
    alice_before = await events(db, alice)
    h.changes.clear()
    phantom = str(uuid.uuid4())

    jobs = [
        job(lambda at: r.AgentStateChanged(at=at, agent_id=str(bob.id), state=r.AgentState.AVAILABLE), str(bob.id)),
        job(lambda at: r.InteractionArrived(at=at, interaction_id=str(waiting.id), queue="sales",
                                            channel=r.Channel.CHAT, arrived_at=at, customer_id=customer)),
        job(lambda at: r.InteractionEnded(at=at, interaction_id=str(held.id)), str(alice.id), disposition="resolved"),
        job(lambda at: r.InteractionArrived(at=at, interaction_id=phantom, queue="sales",
                                            channel=r.Channel.CHAT, arrived_at=at, customer_id=customer)),
    ]
    await h.process(jobs)
    for j in jobs:
        assert j.future is not None and isinstance(j.future.exception(), StoreError)
    assert await interaction(db, held.id) == held_before
    assert await touchpoints(db, held) == tps_before
    assert await interaction(db, waiting.id) == waiting_before
    assert await touchpoints(db, waiting) == []
    assert await events(db, alice) == alice_before
    assert await events(db, bob) == []
    async with db.connection() as tx:
        agent = await tx.agents.get(bob.id)
        assert await tx.conn.fetchval("SELECT count(*) FROM agent_state_log WHERE agent_id = $1", bob.id) == 0
    assert agent is not None and agent.state == "offline"
    assert h.changes == [] and h.no_agent == []

    # rebuilt on the next batch: the router agrees with the store again
    await h.tick(0)
    router = h.service.router
    assert router.interaction_state(phantom) is None
    assert router.agent_state(str(bob.id)) is r.AgentState.OFFLINE
    assert router.interaction_holder(str(held.id)) == (r.InteractionState.ASSIGNED, str(alice.id))
    # the waiting interaction was never routed; the rebuild re-reads it from the store and offers it
    assert router.interaction_holder(str(waiting.id)) == (r.InteractionState.OFFERED, str(alice.id))
    assert (await interaction(db, waiting.id))["state"] == "offered"
    # and the refused end can simply be retried
    await h.route(lambda at: r.InteractionEnded(at=at, interaction_id=str(held.id)), actor=str(alice.id),
                  disposition="resolved")
    assert (await interaction(db, held.id))["state"] == "wrap_up"
