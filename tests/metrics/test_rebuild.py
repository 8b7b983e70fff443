"""The live model after a router rebuild (restart, or recovery after a failed commit) against the report.

The rebuild is driven the way ``RouterService.rebuild`` does it (contactcenter/acd/service.py): the events
``rebuild_events`` reads from the store (contactcenter/acd/rebuild.py) go to a new router, and the observer
is told ``Rebuilt(router)`` with every decision that router made while replaying. A waiting interaction
comes back as ``InteractionArrived(arrived_at=interactions.arrived_at, enqueued_at=its latest transfer)``;
tests/acd/test_routing_effects.py checks that the store gives those times. The same day replayed from the
stored touchpoints (what the daily report and the start-up seed do) must give the same numbers.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import routing as r
from contactcenter.acd.service import Rebuilt
from contactcenter.metrics.model import MetricsModel
from contactcenter.metrics.observer import RoutingMetrics, queue_targets
from contactcenter.metrics.replay import Fact, apply_fact
from contactcenter.metrics.views import queue_rows

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2024, 5, 1, 10, 0, tzinfo=SHANGHAI).timestamp()
CONFIG = r.RoutingConfig(
    queues={
        "sales": r.QueueSpec("sales", frozenset({r.Channel.CHAT}), {"sales": 3}, service_level_s=20),
        "support": r.QueueSpec(
            "support",
            frozenset({r.Channel.CHAT}),
            {"support": 1},
            service_level_s=20,
            max_wait_s=600,
            no_agent_action=r.NoAgentAction.CALLBACK,
        ),
    },
    offer_timeout_s={c: 30.0 for c in r.CHANNELS},
    wrapup_s={c: 0.0 for c in r.CHANNELS},
)


def _row(rows: list[dict], name: str) -> dict:
    return next(x for x in rows if x["queue"] == name)


def _drive(router: r.Router, observer: RoutingMetrics, event: object) -> list[object]:
    decisions = router.handle(event)  # type: ignore[arg-type]
    observer(event.at, event, decisions)  # type: ignore[attr-defined]
    return decisions


def _rebuild(observer: RoutingMetrics, at: float, events: list[object]) -> tuple[r.Router, list[object]]:
    """What RouterService.rebuild does: a new router fed the store's events; observers get Rebuilt and its decisions."""
    router = r.Router(CONFIG)
    decisions: list[object] = []
    for event in events:
        decisions += router.handle(event)  # type: ignore[arg-type]
    observer(at, Rebuilt(router), decisions)
    return router, decisions


def _report(*facts: Fact) -> MetricsModel:
    """The stored touchpoints of the day replayed, as the daily report does."""
    report = MetricsModel(queue_targets(CONFIG, {}), SHANGHAI)
    for fact in facts:
        apply_fact(report, fact)
    return report


def test_a_moved_interaction_keeps_its_queue_entry_time_across_a_restart() -> None:
    """Waited 300 s in support, moved to sales: its sales wait starts at the move, before and after a restart."""
    router = r.Router(CONFIG)
    m = MetricsModel(queue_targets(CONFIG, {}), SHANGHAI)
    observer = RoutingMetrics(m, CONFIG)
    _drive(router, observer, r.InteractionArrived(at=T0, interaction_id="i1", queue="support", channel=r.Channel.CHAT))
    _drive(router, observer, r.InteractionTransferred(at=T0 + 300, interaction_id="i1", to_queue="sales"))
    assert _row(queue_rows(m, T0 + 305), "sales")["oldest_entered_at"] == T0 + 300  # live: correct

    # restart at T0 + 310: the store has i1 queued in sales, arrived at T0, moved there at T0 + 300
    router, _ = _rebuild(
        observer,
        T0 + 310,
        [
            r.AgentUpdated(at=T0 + 310, agent_id="a1", skills={"sales": 5}, capacity={r.Channel.CHAT: 1}),
            r.InteractionArrived(
                at=T0 + 310, interaction_id="i1", queue="sales", channel=r.Channel.CHAT, arrived_at=T0,
                enqueued_at=T0 + 300,
            ),
        ],
    )
    sales = _row(queue_rows(m, T0 + 310), "sales")
    assert (sales["oldest_entered_at"], sales["longest_wait_s"]) == (T0 + 300, 10.0)
    assert router.snapshot()["interactions"]["i1"]["enqueued_at"] == T0 + 300  # the router's clocks agree


