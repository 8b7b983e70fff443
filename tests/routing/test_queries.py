"""Read-only queries, deadlines, and feeding events without ticks."""

from __future__ import annotations

import pytest

from routing import (
    AgentState,
    AgentStateChanged,
    AgentUpdated,
    Channel,
    EscalationStep,
    InteractionArrived,
    InteractionEnded,
    OfferAccepted,
    Router,
    RoutingError,
    Tick,
)
from tests.routing.helpers import Scenario, config, queue


def test_waiting_and_oldest_arrival_count_queued_and_offered():
    s = Scenario(config(queue("q"), queue("other")))
    assert s.router.waiting("q") == 0 and s.router.oldest_arrival("q") is None
    s.arrive("v1", "q", "voice", at=5)
    s.arrive("v2", "q", "voice", at=7, arrived_at=3)
    s.agent("ann", at=8)  # offered v2 (older)
    assert s.router.waiting("q") == 2
    assert s.router.oldest_arrival("q") == 3
    s.take("v2", "ann")
    assert s.router.waiting("q") == 1
    assert s.router.oldest_arrival("q") == 5
    assert s.router.waiting("other") == 0
    with pytest.raises(RoutingError) as info:
        s.router.waiting("nope")
    assert info.value.code == "unknown_queue"


def test_agent_queries():
    s = Scenario(config(queue("q")))
    s.agent("ann", at=0, state=None)
    assert s.router.agent_state("ann") is AgentState.OFFLINE
    assert dict(s.router.agent_load("ann")) == dict.fromkeys(Channel, 0)
    s.presence("ann", "available", at=1)
    s.arrive("c1", "q", "chat", at=2)
    assert s.router.agent_load("ann")[Channel.CHAT] == 1
    assert s.router.offers_outstanding() == 1
    snap = s.router.snapshot()
    assert snap["agents"]["ann"]["activity"] == "busy"
    assert snap["interactions"]["c1"]["state"] == "offered"
    assert s.router.agent_state("nobody") is None
    with pytest.raises(RoutingError):
        s.router.agent_load("nobody")


def test_next_deadline_is_the_earliest_pending_timer():
    s = Scenario(config(queue("q", max_wait_s=100, escalation=[EscalationStep(50, {})])))
    assert s.router.next_deadline() is None
    s.arrive("v1", "q", "voice", at=10)
    assert s.router.next_deadline() == 60
    s.agent("ann", at=20)
    assert s.router.next_deadline() == 40  # the offer
    s.take("v1", "ann", at=21)
    assert s.router.next_deadline() is None


def scripted_events() -> list:
    """A small day: arrivals, escalation, timeouts, wrap-ups, an agent coming and going."""
    return [
        AgentUpdated(0, "ann", {"x": 5}),
        AgentUpdated(0, "bob", {"x": 2}),
        AgentStateChanged(1, "ann", "available"),
        InteractionArrived(2, "v1", "q", "voice"),
        InteractionArrived(3, "v2", "q", "voice", tier="gold"),
        InteractionArrived(4, "c1", "q", "chat"),
        AgentStateChanged(30, "bob", "available"),
        OfferAccepted(31, "v2", "ann"),
        InteractionArrived(70, "c2", "q", "chat", tier="silver"),
        InteractionEnded(95, "v2"),
        InteractionArrived(150, "v3", "q", "voice"),
        AgentStateChanged(160, "bob", "away"),
        Tick(400),
    ]


def test_feeding_events_without_ticks_gives_the_same_decisions_as_ticking_every_deadline():
    cfg = config(queue("q", skills={"x": 4}, aging_per_minute=6, escalation=[EscalationStep(40, {"x": 2})],
                       max_wait_s=300), wrapup_s={"voice": 20, "chat": 5, "sms": 0, "email": 0})
    lazy, eager = Router(cfg), Router(cfg)
    lazy_out, eager_out = [], []
    for event in scripted_events():
        lazy_out += lazy.handle(event)
        while (deadline := eager.next_deadline()) is not None and deadline <= event.at:
            eager_out += eager.handle(Tick(deadline))
        eager_out += eager.handle(event)
    assert lazy_out == eager_out
    assert lazy.snapshot() == eager.snapshot()
    assert any(type(d).__name__ == "Escalated" for d in lazy_out)
    assert any(type(d).__name__ == "WrapUpEnded" for d in lazy_out)


def test_heaps_shed_stale_entries_and_keep_working_under_churn():
    """Abandons and presence flapping leave stale heap entries; compaction keeps results right."""
    s = Scenario(config(queue("q")))
    s.agent("ann", at=0, state="away")
    for i in range(300):
        s.arrive(f"c{i}", "q", "chat", at=1 + i)
    for i in range(0, 299):
        s.abandon(f"c{i}", at=400)
    assert s.router.waiting("q") == 1
    assert s.router.oldest_arrival("q") == 300
    for i in range(200):  # each flap pushes ann into her pools again
        s.presence("ann", "available" if i % 2 else "away", at=401 + i)
    s.abandon("c299", at=700)
    s.presence("ann", "available", at=701)
    assert s.arrive("last", "q", "chat", at=702) == [s.offer("last", "ann")]
