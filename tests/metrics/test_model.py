"""The metrics model against hand-computed scenarios: pure, synchronous, time passed in."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

import routing as r
from contactcenter.acd.service import Rebuilt
from contactcenter.config import parse_config, to_routing_config
from contactcenter.metrics.alerts import SL_ALERT_MIN_CONTACTS, AlertRules
from contactcenter.metrics.history import QueueHistory
from contactcenter.metrics.model import MetricsModel, QueueTarget
from contactcenter.metrics.observer import RoutingMetrics, queue_targets
from contactcenter.metrics.replay import Fact, apply_fact
from contactcenter.metrics.views import agent_rows, channel_rows, queue_rows, service_level, waiting_rows
from contactcenter.metrics.window import Tally

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2024, 5, 1, 10, 0, tzinfo=SHANGHAI).timestamp()  # on a minute boundary
SALES = QueueTarget("sales", frozenset({"chat", "email"}), {"sales": 3}, service_level_s=20.0,
                    alert_waiting_above=1)
SUPPORT = QueueTarget("support", frozenset({"chat"}), {"support": 1}, service_level_s=60.0)


def model() -> MetricsModel:
    m = MetricsModel([SALES, SUPPORT], SHANGHAI)
    m.agent_profile(T0, "a1", {"sales": 5}, {"chat": 2, "email": 1})
    m.agent_profile(T0, "a2", {"support": 1}, {"chat": 1, "email": 0})
    return m


def row(rows: list[dict], name: str, key: str = "queue") -> dict:
    return next(x for x in rows if x[key] == name)


def scenario() -> MetricsModel:
    """Four sales interactions: answered in time, short abandon, long abandon, answered late then transferred."""
    m = model()
    m.presence(T0, "a1", "available")
    m.queued(T0, "i1", "sales", "chat")
    m.offered(T0 + 5, "i1", "a1")
    m.answered(T0 + 10, "i1", "a1")  # waited 10 s: within 20 s
    m.queued(T0 + 12, "i2", "sales", "chat")
    m.abandoned(T0 + 15, "i2")  # waited 3 s: a short abandon
    m.queued(T0 + 20, "i3", "sales", "email")
    m.queued(T0 + 30, "i4", "sales", "chat")
    m.offered(T0 + 35, "i4", "a1")
    return m


def finish(m: MetricsModel) -> None:
    m.abandoned(T0 + 60, "i3")  # waited 40 s
    m.offer_ended(T0 + 65, "i4", "a1")  # the offer expired
    m.answered(T0 + 70, "i4", "a1")  # waited 40 s: late
    m.ended(T0 + 100, "i1")  # talked 90 s
    m.wrapup_ended(T0 + 110, "i1")  # wrapped up 10 s
    m.transferred(T0 + 120, "i4", "support")  # talked 50 s, then handed over


def test_now_numbers_follow_the_interactions() -> None:
    m = scenario()
    now = T0 + 40
    sales = row(queue_rows(m, now), "sales")
    assert (sales["waiting"], sales["offers_outstanding"], sales["longest_wait_s"]) == (2, 1, 20.0)
    assert sales["agents"] == {"available": 0, "busy": 1, "wrap_up": 0, "away": 0, "offline": 0}
    assert row(queue_rows(m, now), "support")["agents"]["offline"] == 1  # a2 serves support only
    chat, email = row(channel_rows(m, now), "chat", "channel"), row(channel_rows(m, now), "email", "channel")
    assert (chat["waiting"], chat["offers_outstanding"], email["waiting"], email["longest_wait_s"]) == (1, 1, 1, 20.0)
    assert email["agents"]["busy"] == 1 and chat["agents"]["offline"] == 1  # a2 has no email capacity
    assert [w["id"] for w in waiting_rows(m, now)] == ["i3", "i4"]
    a1 = row(agent_rows(m, now), "a1", "agent_id")
    assert (a1["activity"], a1["since"], a1["time_in_state_s"]) == ("busy", T0 + 10, 30.0)
    assert a1["load"] == {"chat": 2} and {i["id"]: i["state"] for i in a1["interactions"]} == {
        "i1": "assigned", "i4": "offered"}


def test_interval_metrics_match_the_hand_computation() -> None:
    m = scenario()
    finish(m)
    now = T0 + 150
    for window in ("window", "today"):
        sales = row(queue_rows(m, now), "sales")[window]
        assert sales["offered"] == 4
        assert (sales["answered"], sales["answered_within_sl"]) == (2, 1)
        assert (sales["abandoned"], sales["short_abandoned"]) == (2, 1)
        assert sales["service_level"] == pytest.approx(1 / 3)  # 1 in time / (2 answered + 2 abandoned - 1 short)
        assert sales["asa_s"] == pytest.approx(25.0)  # (10 + 40) / 2
        assert sales["handled"] == 2
        assert sales["aht_s"] == pytest.approx(75.0)  # ((90 + 10) + (50 + 0)) / 2
        assert (sales["avg_talk_s"], sales["avg_wrap_s"]) == (pytest.approx(70.0), pytest.approx(5.0))
        assert sales["avg_abandon_wait_s"] == pytest.approx(21.5)  # (3 + 40) / 2
        assert sales["transferred"] == 1
    support = row(queue_rows(m, now), "support")
    assert (support["today"]["offered"], support["waiting"], support["longest_wait_s"]) == (1, 1, 30.0)
    chat = row(channel_rows(m, now), "chat", "channel")["today"]
    assert (chat["offered"], chat["answered"], chat["abandoned"]) == (4, 2, 1)  # three sales chats + the transfer


def test_agent_time_and_occupancy() -> None:
    m = scenario()
    finish(m)
    a1 = row(agent_rows(m, T0 + 150), "a1", "agent_id")
    # available 0-10 and 120-150, busy 10-120 (i4 kept a1 busy through i1's wrap-up)
    today = a1["today"]
    assert (today["available_s"], today["busy_s"], today["wrap_up_s"]) == (40.0, 110.0, 0.0)
    assert today["occupancy"] == pytest.approx(110 / 150)
    assert (today["answered"], today["handled"], today["transferred"]) == (2, 2, 1)
    assert today["aht_s"] == pytest.approx(75.0)
    assert (a1["activity"], a1["since"]) == ("available", T0 + 120)


def test_wrap_up_is_its_own_activity_and_counts_as_occupied() -> None:
    m = model()
    m.presence(T0, "a2", "available")
    m.queued(T0, "c1", "support", "chat")
    m.answered(T0 + 30, "c1", "a2")
    m.ended(T0 + 90, "c1")
    assert row(agent_rows(m, T0 + 100), "a2", "agent_id")["activity"] == "wrap_up"
    m.wrapup_ended(T0 + 120, "c1")
    today = row(agent_rows(m, T0 + 120), "a2", "agent_id")["today"]
    assert (today["available_s"], today["busy_s"], today["wrap_up_s"]) == (30.0, 60.0, 30.0)
    assert today["occupancy"] == pytest.approx(0.75)
    support = row(queue_rows(m, T0 + 120), "support")["today"]
    assert (support["service_level"], support["asa_s"], support["aht_s"]) == (1.0, 30.0, 90.0)


def test_rolling_window_keeps_fifteen_minute_buckets() -> None:
    m = model()
    m.queued(T0, "i1", "sales", "chat")
    m.abandoned(T0 + 30, "i1")
    assert row(queue_rows(m, T0 + 14 * 60 + 59), "sales")["window"]["abandoned"] == 1
    late = row(queue_rows(m, T0 + 15 * 60), "sales")
    assert (late["window"]["abandoned"], late["today"]["abandoned"]) == (0, 1)
    assert late["window"]["service_level"] is None  # nothing counted is not 0 %


def test_today_starts_at_local_midnight() -> None:
    before = datetime(2024, 5, 1, 23, 50, tzinfo=SHANGHAI).timestamp()
    after = datetime(2024, 5, 2, 0, 10, tzinfo=SHANGHAI).timestamp()
    m = model()
    m.presence(before, "a1", "available")
    m.queued(before, "i1", "sales", "chat")
    m.abandoned(before + 60, "i1")
    m.queued(after - 60, "i2", "sales", "chat")
    m.abandoned(after, "i2")
    sales = row(queue_rows(m, after), "sales")
    assert (sales["today"]["abandoned"], sales["window"]["abandoned"]) == (1, 1)  # 23:51 is outside both
    m.presence(after, "a1", "away", "lunch")
    a1 = row(agent_rows(m, after + 60), "a1", "agent_id")
    assert (a1["today"]["available_s"], a1["today"]["away_s"]) == (600.0, 60.0)  # since midnight only
    assert (a1["presence"], a1["reason"]) == ("away", "lunch")
    assert datetime.fromtimestamp(before, UTC).hour == 15  # midnight in Shanghai is 16:00 UTC


def test_timed_out_counts_against_the_service_level() -> None:
    t = Tally(answered=1, answered_in_sl=1, timed_out=1)
    assert service_level(t) == 0.5
    m = model()
    m.queued(T0, "i1", "sales", "chat")
    m.timed_out(T0 + 600, "i1")
    sales = row(queue_rows(m, T0 + 600), "sales")
    assert (sales["today"]["timed_out"], sales["today"]["service_level"], sales["waiting"]) == (1, 0.0, 0)


def test_facts_about_unknown_or_finished_interactions_change_nothing() -> None:
    m = scenario()
    before = queue_rows(m, T0 + 40)
    m.answered(T0 + 40, "nope", "a1")
    m.offer_ended(T0 + 40, "i4", "a2")  # not a2's offer
    m.abandoned(T0 + 40, "i1")  # already answered
    m.wrapup_ended(T0 + 40, "i3")  # still waiting
    assert queue_rows(m, T0 + 40) == before


def test_alerts_raise_once_and_clear_once() -> None:
    m = model()
    rules = AlertRules()
    m.queued(T0, "i1", "sales", "chat")
    assert rules.evaluate(T0, queue_rows(m, T0)) == []  # 1 waiting is not above 1
    m.queued(T0 + 1, "i2", "sales", "chat")
    raised = rules.evaluate(T0 + 1, queue_rows(m, T0 + 1))
    assert [(a.kind, a.queue, a.status, a.value, a.threshold) for a in raised] == [("waiting", "sales", "raised", 2, 1)]
    assert rules.evaluate(T0 + 2, queue_rows(m, T0 + 2)) == []  # still breached: not raised again
    m.abandoned(T0 + 3, "i2")
    cleared = rules.evaluate(T0 + 3, queue_rows(m, T0 + 3))
    assert [(a.kind, a.status) for a in cleared] == [("waiting", "cleared")]
    assert rules.active == {}


def test_service_level_alert_needs_enough_contacts() -> None:
    m = model()
    rules = AlertRules()
    for n in range(SL_ALERT_MIN_CONTACTS):
        m.queued(T0 + 20 * n, f"x{n}", "sales", "chat")
        m.abandoned(T0 + 20 * n + 10, f"x{n}")  # 10 s: not short, so each counts against the level
        changes = rules.evaluate(T0 + 20 * n + 10, queue_rows(m, T0 + 20 * n + 10))
        assert [a.kind for a in changes] == (["service_level"] if n == SL_ALERT_MIN_CONTACTS - 1 else [])
    assert rules.active["service_level:sales"].threshold == 0.8
    later = T0 + 16 * 60  # the window has emptied: nothing to judge, so the alert clears
    assert [(a.kind, a.status) for a in rules.evaluate(later, queue_rows(m, later))] == [
        ("service_level", "cleared")]


GOALS = """\
queues:
  vip:     {channels: [chat], service_level: 30s, service_level_target: 90%}
  sales:   {channels: [chat], service_level: 30s, service_level_target: 80%}
  support: {channels: [chat], service_level: 30s}
