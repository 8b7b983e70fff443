"""Escalation steps, overflow queues, max wait."""

from __future__ import annotations

from routing import EscalationStep
from tests.routing.helpers import Scenario, config, offered_ids, queue


def escalating() -> Scenario:
    return Scenario(config(
        queue("tech", skills={"tech": 7}, escalation=[
            EscalationStep(30, {"tech": 4}),
            EscalationStep(60, None, ("billing",)),
            EscalationStep(90, {"tech": 2}),
        ]),
        queue("billing", skills={"billing": 3}),
    ))


def test_escalation_steps_fire_at_arrival_plus_after_s():
    s = escalating()
    s.arrive("v1", "tech", "voice", at=100)
    assert s.router.next_deadline() == 130
    assert s.tick(129) == []
    assert s.tick(130) == [s.escalated("v1", 1)]
    assert s.tick(160) == [s.escalated("v1", 2)]
    assert s.tick(190) == [s.escalated("v1", 3)]
    assert s.router.next_deadline() is None


def test_a_lower_step_level_opens_the_interaction_to_less_skilled_agents():
    s = escalating()
    s.agent("junior", {"tech": 4}, at=0)
    assert s.arrive("v1", "tech", "voice", at=100) == []
    assert s.tick(130) == [s.escalated("v1", 1), s.offer("v1", "junior", at=130)]


def test_overflow_makes_agents_of_another_queues_base_skills_eligible():
    s = escalating()
    s.agent("bill", {"billing": 3}, at=0)
    s.agent("tina", {"tech": 3}, at=0)
    s.arrive("v1", "tech", "voice", at=100)
    assert s.tick(130) == [s.escalated("v1", 1)]
    assert s.tick(160) == [s.escalated("v1", 2), s.offer("v1", "bill", at=160)]


def test_overflow_is_cumulative_and_none_keeps_the_previous_skills():
    s = escalating()
    s.agent("tina", {"tech": 4}, at=0, state="away")
    s.agent("bill", {"billing": 3}, at=0, state="away")
    s.arrive("t1", "tech", "voice", at=100)
    s.arrive("t2", "tech", "voice", at=101)
    s.tick(200)  # both at step 3: tech >= 2 or billing base
    assert offered_ids(s.presence("tina", "available", at=200)) == [("t1", "tina")]
    assert offered_ids(s.presence("bill", "available", at=200)) == [("t2", "bill")]


def test_an_escalated_interaction_keeps_its_priority_against_fresh_ones():
    s = escalating()
    s.agent("junior", {"tech": 4}, at=0, state="away")
    s.arrive("old", "tech", "voice", at=0)
    s.tick(30)
    s.arrive("new", "tech", "voice", at=31, tier="gold")
    assert offered_ids(s.presence("junior", "available", at=32)) == [("old", "junior")]


def test_max_wait_gives_up_on_a_queued_interaction():
    s = Scenario(config(queue("q", max_wait_s=120, no_agent_action="callback")))
    s.arrive("v1", "q", "voice", at=10)
    assert s.tick(130) == [s.no_agent("v1", at=130)]
    assert s.router.interaction_state("v1") is None
    assert s.router.waiting("q") == 0


def test_max_wait_lets_a_running_offer_finish_when_accepted():
    s = Scenario(config(queue("q", max_wait_s=120, no_agent_action="voicemail")))
    s.agent("ann", at=0, state="away")
    s.arrive("v1", "q", "voice", at=10)
    s.presence("ann", "available", at=125)  # offered at 125, max wait at 130
    assert s.tick(130) == []
    assert s.accept("v1", "ann", at=135) == [s.assigned("v1", "ann")]


def test_max_wait_gives_up_when_the_running_offer_fails():
    s = Scenario(config(queue("q", max_wait_s=120, no_agent_action="voicemail")))
    s.agent("ann", at=0, state="away")
    s.agent("bob", at=0, state="away")
    s.arrive("v1", "q", "voice", at=10)
    s.presence("ann", "available", at=125)
    s.presence("bob", "available", at=126)
    assert s.reject("v1", "ann", at=135) == [s.no_agent("v1", at=135)]


def test_max_wait_after_a_timed_out_offer():
    s = Scenario(config(queue("q", max_wait_s=120)))
    s.agent("ann", at=0, state="away")
    s.arrive("v1", "q", "voice", at=10)
    s.presence("ann", "available", at=125)
    assert s.tick(145) == [s.revoke("v1", "ann", "expired"), s.no_agent("v1", at=145)]


def test_escalation_and_max_wait_stop_once_assigned():
    s = Scenario(config(queue("q", max_wait_s=60, escalation=[EscalationStep(30, {})])))
    s.agent("ann", at=0)
    s.arrive("v1", "q", "voice", at=10)
    s.take("v1", "ann", at=11)
    assert s.router.next_deadline() is None
    assert s.tick(500) == []


def test_keep_waiting_is_exempt_from_max_wait_in_every_queue_it_waits_in():
    """A message left for whoever comes (a chat offline form) is never closed as "no agent"."""
    s = Scenario(config(queue("q", max_wait_s=60, no_agent_action="callback"), queue("r", max_wait_s=30)))
    s.arrive("left", "q", "chat", at=0, keep_waiting=True)
    s.arrive("live", "q", "chat", at=0)
    assert s.tick(60) == [s.no_agent("live", at=60)]
    s.transfer("left", at=100, to_queue="r")
    assert s.router.next_deadline() is None
    assert s.tick(1000) == []
    assert s.agent("ann", at=1001) == [s.offer("left", "ann")]  # still there for the first agent who comes
