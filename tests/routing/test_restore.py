"""Rebuilding state after a restart."""

from __future__ import annotations

from routing import Channel, EscalationStep, InteractionState
from tests.routing.helpers import Scenario, config, offered_ids, queue


def test_a_restored_interaction_occupies_its_agents_slot():
    s = Scenario(config(queue("q")))
    s.agent("ann", at=0, state=None)
    assert s.restore("v1", "q", "voice", "ann", at=1, arrived_at=0.5) == []
    assert s.router.interaction_state("v1") is InteractionState.ASSIGNED
    assert s.router.interaction_holder("v1") == (InteractionState.ASSIGNED, "ann")
    assert s.router.interaction_holder("nope") is None
    assert s.router.agent_load("ann")[Channel.VOICE] == 1
    s.presence("ann", "available", at=2)
    assert s.arrive("v2", "q", "voice", at=3) == []  # voice slot taken
    assert s.end("v1", at=4) == [s.wrap_ended("v1", "ann"), s.offer("v2", "ann")]


def test_restore_may_exceed_capacity_because_it_is_the_truth():
    s = Scenario(config(queue("q")))
    s.agent("ann", at=0, capacity={"chat": 1})
    s.restore("c1", "q", "chat", "ann", at=1)
    s.restore("c2", "q", "chat", "ann", at=1)
    assert s.router.agent_load("ann")[Channel.CHAT] == 2
    s.end("c1", at=2)
    s.arrive("c3", "q", "chat", at=3)
    assert s.router.offers_outstanding() == 0
    s.end("c2", at=4)
    assert offered_ids(s.log[-1][1]) == [("c3", "ann")]


def test_a_re_fed_arrival_catches_up_on_escalation_before_being_offered():
    s = Scenario(config(queue("q", skills={"x": 8}, escalation=[EscalationStep(30, {"x": 2})])))
    s.agent("ann", {"x": 2}, at=0)
    assert s.arrive("v1", "q", "voice", at=100, arrived_at=40) == [s.escalated("v1", 1), s.offer("v1", "ann")]
    assert s.log[-1][1][1].waited_s == 60


def test_a_re_fed_arrival_past_its_max_wait_gives_up_at_once():
    s = Scenario(config(queue("q", max_wait_s=30, no_agent_action="email_followup")))
    assert s.arrive("v1", "q", "voice", at=100, arrived_at=40) == [s.no_agent("v1")]


def test_a_re_fed_arrival_that_was_moved_counts_its_queue_clocks_from_the_move():
    """Moved into ``q`` at 70 after arriving at 40: escalation and max wait run from 70, aging from 40."""
    s = Scenario(config(queue("q", skills={"x": 8}, max_wait_s=60, aging_per_minute=6,
                              escalation=[EscalationStep(30, {"x": 2})])))
    s.agent("ann", {"x": 2}, at=0, state="away")
    assert s.arrive("v1", "q", "voice", at=80, arrived_at=40, enqueued_at=70) == []
    snapshot = s.router.snapshot()["interactions"]["v1"]
    assert (snapshot["arrived_at"], snapshot["enqueued_at"]) == (40, 70)
    assert s.router.next_deadline() == 100
    assert s.tick(99) == []
    assert s.tick(100) == [s.escalated("v1", 1)]
    assert s.router.next_deadline() == 130
    assert s.presence("ann", "available", at=110) == [s.offer("v1", "ann", at=110)]
    assert s.log[-1][1][0].waited_s == 70  # the customer's wait since arrival, as before the restart


def test_a_re_fed_moved_arrival_past_its_max_wait_in_the_new_queue_gives_up():
    s = Scenario(config(queue("q", max_wait_s=30, no_agent_action="email_followup")))
    assert s.arrive("v1", "q", "voice", at=100, arrived_at=10, enqueued_at=69) == [s.no_agent("v1")]
    assert s.arrive("v2", "q", "voice", at=100, arrived_at=10, enqueued_at=71) == []
    assert s.router.next_deadline() == 101


def test_a_re_fed_arrival_keeps_its_priority_and_fifo_place_from_its_arrival():
    """Who was first is decided by ``arrived_at``; ``enqueued_at`` only sets the queue's clocks."""
    s = Scenario(config(queue("q", aging_per_minute=6)))
    s.agent("ann", at=0, state="away")
    s.arrive("late", "q", "voice", at=100, arrived_at=50)
    s.arrive("moved", "q", "voice", at=100, arrived_at=20, enqueued_at=90)
    assert s.router.queue_position("moved") == 1
    assert offered_ids(s.presence("ann", "available", at=100)) == [("moved", "ann")]
