"""Who goes first: tier, queue and explicit priority, aging, FIFO."""

from __future__ import annotations

from tests.routing.helpers import Scenario, config, offered_ids, queue


def serve_in_order(s: Scenario, agent: str, count: int, start: float) -> list[str]:
    """Make ``agent`` available at ``start`` and let them answer ``count`` voice calls back to back."""
    order = []
    out = s.presence(agent, "available", at=start)
    for i in range(count):
        ((iid, who),) = offered_ids(out)
        assert who == agent
        order.append(iid)
        s.take(iid, agent)
        out = s.end(iid, at=start + i + 1)
    return order


def test_higher_tier_is_offered_first():
    s = Scenario(config(queue("q")))
    s.agent("ann", state=None)
    s.arrive("std", "q", "voice", at=1)
    s.arrive("gold", "q", "voice", at=2, tier="gold")
    s.arrive("silver", "q", "voice", at=3, tier="silver")
    s.arrive("diamond", "q", "voice", at=4, tier="diamond")
    assert serve_in_order(s, "ann", 4, start=10) == ["diamond", "gold", "silver", "std"]


def test_queue_priority_and_explicit_priority_add_to_the_tier_weight():
    s = Scenario(config(queue("low", priority=0), queue("high", priority=15)))
    s.agent("ann", state=None)
    s.arrive("gold-low", "low", "voice", at=1, tier="gold")  # 20
    s.arrive("silver-high", "high", "voice", at=2, tier="silver")  # 25
    s.arrive("std-high-pushed", "high", "voice", at=3, priority=12)  # 27
    s.arrive("std-high", "high", "voice", at=4)  # 15
    assert serve_in_order(s, "ann", 4, start=10) == ["std-high-pushed", "silver-high", "gold-low", "std-high"]


def test_equal_priority_is_first_in_first_out_then_arrival_order():
    s = Scenario(config(queue("q")))
    s.agent("ann", state=None)
    s.arrive("b", "q", "voice", at=5)
    s.arrive("a", "q", "voice", at=5)  # same instant: sequence decides
    s.arrive("c", "q", "voice", at=6)
    s.arrive("old", "q", "voice", at=7, arrived_at=1)  # re-fed after a restart: keeps its age
    assert serve_in_order(s, "ann", 4, start=10) == ["old", "b", "a", "c"]


def test_aging_lets_an_older_standard_interaction_overtake_a_newer_gold_one():
    s = Scenario(config(queue("q", aging_per_minute=10)))
    s.agent("ann", state=None)
    s.arrive("std", "q", "voice", at=0)
    s.arrive("gold", "q", "voice", at=150, tier="gold")
    # at t=200: std = 10 * 200/60 = 33.3; gold = 20 + 10 * 50/60 = 28.3
    assert serve_in_order(s, "ann", 2, start=200) == ["std", "gold"]


def test_without_aging_the_newer_gold_interaction_still_wins():
    s = Scenario(config(queue("q")))
    s.agent("ann", state=None)
    s.arrive("std", "q", "voice", at=0)
    s.arrive("gold", "q", "voice", at=150, tier="gold")
    assert serve_in_order(s, "ann", 2, start=200) == ["gold", "std"]


def test_queues_with_different_aging_rates_are_compared_at_the_current_time():
    def winner(at: float) -> str:
        s = Scenario(config(queue("flat"), queue("fast", aging_per_minute=60)))
        s.agent("ann", state=None)
        s.arrive("gold-flat", "flat", "voice", at=0, tier="gold")  # always 20
        s.arrive("std-fast", "fast", "voice", at=0)  # 1 point per second
        return offered_ids(s.presence("ann", "available", at=at))[0][0]

    assert winner(10) == "gold-flat"
    assert winner(30) == "std-fast"


def test_an_agent_freeing_up_takes_the_best_interaction_across_all_its_queues():
    s = Scenario(config(queue("sales", skills={"sales": 1}), queue("billing", skills={"billing": 1}),
                        queue("vip", skills={"vip": 1})))
    s.agent("ann", {"sales": 5, "billing": 5}, state=None)
    s.arrive("s1", "sales", "voice", at=1)
    s.arrive("b1", "billing", "voice", at=2, tier="silver")
    s.arrive("v1", "vip", "voice", at=3, tier="diamond")  # ann is not eligible
    assert offered_ids(s.presence("ann", "available", at=5)) == [("b1", "ann")]


def test_queue_position_follows_effective_priority_now():
    s = Scenario(config(queue("q", aging_per_minute=10)))
    s.arrive("std", "q", "voice", at=0)
    s.arrive("gold", "q", "voice", at=60, tier="gold")
    s.arrive("std2", "q", "voice", at=61)
    s.tick(61)
    assert [s.router.queue_position(i) for i in ("gold", "std", "std2")] == [1, 2, 3]
    s.tick(200)  # std has aged 33.3 vs gold 20 + 23.3
    assert [s.router.queue_position(i) for i in ("gold", "std", "std2")] == [1, 2, 3]
    s.tick(300)  # std 50 vs gold 20 + 40 = 60: gold still first
    s.arrive("silver", "q", "voice", at=300, tier="silver")
    assert s.router.queue_position("silver") == 4
    assert s.router.queue_position("nope") is None
