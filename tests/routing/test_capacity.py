"""Slots: per-channel capacity, voice exclusivity, wrap-up."""

from __future__ import annotations

from routing import Channel
from tests.routing.helpers import Scenario, config, offered_ids, queue


def test_capacity_counts_offered_and_assigned_slots_per_channel():
    s = Scenario(config(queue("q")))
    s.agent("ann", at=0, capacity={"chat": 2})
    assert offered_ids(s.arrive("c1", "q", "chat", at=1)) == [("c1", "ann")]
    assert offered_ids(s.arrive("c2", "q", "chat", at=2)) == [("c2", "ann")]
    assert s.arrive("c3", "q", "chat", at=3) == []  # both slots taken (one offered, one offered)
    s.take("c1", "ann")
    assert s.arrive("e1", "q", "email", at=4) == [s.offer("e1", "ann")]  # email has its own slots
    assert dict(s.router.agent_load("ann")) == {Channel.VOICE: 0, Channel.CHAT: 2, Channel.SMS: 0, Channel.EMAIL: 1}
    assert s.end("c1", at=5) == [s.wrap_ended("c1", "ann"), s.offer("c3", "ann")]


def test_a_zero_capacity_channel_is_never_offered():
    s = Scenario(config(queue("q")))
    s.agent("ann", at=0, capacity={"sms": 0})
    assert s.arrive("s1", "q", "sms", at=1) == []
    assert offered_ids(s.arrive("c1", "q", "chat", at=2)) == [("c1", "ann")]  # omitted channels use defaults


def test_voice_is_exclusive_both_ways():
    s = Scenario(config(queue("q")))
    s.agent("ann", at=0)
    assert offered_ids(s.arrive("c1", "q", "chat", at=1)) == [("c1", "ann")]
    assert s.arrive("v1", "q", "voice", at=2) == []  # has chat load
    s.take("c1", "ann")
    out = s.end("c1", at=3)
    assert out == [s.wrap_ended("c1", "ann"), s.offer("v1", "ann")]
    assert s.arrive("c2", "q", "chat", at=4) == []  # has a voice offer
    s.take("v1", "ann")
    assert s.end("v1", at=5) == [s.wrap_ended("v1", "ann"), s.offer("c2", "ann")]


def test_voice_exclusivity_can_be_switched_off():
    s = Scenario(config(queue("q"), voice_exclusive=False))
    s.agent("ann", at=0)
    assert offered_ids(s.arrive("c1", "q", "chat", at=1)) == [("c1", "ann")]
    assert offered_ids(s.arrive("v1", "q", "voice", at=2)) == [("v1", "ann")]
    assert offered_ids(s.arrive("c2", "q", "chat", at=3)) == [("c2", "ann")]


def test_wrap_up_holds_the_slot_until_its_timer_ends():
    s = Scenario(config(queue("q"), wrapup_s={"voice": 30, "chat": 0, "sms": 0, "email": 0}))
    s.agent("ann", at=0)
    s.arrive("v1", "q", "voice", at=1)
    s.take("v1", "ann", at=2)
    s.arrive("v2", "q", "voice", at=3)
    assert s.end("v1", at=10) == []
    assert s.router.agent_load("ann")[Channel.VOICE] == 1
    assert s.router.next_deadline() == 40
    assert s.tick(39.9) == []
    assert s.tick(40) == [s.wrap_ended("v1", "ann"), s.offer("v2", "ann", at=40)]


def test_wrap_up_completed_early_frees_the_slot_without_a_wrap_up_decision():
    s = Scenario(config(queue("q"), wrapup_s={"voice": 30, "chat": 0, "sms": 0, "email": 0}))
    s.agent("ann", at=0)
    s.arrive("v1", "q", "voice", at=1)
    s.take("v1", "ann", at=2)
    s.arrive("v2", "q", "voice", at=3)
    s.end("v1", at=10)
    assert s.wrapped("v1", at=15) == [s.offer("v2", "ann", at=15)]
    assert s.router.interaction_state("v1") is None
    s.take("v2", "ann", at=16)
    assert s.tick(40) == []  # the wrap-up timer died with the interaction


def test_wrap_up_ending_restarts_the_idle_clock():
    s = Scenario(config(queue("q"), wrapup_s={"voice": 5, "chat": 0, "sms": 0, "email": 0}))
    s.agent("ann", at=0)
    s.agent("bob", at=1)
    s.arrive("v1", "q", "voice", at=2)  # ann
    s.take("v1", "ann")
    s.end("v1", at=3)
    s.tick(8)
    assert offered_ids(s.arrive("v2", "q", "voice", at=9)) == [("v2", "bob")]


def test_lowering_capacity_keeps_existing_work_but_stops_new_offers():
    s = Scenario(config(queue("q")))
    s.agent("ann", at=0, capacity={"chat": 3})
    s.arrive("c1", "q", at=1)
    s.arrive("c2", "q", at=2)
    s.agent("ann", at=3, capacity={"chat": 1}, state=None)
    assert s.router.agent_load("ann")[Channel.CHAT] == 2
    assert s.arrive("c3", "q", at=4) == []
