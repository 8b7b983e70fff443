"""Reservations: sticky agents and transfers to a queue or a named agent."""

from __future__ import annotations

from routing import Channel, InteractionState
from tests.routing.helpers import Scenario, config, offered_ids, queue

VOICE_ONLY = {"voice": 1, "chat": 0, "sms": 0, "email": 0}


def sticky_scenario() -> Scenario:
    s = Scenario(config(queue("q", sticky_wait_s=30)))
    s.agent("ann", at=0, capacity=VOICE_ONLY)
    s.agent("bob", at=1, capacity=VOICE_ONLY)
    s.arrive("busy", "q", "voice", at=2)  # ann is now busy
    s.take("busy", "ann")
    return s


def test_sticky_interaction_waits_for_its_last_agent():
    s = sticky_scenario()
    assert s.arrive("v1", "q", "voice", at=10, last_agent_id="ann") == []  # bob is free but not asked
    assert s.end("busy", at=20) == [s.wrap_ended("busy", "ann"), s.offer("v1", "ann")]


def test_sticky_reservation_expires_and_the_interaction_opens_to_everyone():
    s = sticky_scenario()
    s.arrive("v1", "q", "voice", at=10, last_agent_id="ann")
    assert s.router.next_deadline() == 40
    assert s.tick(40) == [s.offer("v1", "bob", at=40)]


def test_sticky_reservation_counts_from_the_original_arrival():
    s = sticky_scenario()
    assert s.arrive("v1", "q", "voice", at=10, arrived_at=0, last_agent_id="ann") == []
    assert s.tick(30) == [s.offer("v1", "bob", at=30)]


def test_sticky_does_not_apply_to_an_offline_or_unknown_agent_or_without_sticky_wait():
    s = sticky_scenario()
    s.agent("cat", at=3, state="offline")
    assert offered_ids(s.arrive("v1", "q", "voice", at=10, last_agent_id="cat")) == [("v1", "bob")]
    s2 = sticky_scenario()
    assert offered_ids(s2.arrive("v1", "q", "voice", at=10, last_agent_id="nobody")) == [("v1", "bob")]
    s3 = Scenario(config(queue("q")))
    s3.agent("ann", at=0, state="away")
    s3.agent("bob", at=1)
    assert offered_ids(s3.arrive("v1", "q", "voice", at=10, last_agent_id="ann")) == [("v1", "bob")]


def test_sticky_reservation_is_released_when_the_agent_goes_offline():
    s = sticky_scenario()
    s.arrive("v1", "q", "voice", at=10, last_agent_id="ann")
    assert s.presence("ann", "offline", at=12) == [s.offer("v1", "bob")]


def test_a_sticky_agent_who_rejects_releases_the_reservation():
    s = sticky_scenario()
    s.arrive("v1", "q", "voice", at=10, last_agent_id="ann")
    s.presence("bob", "away", at=11)
    s.end("busy", at=12)  # -> ann
    assert s.reject("v1", "ann", at=13) == [s.requeued("v1", "rejected")]
    assert s.presence("bob", "available", at=14) == [s.offer("v1", "bob")]


def test_transfer_from_the_assigned_agent_to_another_queue():
    s = Scenario(config(queue("sales", skills={"sales": 1}), queue("billing", skills={"billing": 1})))
    s.agent("ann", {"sales": 5, "billing": 5}, at=0, capacity=VOICE_ONLY)
    s.agent("bob", {"billing": 5}, at=1, capacity=VOICE_ONLY)
    s.arrive("v1", "sales", "voice", at=2)
    s.take("v1", "ann")
    s.arrive("v2", "sales", "voice", at=3)
    out = s.transfer("v1", at=60, to_queue="billing")
    # ann's slot is free at once (no wrap-up) and she takes v2; v1 goes to bob, not back to ann
    assert out == [s.transferred("v1", "billing"), s.offer("v2", "ann"), s.offer("v1", "bob")]
    assert out[2].waited_s == 58  # keeps the original arrival time
    assert s.router.waiting("sales") == 1 and s.router.waiting("billing") == 1


def test_transfer_of_a_queued_interaction_is_a_supervisor_move():
    s = Scenario(config(queue("sales", skills={"sales": 1}), queue("billing", skills={"billing": 1})))
    s.agent("bob", {"billing": 5}, at=1)
    assert s.arrive("v1", "sales", "voice", at=2) == []
    assert s.transfer("v1", at=5, to_queue="billing") == [s.transferred("v1", "billing"), s.offer("v1", "bob")]


