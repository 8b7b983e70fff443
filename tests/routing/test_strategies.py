"""Which free agent gets an arriving interaction, per queue strategy."""

from __future__ import annotations

from tests.routing.helpers import Scenario, config, offered_ids, queue

ONE_CHAT = {"chat": 1}


def test_longest_idle_picks_the_agent_free_the_longest_and_resets_on_work():
    s = Scenario(config(queue("q")))
    s.agent("cat", at=1, capacity=ONE_CHAT)
    s.agent("ann", at=2, capacity=ONE_CHAT)
    s.agent("bob", at=3, capacity=ONE_CHAT)
    assert offered_ids(s.arrive("i1", "q", at=10)) == [("i1", "cat")]
    s.take("i1", "cat")
    assert s.end("i1", at=11) == [s.wrap_ended("i1", "cat")]  # cat idle since 11 now
    assert offered_ids(s.arrive("i2", "q", at=12)) == [("i2", "ann")]
    assert offered_ids(s.arrive("i3", "q", at=13)) == [("i3", "bob")]
    assert offered_ids(s.arrive("i4", "q", at=14)) == [("i4", "cat")]


def test_longest_idle_ties_are_broken_by_agent_id():
    s = Scenario(config(queue("q")))
    s.agent("bob", at=1, capacity=ONE_CHAT)
    s.agent("ann", at=1, capacity=ONE_CHAT)
    assert offered_ids(s.arrive("i1", "q", at=2)) == [("i1", "ann")]


def test_a_rejected_offer_does_not_reset_the_idle_clock():
    s = Scenario(config(queue("q")))
    s.agent("ann", at=1, capacity=ONE_CHAT)
    s.agent("bob", at=2, capacity=ONE_CHAT)
    s.arrive("i1", "q", at=3)
    assert offered_ids(s.reject("i1", "ann", at=4)) == [("i1", "bob")]
    assert offered_ids(s.arrive("i2", "q", at=5)) == [("i2", "ann")]


def test_least_occupied_prefers_the_lowest_load_ratio_then_longest_idle():
    s = Scenario(config(queue("q", strategy="least_occupied")))
    s.agent("xavier", at=1)
    s.agent("yves", at=2)
    assert offered_ids(s.arrive("i1", "q", at=3)) == [("i1", "xavier")]
    assert offered_ids(s.arrive("i2", "q", at=4)) == [("i2", "yves")]
    assert offered_ids(s.arrive("i3", "q", at=5)) == [("i3", "xavier")]
    s.take("i1", "xavier")
    s.take("i3", "xavier")
    s.take("i2", "yves")
    assert offered_ids(s.arrive("i4", "q", at=6)) == [("i4", "yves")]


def test_least_occupied_uses_the_ratio_to_total_capacity():
    s = Scenario(config(queue("q", strategy="least_occupied", channels={"chat"})))
    s.agent("big", at=1, capacity={"chat": 10, "voice": 0, "sms": 0, "email": 0})
    s.agent("small", at=2, capacity={"chat": 2, "voice": 0, "sms": 0, "email": 0})
    got = [offered_ids(s.arrive(f"i{i}", "q", at=3 + i))[0][1] for i in range(6)]
    # 0/10 ~ 0/2 (big idle longer), 1/10 > 0/2, 1/10 < 1/2, 2/10, 3/10, 4/10 < 1/2, then 5/10 = 1/2 -> idle
    assert got == ["big", "small", "big", "big", "big", "big"]
    assert offered_ids(s.arrive("x", "q", at=10)) == [("x", "big")]
    assert dict(s.router.agent_load("small"))["chat"] == 1


def test_most_skilled_prefers_the_highest_sum_of_the_queues_skills():
    s = Scenario(config(queue("q", strategy="most_skilled", skills={"sales": 3, "billing": 2})))
    s.agent("quinn", {"sales": 5, "billing": 5, "spanish": 10}, at=0, capacity=ONE_CHAT)  # 10
    s.agent("petra", {"sales": 10, "billing": 2}, at=1, capacity=ONE_CHAT)  # 12
    s.agent("rosa", {"sales": 3, "billing": 9}, at=2, capacity=ONE_CHAT)  # 12, idle less long
    assert offered_ids(s.arrive("i1", "q", at=5)) == [("i1", "petra")]
    assert offered_ids(s.arrive("i2", "q", at=6)) == [("i2", "rosa")]
    assert offered_ids(s.arrive("i3", "q", at=7)) == [("i3", "quinn")]


def test_round_robin_rotates_over_agent_ids():
    s = Scenario(config(queue("q", strategy="round_robin")))
    for name in ("cat", "ann", "bob"):
        s.agent(name, at=1)
    got = [offered_ids(s.arrive(f"i{i}", "q", at=2 + i))[0][1] for i in range(5)]
    assert got == ["ann", "bob", "cat", "ann", "bob"]


def test_round_robin_skips_busy_and_unavailable_agents():
    s = Scenario(config(queue("q", strategy="round_robin")))
    for name in ("ann", "bob", "cat"):
        s.agent(name, at=1, capacity=ONE_CHAT)
    assert offered_ids(s.arrive("i1", "q", at=2)) == [("i1", "ann")]
    s.presence("bob", "away", at=3)
    assert offered_ids(s.arrive("i2", "q", at=4)) == [("i2", "cat")]
    s.take("i1", "ann")
    s.end("i1", at=5)
    s.presence("bob", "available", at=5)
    # pointer is at cat: next after it, wrapping, is ann
    assert offered_ids(s.arrive("i3", "q", at=6)) == [("i3", "ann")]
    assert offered_ids(s.arrive("i4", "q", at=7)) == [("i4", "bob")]


def test_strategy_only_chooses_among_eligible_agents():
    s = Scenario(config(queue("q", skills={"french": 6})))
    s.agent("ann", {"french": 5}, at=0)
    s.agent("bob", {"french": 6}, at=1)
    assert offered_ids(s.arrive("i1", "q", at=2)) == [("i1", "bob")]
