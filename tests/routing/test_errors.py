"""Illegal moves raise RoutingError and change nothing; malformed input raises ValueError."""

from __future__ import annotations

import pytest

from routing import (
    AgentStateChanged,
    AgentUpdated,
    EscalationStep,
    InteractionArrived,
    InteractionRestored,
    InteractionTransferred,
    OfferAccepted,
    QueueSpec,
    Router,
    RoutingConfig,
    RoutingError,
    Tick,
)
from tests.routing.helpers import Scenario, config, queue


@pytest.fixture
def s() -> Scenario:
    s = Scenario(config(queue("q"), queue("voice-only", channels={"voice"}), queue("b", skills={"b": 1})))
    s.agent("ann", at=0)
    s.agent("bob", at=0, state="away")
    s.arrive("offered", "q", "voice", at=1)  # -> ann
    s.arrive("queued", "q", "voice", at=2)
    s.arrive("c1", "q", "chat", at=3)
    s.agent("cat", at=3, capacity={"chat": 1, "voice": 0})
    s.take("c1", "cat")
    return s


def refused(s: Scenario, event, code: str) -> RoutingError:
    s.tick(event.at)  # let time pass first: then nothing at all may change
    before = s.router.snapshot()
    with pytest.raises(RoutingError) as info:
        s.router.handle(event)
    assert info.value.code == code, info.value
    assert s.router.snapshot() == before
    return info.value


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: OfferAccepted(5, "offered", "bob"), "not_offered"),
        (lambda: OfferAccepted(5, "queued", "ann"), "not_offered"),
        (lambda: OfferAccepted(5, "c1", "cat"), "not_offered"),
        (lambda: OfferAccepted(5, "nope", "ann"), "unknown_interaction"),
        (lambda: OfferAccepted(5, "offered", "nobody"), "unknown_agent"),
        (lambda: AgentStateChanged(5, "nobody", "available"), "unknown_agent"),
        (lambda: InteractionArrived(5, "new", "nope", "chat"), "unknown_queue"),
        (lambda: InteractionArrived(5, "new", "voice-only", "chat"), "bad_channel"),
        (lambda: InteractionArrived(5, "new", "q", "chat", tier="bronze"), "unknown_tier"),
        (lambda: InteractionArrived(5, "queued", "q", "chat"), "duplicate_interaction"),
        (lambda: InteractionArrived(5, "new", "q", "chat", target_agent_id="nobody"), "unknown_agent"),
        (lambda: InteractionRestored(5, "new", "q", "chat", "nobody"), "unknown_agent"),
        (lambda: InteractionTransferred(5, "queued", to_queue="nope"), "unknown_queue"),
        (lambda: InteractionTransferred(5, "c1", to_queue="voice-only"), "bad_channel"),
        (lambda: InteractionTransferred(5, "c1", to_agent="nobody"), "unknown_agent"),
    ],
)
def test_refused_events_change_nothing(s: Scenario, make, code: str):
    refused(s, make(), code)


def test_lifecycle_moves_the_table_does_not_allow(s: Scenario):
    from routing import InteractionAbandoned, InteractionEnded, OfferRejected, WrapUpCompleted

    refused(s, OfferRejected(5, "queued", "ann"), "not_offered")
    refused(s, InteractionEnded(5, "queued"), "bad_state")
    refused(s, InteractionEnded(5, "offered"), "bad_state")
    refused(s, InteractionAbandoned(5, "c1"), "bad_state")
    refused(s, WrapUpCompleted(5, "c1"), "bad_state")
    refused(s, InteractionEnded(5, "nope"), "unknown_interaction")


def test_wrap_up_interactions_cannot_be_transferred_or_ended_twice():
    s = Scenario(config(queue("q"), wrapup_s={"chat": 60, "voice": 0, "sms": 0, "email": 0}))
    s.agent("ann", at=0)
    s.arrive("c1", "q", at=1)
    s.take("c1", "ann")
    s.end("c1", at=2)
    from routing import InteractionEnded

    refused(s, InteractionTransferred(3, "c1", to_queue="q"), "bad_state")
    refused(s, InteractionEnded(3, "c1"), "bad_state")


def test_deadlines_before_a_refused_event_are_kept_for_the_next_call(s: Scenario):
    # ann's offer expired at 21: accepting at 25 is refused, but the expiry is not lost
    with pytest.raises(RoutingError) as info:
        s.router.handle(OfferAccepted(25, "offered", "ann"))
    assert info.value.code == "not_offered"
    assert s.router.now == 25
    assert s.router.next_deadline() == 25  # "come back now"
    out = s.router.handle(Tick(25))
    assert [type(d).__name__ for d in out][:2] == ["RevokeOffer", "Requeued"]
    assert s.router.handle(Tick(25)) == []


def test_time_never_runs_backwards(s: Scenario):
    s.tick(50)
    assert s.router.handle(Tick(10)) == []
    assert s.router.now == 50


