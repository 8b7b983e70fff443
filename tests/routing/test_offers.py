"""Offer lifecycle: reject, timeout, missed offers, agents leaving, customers leaving."""

from __future__ import annotations

from routing import AgentState, Channel
from tests.routing.helpers import Scenario, config, offered_ids, queue

VOICE_ONLY = {"voice": 1, "chat": 0, "sms": 0, "email": 0}


def two_agents(**kw) -> Scenario:
    s = Scenario(config(queue("q"), **kw))
    s.agent("ann", at=0, capacity=VOICE_ONLY)
    s.agent("bob", at=1, capacity=VOICE_ONLY)
    return s


def test_offer_expires_at_the_channel_timeout():
    s = two_agents()
    assert s.arrive("v1", "q", "voice", at=10) == [s.offer("v1", "ann")]
    assert s.router.offers_outstanding() == 1
    assert s.router.next_deadline() == 30


def test_rejected_offer_goes_to_the_next_agent_and_keeps_its_arrival_time():
    s = two_agents()
    s.arrive("v1", "q", "voice", at=10)
    assert s.reject("v1", "ann", at=12) == [s.requeued("v1", "rejected"), s.offer("v1", "bob")]
    assert s.log[-1][1][1].waited_s == 2


def test_a_rejecting_agent_is_not_offered_the_same_interaction_again_until_the_cooldown():
    s = Scenario(config(queue("q"), reject_cooldown_s=10))
    s.agent("ann", at=0, capacity=VOICE_ONLY)
    s.arrive("v1", "q", "voice", at=1)
    assert s.reject("v1", "ann", at=2) == [s.requeued("v1", "rejected")]
    assert s.router.next_deadline() == 12
    assert s.tick(11) == []
    assert s.tick(12) == [s.offer("v1", "ann", at=12)]


def test_a_rejecting_agent_gets_other_work_meanwhile():
    s = Scenario(config(queue("q")))
    s.agent("ann", at=0, capacity=VOICE_ONLY)
    s.arrive("v1", "q", "voice", at=1, tier="gold")
    s.arrive("v2", "q", "voice", at=2)
    assert s.reject("v1", "ann", at=3) == [s.requeued("v1", "rejected"), s.offer("v2", "ann")]


def test_the_exclusion_ends_once_someone_else_was_offered_it():
    s = two_agents()
    s.arrive("v1", "q", "voice", at=10)
    s.reject("v1", "ann", at=11)  # -> bob
    assert s.reject("v1", "bob", at=12) == [s.requeued("v1", "rejected"), s.offer("v1", "ann")]


def test_timeout_revokes_requeues_and_offers_to_the_next_agent():
    s = two_agents()
    s.arrive("v1", "q", "voice", at=10)
    assert s.tick(30) == [
        s.revoke("v1", "ann", "expired"),
        s.requeued("v1", "expired"),
        s.offer("v1", "bob", at=30),
    ]


def test_missed_offers_in_a_row_force_the_agent_away_and_revoke_their_other_offers():
    s = Scenario(config(queue("q"), max_missed_offers=2, reject_cooldown_s=1000))
    s.agent("ann", at=0)
    s.arrive("v1", "q", "voice", at=1)
    assert s.tick(21) == [s.revoke("v1", "ann", "expired"), s.requeued("v1", "expired")]
    s.arrive("c1", "q", "chat", at=22)
    s.arrive("c2", "q", "chat", at=23)
    assert offered_ids(s.log[-2][1]) == [("c1", "ann")]
    assert s.tick(52) == [
        s.revoke("c1", "ann", "expired"),
        s.requeued("c1", "expired"),
        s.forced_away("ann"),
        s.revoke("c2", "ann", "agent_unavailable"),
        s.requeued("c2", "agent_unavailable"),
    ]
    assert s.router.agent_state("ann") is AgentState.AWAY
    assert s.router.offers_outstanding() == 0


def test_an_accept_or_a_reject_resets_the_missed_offer_count():
    s = Scenario(config(queue("q"), max_missed_offers=2, reject_cooldown_s=1))
    s.agent("ann", at=0, capacity=VOICE_ONLY)
    s.arrive("v1", "q", "voice", at=1)
    s.tick(21)  # missed 1
    assert s.tick(22) == [s.offer("v1", "ann", at=22)]
    s.reject("v1", "ann", at=23)  # reset
    s.tick(24)
    assert s.tick(44) == [s.revoke("v1", "ann", "expired"), s.requeued("v1", "expired")]  # missed 1, not 2
    assert s.router.agent_state("ann") is AgentState.AVAILABLE


def test_zero_max_missed_offers_never_forces_away():
    s = Scenario(config(queue("q"), max_missed_offers=0, reject_cooldown_s=1))
    s.agent("ann", at=0, capacity=VOICE_ONLY)
    s.arrive("v1", "q", "voice", at=1)
    for _ in range(5):
        s.tick(s.router.next_deadline())
    assert s.router.agent_state("ann") is AgentState.AVAILABLE


def test_going_away_revokes_offers_but_keeps_assigned_work():
    s = Scenario(config(queue("q")))
    s.agent("ann", at=0)
    s.agent("bob", at=1, state="away")
    s.arrive("c1", "q", at=2)
    s.arrive("c2", "q", at=3)
    s.take("c1", "ann")
    out = s.presence("ann", "away", at=4)
    assert out == [s.revoke("c2", "ann", "agent_unavailable"), s.requeued("c2", "agent_unavailable")]
    assert s.router.agent_load("ann")[Channel.CHAT] == 1
    assert s.presence("bob", "available", at=5) == [s.offer("c2", "bob")]
    assert s.end("c1", at=6) == [s.wrap_ended("c1", "ann")]


def test_setting_the_same_presence_again_changes_nothing():
    s = Scenario(config(queue("q")))
    s.agent("ann", at=0)
    s.arrive("c1", "q", at=2)
    assert s.presence("ann", "available", at=3) == []
    assert s.router.offers_outstanding() == 1


def test_an_abandoned_queued_interaction_just_disappears():
    s = Scenario(config(queue("q")))
    s.arrive("c1", "q", at=1)
    assert s.abandon("c1", at=2) == []
    assert s.router.waiting("q") == 0
    assert s.agent("ann", at=3) == []


def test_an_abandoned_offered_interaction_is_revoked_and_the_slot_reused():
    s = Scenario(config(queue("q")))
    s.agent("ann", at=0, capacity=VOICE_ONLY)
    s.arrive("v1", "q", "voice", at=1)
    s.arrive("v2", "q", "voice", at=2)
    assert s.abandon("v1", at=3) == [s.revoke("v1", "ann", "abandoned"), s.offer("v2", "ann")]


def test_an_agent_going_offline_is_not_offered_anything():
    s = Scenario(config(queue("q")))
    s.agent("ann", at=0, state="offline")
    assert s.arrive("c1", "q", at=1) == []
    assert offered_ids(s.presence("ann", "available", at=2)) == [("c1", "ann")]