"""


def test_each_queue_is_judged_against_its_own_service_level_target() -> None:
    """The same traffic, 85 % in service level, in three queues: only the one aiming at 90 % is in breach.

    Per queue, 20 chats 40 s apart: 17 answered after 10 s (within 30 s), 3 abandoned after
    40 s (not short, so against the level): 17 / (17 + 3) = 0.85. The goals come
    from the file through ``queue_targets``, as in the live service.
    """
    settings = parse_config(GOALS, env={})
    m = MetricsModel(queue_targets(to_routing_config(settings), settings.queues), SHANGHAI)
    for n in range(20):  # facts in time order: the model counts a late-stamped fact at the latest time seen
        at = T0 + 40 * n
        for queue in ("vip", "sales", "support"):
            m.queued(at, f"{queue}-{n}", queue, "chat")
        for queue in ("vip", "sales", "support"):
            if n < 17:
                m.answered(at + 10, f"{queue}-{n}", f"agent-{queue}")
            else:
                m.abandoned(at + 40, f"{queue}-{n}")
    now = T0 + 14 * 60  # all 20 still inside the rolling 15 minutes
    rows = queue_rows(m, now)
    assert {x["queue"]: x["service_level_target"] for x in rows} == {"vip": 0.9, "sales": 0.8, "support": 0.8}
    assert {x["queue"]: x["window"]["service_level"] for x in rows} == {
        "vip": pytest.approx(0.85), "sales": pytest.approx(0.85), "support": pytest.approx(0.85)}

    rules = AlertRules()
    raised = rules.evaluate(now, rows)
    assert [(a.kind, a.queue, a.status, a.threshold) for a in raised] == [("service_level", "vip", "raised", 0.9)]
    assert raised[0].value == pytest.approx(0.85)
    assert set(rules.active) == {"service_level:vip"}
    assert rules.evaluate(now + 1, queue_rows(m, now + 1)) == []  # still 85 %: not raised again


def test_history_samples_at_most_every_interval() -> None:
    m = model()
    history = QueueHistory(interval_s=20, keep_s=60)
    points = [history.sample(T0 + s, queue_rows(m, T0 + s)) for s in (0, 5, 20, 40, 60, 80)]
    assert [p is not None for p in points] == [True, False, True, True, True, True]
    assert [p["at"] - T0 for p in history.samples] == [40, 60, 80]  # keeps keep_s / interval_s points
    assert history.samples[-1]["queues"]["sales"] == {"waiting": 0, "service_level": None}


# -- the observer against the real router -----------------------------------------------------------

CONFIG = r.RoutingConfig(
    queues={"sales": r.QueueSpec("sales", frozenset({r.Channel.CHAT}), {"sales": 3}, service_level_s=20),
            "support": r.QueueSpec("support", frozenset({r.Channel.CHAT}), {"support": 1})},
    offer_timeout_s={c: 30.0 for c in r.CHANNELS}, wrapup_s={c: 0.0 for c in r.CHANNELS},
)


def drive(router: r.Router, observer: RoutingMetrics, event: object) -> list[object]:
    decisions = router.handle(event)  # type: ignore[arg-type]
    observer(event.at, event, decisions)  # type: ignore[attr-defined]
    return decisions


def test_the_observer_keeps_the_model_in_step_with_the_router() -> None:
    router = r.Router(CONFIG)
    m = MetricsModel(queue_targets(CONFIG, {}), SHANGHAI)  # no settings: default goals
    observer = RoutingMetrics(m, CONFIG)
    drive(router, observer, r.AgentUpdated(at=T0, agent_id="a1", skills={"sales": 5, "support": 1},
                                           capacity={r.Channel.CHAT: 1}))
    drive(router, observer, r.AgentStateChanged(at=T0, agent_id="a1", state=r.AgentState.AVAILABLE))
    for n, queue in enumerate(("sales", "sales", "support")):
        drive(router, observer, r.InteractionArrived(at=T0 + n, interaction_id=f"i{n}", queue=queue,
                                                     channel=r.Channel.CHAT))
    assert router.offers_outstanding() == 1
    drive(router, observer, r.OfferRejected(at=T0 + 5, interaction_id="i0", agent_id="a1"))
    drive(router, observer, r.Tick(at=T0 + 40))  # the next offer expires; another is made
    drive(router, observer, r.InteractionAbandoned(at=T0 + 41, interaction_id="i2"))
    offered = next(i for i in ("i0", "i1") if router.interaction_state(i) is r.InteractionState.OFFERED)
    drive(router, observer, r.OfferAccepted(at=T0 + 42, interaction_id=offered, agent_id="a1"))
    drive(router, observer, r.InteractionTransferred(at=T0 + 50, interaction_id=offered, to_queue="support"))
    rows = queue_rows(m, T0 + 50)
    for queue in ("sales", "support"):
        assert row(rows, queue)["waiting"] == router.waiting(queue)
        oldest = router.oldest_arrival(queue)
        assert (row(rows, queue)["oldest_entered_at"] is None) == (oldest is None)
    assert sum(x["offers_outstanding"] for x in rows) == router.offers_outstanding()
    assert row(rows, "sales")["today"]["answered"] == 1
    assert row(rows, "support")["today"]["abandoned"] == 1
    assert dict(router.agent_load("a1")) == {c: (1 if c is r.Channel.CHAT else 0) for c in r.CHANNELS}
    assert row(agent_rows(m, T0 + 50), "a1", "agent_id")["load"] == {"chat": 1}
    assert observer.arrived == {"chat": 3}

    # a rebuilt router replaces the model's "now" state; today's counts stay
    rebuilt = r.Router(CONFIG)
    rebuilt.handle(r.AgentUpdated(at=T0 + 60, agent_id="a1", skills={"sales": 5}, capacity={r.Channel.CHAT: 1}))
    rebuilt.handle(r.InteractionArrived(at=T0 + 60, interaction_id="z", queue="sales", channel=r.Channel.CHAT,
                                        arrived_at=T0 + 55))
    observer(T0 + 60, Rebuilt(rebuilt), [])
    rows = queue_rows(m, T0 + 60)
    assert [(x["queue"], x["waiting"], x["offers_outstanding"]) for x in rows] == [("sales", 1, 0), ("support", 0, 0)]
    assert row(rows, "sales")["oldest_entered_at"] == T0 + 55
    assert row(rows, "sales")["today"]["answered"] == 1
    assert row(agent_rows(m, T0 + 60), "a1", "agent_id")["activity"] == "offline"


def test_stored_facts_replay_to_the_same_numbers() -> None:
    """The start-up seed and the daily report read touchpoints back; they land where live facts do."""
    facts = [
        Fact(T0, "presence", agent_id="a1", state="available"),
        Fact(T0, "presence", agent_id="a2", state="available"),
        Fact(T0, "arrived", "i1", queue="sales", channel="chat"),
        Fact(T0 + 5, "offer", "i1", "a1"),
        Fact(T0 + 8, "revoke", "i1", "a1"),
        Fact(T0 + 9, "offer", "i1", "a1"),
        Fact(T0 + 10, "accept", "i1", "a1"),
        Fact(T0 + 40, "transfer", "i1", queue=None),  # to a named agent: stored without to_queue
        Fact(T0 + 41, "offer", "i1", "a2"),
        Fact(T0 + 45, "accept", "i1", "a2"),
        Fact(T0 + 60, "state_change", "i1", state="wrap_up"),
        Fact(T0 + 70, "state_change", "i1", state="closed", reason="wrapup_elapsed"),
        Fact(T0 + 70, "arrived", "i2", queue="sales", channel="chat"),
        Fact(T0 + 80, "state_change", "i2", state="abandoned"),
        Fact(T0 + 90, "arrived", "i3", queue="support", channel="chat"),
        Fact(T0 + 100, "state_change", "i3", state="queued", reason="rejected"),
        Fact(T0 + 200, "state_change", "i3", state="closed", reason="no_agent"),
    ]
    m = model()
    for fact in facts:
        apply_fact(m, fact)
    sales = row(queue_rows(m, T0 + 200), "sales")["today"]
    assert (sales["offered"], sales["answered"], sales["transferred"], sales["handled"]) == (3, 2, 1, 2)
    assert (sales["abandoned"], sales["asa_s"], sales["aht_s"]) == (1, 7.5, 27.5)  # waits 10, 5; (30 + 15 + 10) / 2
    assert row(queue_rows(m, T0 + 200), "support")["today"]["timed_out"] == 1
    a2 = row(agent_rows(m, T0 + 200), "a2", "agent_id")["today"]
    assert (a2["answered"], a2["busy_s"], a2["wrap_up_s"], a2["available_s"]) == (1, 15.0, 10.0, 175.0)
    assert m.interactions == {}