def test_handle_refuses_things_that_are_not_events(s: Scenario):
    with pytest.raises(TypeError):
        s.router.handle("hello")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "make",
    [
        lambda: Tick(-1),
        lambda: Tick(float("nan")),
        lambda: Tick(True),
        lambda: AgentUpdated(1, "", {}),
        lambda: AgentUpdated(1, "ann", {"x": 11}),
        lambda: AgentUpdated(1, "ann", {"x": 0}),
        lambda: AgentUpdated(1, "ann", {"x": 2.5}),
        lambda: AgentUpdated(1, "ann", {}, {"fax": 1}),
        lambda: AgentUpdated(1, "ann", {}, {"chat": -1}),
        lambda: AgentStateChanged(1, "ann", "busy"),
        lambda: InteractionArrived(1, "i", "q", "pigeon"),
        lambda: InteractionArrived(1, "i", "q", "chat", arrived_at=2),
        lambda: InteractionArrived(5, "i", "q", "chat", arrived_at=2, enqueued_at=6),  # after at
        lambda: InteractionArrived(5, "i", "q", "chat", arrived_at=2, enqueued_at=1),  # before arrived_at
        lambda: InteractionArrived(5, "i", "q", "chat", enqueued_at=4),  # before arrived_at (= at)
        lambda: InteractionArrived(5, "i", "q", "chat", arrived_at=2, enqueued_at=float("nan")),
        lambda: InteractionArrived(5, "i", "q", "chat", arrived_at=2, enqueued_at=True),
        lambda: InteractionArrived(1, "i", "q", "chat", priority=float("inf")),
        lambda: InteractionArrived(1, " i", "q", "chat"),
        lambda: InteractionTransferred(1, "i"),
        lambda: InteractionTransferred(1, "i", to_queue="q", to_agent="ann"),
    ],
)
def test_malformed_events_raise_value_error(make):
    with pytest.raises(ValueError):
        make()


def test_events_normalise_strings_to_enums():
    from routing import AgentState, Channel

    assert InteractionArrived(1, "i", "q", "chat").channel is Channel.CHAT
    assert AgentStateChanged(1, "a", "away").state is AgentState.AWAY
    assert InteractionArrived(1, "i", "q", "chat").arrived_at == 1
    assert InteractionArrived(1, "i", "q", "chat").enqueued_at == 1
    assert InteractionArrived(5, "i", "q", "chat", arrived_at=2).enqueued_at == 2
    assert InteractionArrived(5, "i", "q", "chat", arrived_at=2, enqueued_at=5).enqueued_at == 5


def q(name: str = "q", **kw) -> QueueSpec:
    kw.setdefault("channels", frozenset({"chat"}))
    return QueueSpec(name, **kw)


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda: q(channels=frozenset()), "channels"),
        (lambda: q(channels=frozenset({"fax"})), "channels"),
        (lambda: q(skills={"x": 0}), "skills"),
        (lambda: q(strategy="random"), "strategy"),
        (lambda: q(aging_per_minute=-1), "aging_per_minute"),
        (lambda: q(max_wait_s=0), "max_wait_s"),
        (lambda: q(no_agent_action="hangup"), "no_agent_action"),
        (lambda: q(service_level_s=0), "service_level_s"),
        (lambda: q(escalation=(EscalationStep(60), EscalationStep(30))), "sorted"),
        (lambda: q(escalation=(EscalationStep(60, overflow=("q",)),)), "itself"),
        (lambda: EscalationStep(-1), "after_s"),
        (lambda: EscalationStep(1, {"x": 11}), "skills"),
        (lambda: RoutingConfig({}), "queues"),
        (lambda: RoutingConfig({"a": q("b")}), "name"),
        (lambda: RoutingConfig({"q": q(escalation=(EscalationStep(1, overflow=("nope",)),))}), "nope"),
        (lambda: RoutingConfig({"q": q()}, tier_weights={"gold": 1}), "standard"),
        (lambda: RoutingConfig({"q": q()}, offer_timeout_s={"voice": 10}), "chat"),
        (lambda: RoutingConfig({"q": q()}, offer_timeout_s={"chat": 0}), "offer_timeout_s"),
        (lambda: RoutingConfig({"q": q()}, wrapup_s={"chat": -1}), "wrapup_s"),
        (lambda: RoutingConfig({"q": q()}, default_capacity={"chat": 1.5}), "default_capacity"),
        (lambda: RoutingConfig({"q": q()}, max_missed_offers=-1), "max_missed_offers"),
        (lambda: RoutingConfig({"q": q()}, reject_cooldown_s=0), "reject_cooldown_s"),
        (lambda: RoutingConfig({"q": q()}, voice_exclusive="yes"), "voice_exclusive"),
    ],
)
def test_bad_configuration_fails_loudly_naming_the_key(make, needle: str):
    with pytest.raises(ValueError, match=needle):
        make()


def test_router_needs_a_routing_config():
    with pytest.raises(TypeError):
        Router({"q": q()})  # type: ignore[arg-type]