def test_transfer_of_an_offered_interaction_revokes_the_offer_first():
    s = Scenario(config(queue("sales"), queue("billing", skills={"billing": 1})))
    s.agent("ann", at=0)
    s.arrive("v1", "sales", "voice", at=1)
    assert s.transfer("v1", at=2, to_queue="billing") == [
        s.revoke("v1", "ann", "transferred"),
        s.transferred("v1", "billing"),
    ]
    assert s.router.agent_load("ann")[Channel.VOICE] == 0


def test_transfer_to_a_named_agent_only_offers_it_to_them():
    s = Scenario(config(queue("q", skills={"sales": 9})))
    s.agent("ann", {"sales": 9}, at=0, capacity=VOICE_ONLY)
    s.agent("bob", {}, at=1, capacity=VOICE_ONLY, state="away")  # lacks the skill: a named target needs none
    s.arrive("v1", "q", "voice", at=2)
    s.take("v1", "ann")
    assert s.transfer("v1", at=3, to_agent="bob") == [s.transferred("v1", "q", "bob")]
    assert s.tick(1000) == []  # no expiry: waits for bob
    assert s.presence("bob", "available", at=1001) == [s.offer("v1", "bob")]


def test_a_rejected_transfer_to_an_agent_goes_back_to_the_queue_open_to_all():
    s = Scenario(config(queue("q")))
    s.agent("ann", at=0, capacity=VOICE_ONLY)
    s.agent("bob", at=1, capacity=VOICE_ONLY)
    s.agent("cat", at=2, capacity=VOICE_ONLY)
    s.arrive("v1", "q", "voice", at=3)
    s.take("v1", "ann")
    assert s.transfer("v1", at=4, to_agent="cat") == [s.transferred("v1", "q", "cat"), s.offer("v1", "cat")]
    # open again, but not straight back to ann who passed it on
    assert s.reject("v1", "cat", at=5) == [s.requeued("v1", "rejected"), s.offer("v1", "bob")]


def test_a_transfer_target_going_offline_reopens_the_interaction():
    s = Scenario(config(queue("q")))
    s.agent("ann", at=0, capacity=VOICE_ONLY)
    s.agent("bob", at=1, state="away")
    s.arrive("v1", "q", "voice", at=2, target_agent_id="bob")
    assert s.router.interaction_state("v1") is InteractionState.QUEUED
    assert s.presence("bob", "offline", at=3) == [s.requeued("v1", "agent_unavailable"), s.offer("v1", "ann")]


def test_transfer_restarts_the_queue_clock_for_escalation_and_max_wait():
    s = Scenario(config(queue("a"), queue("b", max_wait_s=60, no_agent_action="voicemail")))
    s.arrive("v1", "a", "voice", at=0)
    s.transfer("v1", at=100, to_queue="b")
    assert s.router.next_deadline() == 160
    assert s.tick(160) == [s.no_agent("v1", at=160)]
    assert s.log[-1][1][0].waited_s == 160


def test_a_transfer_to_an_agent_with_no_capacity_on_the_channel_is_open_to_all():
    """Reserved for someone who can never take the channel, it would wait for them for ever."""
    s = Scenario(config(queue("q")))
    s.agent("ann", at=0, capacity=VOICE_ONLY)
    s.agent("cat", at=1, capacity={"voice": 1, "chat": 0, "sms": 0, "email": 0})
    assert s.arrive("v1", "q", "voice", at=2) == [s.offer("v1", "ann")]
    s.take("v1", "ann")
    s.agent("bob", at=3, capacity={"voice": 0, "chat": 2, "sms": 0, "email": 0})  # available, but no voice
    assert s.transfer("v1", at=4, to_agent="bob") == [
        s.transferred("v1", "q", "bob"),
        s.requeued("v1", "agent_unavailable"),
        s.offer("v1", "cat"),
    ]


def test_an_offline_agent_holds_no_reservation():
    s = Scenario(config(queue("q")))
    s.agent("ann", at=0, capacity=VOICE_ONLY)
    s.agent("bob", at=1, state="offline")
    assert s.arrive("v1", "q", "voice", at=2, target_agent_id="bob") == [s.offer("v1", "ann")]
    s.take("v1", "ann")
    s.agent("cat", at=3, capacity=VOICE_ONLY)
    assert s.transfer("v1", at=4, to_agent="bob") == [
        s.transferred("v1", "q", "bob"),
        s.requeued("v1", "agent_unavailable"),
        s.offer("v1", "cat"),
    ]