def test_an_answer_after_a_restart_measures_the_wait_in_its_queue_like_the_report() -> None:
    """The same day, live (with a restart in the middle) and replayed from the store, must agree."""
    router = r.Router(CONFIG)
    m = MetricsModel(queue_targets(CONFIG, {}), SHANGHAI)
    observer = RoutingMetrics(m, CONFIG)
    _drive(router, observer, r.InteractionArrived(at=T0, interaction_id="i1", queue="support", channel=r.Channel.CHAT))
    _drive(router, observer, r.InteractionTransferred(at=T0 + 300, interaction_id="i1", to_queue="sales"))
    router, _ = _rebuild(
        observer,
        T0 + 310,
        [
            r.AgentUpdated(at=T0 + 310, agent_id="a1", skills={"sales": 5}, capacity={r.Channel.CHAT: 1}),
            r.AgentStateChanged(at=T0 + 310, agent_id="a1", state=r.AgentState.AVAILABLE),
            r.InteractionArrived(
                at=T0 + 310, interaction_id="i1", queue="sales", channel=r.Channel.CHAT, arrived_at=T0,
                enqueued_at=T0 + 300,
            ),
        ],
    )
    assert router.interaction_state("i1") is r.InteractionState.OFFERED  # offered to a1 by the rebuild
    _drive(router, observer, r.OfferAccepted(at=T0 + 312, interaction_id="i1", agent_id="a1"))
    live = _row(queue_rows(m, T0 + 320), "sales")["today"]

    report = _report(
        Fact(T0, "arrived", "i1", queue="support", channel="chat"),
        Fact(T0 + 300, "transfer", "i1", queue="sales"),
        Fact(T0 + 310, "offer", "i1", "a1"),
        Fact(T0 + 312, "accept", "i1", "a1"),
    )
    stored = _row(queue_rows(report, T0 + 320), "sales")["today"]
    assert (stored["asa_s"], stored["answered_within_sl"]) == (12.0, 1)  # waited 12 s in sales
    assert (live["asa_s"], live["answered_within_sl"]) == (stored["asa_s"], stored["answered_within_sl"])
    assert (live["offered"], live["answered"]) == (stored["offered"], stored["answered"]) == (1, 1)


def test_a_max_wait_that_expired_while_the_server_was_down_is_counted_live() -> None:
    """The rebuild's NoAgent closes the interaction (and is stored); the live 'today' must count it too."""
    router = r.Router(CONFIG)
    m = MetricsModel(queue_targets(CONFIG, {}), SHANGHAI)
    observer = RoutingMetrics(m, CONFIG)
    _drive(router, observer, r.InteractionArrived(at=T0, interaction_id="i1", queue="support", channel=r.Channel.CHAT))
    # down from T0 + 10 to T0 + 700: max_wait (600 s) passed meanwhile
    router, decisions = _rebuild(
        observer,
        T0 + 700,
        [
            r.InteractionArrived(
                at=T0 + 700, interaction_id="i1", queue="support", channel=r.Channel.CHAT, arrived_at=T0
            ),
        ],
    )
    assert any(isinstance(d, r.NoAgent) for d in decisions)  # written as state_change closed/no_agent
    live = _row(queue_rows(m, T0 + 700), "support")

    report = _report(
        Fact(T0, "arrived", "i1", queue="support", channel="chat"),
        Fact(T0 + 700, "state_change", "i1", state="closed", reason="no_agent"),
    )
    stored = _row(queue_rows(report, T0 + 700), "support")["today"]
    assert (stored["timed_out"], stored["service_level"]) == (1, 0.0)
    assert live["waiting"] == 0
    assert (live["today"]["timed_out"], live["today"]["service_level"]) == (1, 0.0)

    # a second rebuild (another failed commit) finds i1 closed in the store: nothing more to count
    _rebuild(observer, T0 + 800, [])
    assert _row(queue_rows(m, T0 + 800), "support")["today"]["timed_out"] == 1


def test_a_max_wait_timed_out_by_the_rebuild_is_counted_once_whichever_runs_first() -> None:
    """At start-up the model is seeded from the store, then the router is rebuilt; in the other order (the
    router rebuilt before the metrics start) the rebuild's decisions find an empty model and change nothing,
    and the seed that follows reads them back from the store: once either way."""
    facts = (
        Fact(T0, "arrived", "i1", queue="support", channel="chat"),
        Fact(T0 + 700, "state_change", "i1", state="closed", reason="no_agent"),  # what the rebuild wrote
    )
    events = [r.InteractionArrived(at=T0 + 700, interaction_id="i1", queue="support", channel=r.Channel.CHAT,
                                   arrived_at=T0)]

    seeded_first = MetricsModel(queue_targets(CONFIG, {}), SHANGHAI)
    for fact in facts[:1]:  # the seed: the store before the rebuild
        apply_fact(seeded_first, fact)
    _rebuild(RoutingMetrics(seeded_first, CONFIG), T0 + 700, events)

    rebuilt_first = MetricsModel(queue_targets(CONFIG, {}), SHANGHAI)
    observer = RoutingMetrics(rebuilt_first, CONFIG)
    _rebuild(observer, T0 + 700, events)
    for fact in facts:  # the seed: the store after the rebuild
        apply_fact(rebuilt_first, fact)

    for m in (seeded_first, rebuilt_first):
        support = _row(queue_rows(m, T0 + 700), "support")
        assert (support["waiting"], support["today"]["offered"], support["today"]["timed_out"]) == (0, 1, 1)
