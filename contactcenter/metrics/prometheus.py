"""``/metrics`` in the Prometheus text format: a collector that reads the live model at scrape time.

Nothing is counted twice: the gauges are the model's current numbers, the
counters are the router service's and the observer's own monotonic totals.
Each app gets its own registry (tests build many apps in one process). Series
carry queue, channel and state labels only, never agent or customer names.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from contactcenter.metrics.model import AGENT_STATES
from contactcenter.metrics.views import queue_rows

if TYPE_CHECKING:
    from contactcenter.metrics.live import LiveMetrics

PREFIX = "contactcenter"
OUTCOMES = ("offered", "answered", "abandoned", "short_abandoned", "timed_out", "transferred", "handled")


class LiveCollector(Collector):
    def __init__(self, live: LiveMetrics) -> None:
        self.live = live

    def collect(self) -> Iterator[Metric]:
        live = self.live
        now = live.clock()
        rows = queue_rows(live.model, now)

        def gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=labels)

        waiting = gauge("queue_waiting", "Interactions waiting in the queue (queued or offered).", ["queue"])
        longest = gauge("queue_longest_wait_seconds", "Wait so far of the longest-waiting interaction.", ["queue"])
        offers = gauge("queue_offers_outstanding", "Offers made to agents and not yet answered.", ["queue"])
        level = gauge("queue_service_level_ratio",
                      "Answered within the threshold / (answered + abandoned after 5 s + timed out).",
                      ["queue", "window"])
        target = gauge("queue_service_level_target_ratio", "Service-level target of the queue.", ["queue"])
        asa = gauge("queue_asa_seconds", "Average speed of answer.", ["queue", "window"])
        aht = gauge("queue_aht_seconds", "Average handle time (talk + wrap-up).", ["queue", "window"])
        today = gauge("queue_interactions_today", "Interactions since local midnight, by outcome.",
                      ["queue", "outcome"])
        agents = gauge("queue_agents", "Agents serving the queue, by state.", ["queue", "state"])
        for row in rows:
            q = row["queue"]
            waiting.add_metric([q], row["waiting"])
            longest.add_metric([q], row["longest_wait_s"] or 0.0)
            offers.add_metric([q], row["offers_outstanding"])
            target.add_metric([q], row["service_level_target"])
            for window in ("window", "today"):
                values = row[window]
                label = "15m" if window == "window" else "today"
                if values["service_level"] is not None:
                    level.add_metric([q, label], values["service_level"])
                if values["asa_s"] is not None:
                    asa.add_metric([q, label], values["asa_s"])
                if values["aht_s"] is not None:
                    aht.add_metric([q, label], values["aht_s"])
            for outcome in OUTCOMES:
                today.add_metric([q, outcome], row["today"][outcome])
            for state in AGENT_STATES:
                agents.add_metric([q, state], row["agents"][state])
        yield from (waiting, longest, offers, level, target, asa, aht, today, agents)

        by_state = gauge("agents", "Agents known to the router, by state.", ["state"])
        counts = dict.fromkeys(AGENT_STATES, 0)
        for agent in live.model.agents.values():
            counts[agent.activity] = counts.get(agent.activity, 0) + 1
        for state, n in counts.items():
            by_state.add_metric([state], n)
        yield by_state

        decisions = CounterMetricFamily(f"{PREFIX}_routing_decisions", "Routing decisions committed.")
        decisions.add_metric([], live.router.decisions_total)
        yield decisions
        arrived = CounterMetricFamily(f"{PREFIX}_interactions_arrived",
                                      "New interactions routed since start, by channel.", labels=["channel"])
        for channel in sorted(set(live.model.channels) | set(live.routing.arrived)):
            arrived.add_metric([channel], live.routing.arrived.get(channel, 0))
        yield arrived
        outbox = gauge("outbox_pending", "Outbound messages waiting for delivery, by channel.", ["channel"])
        for channel, n in sorted(live.outbox_pending.items()):
            outbox.add_metric([channel], n)
        yield outbox
        alerts = gauge("alerts_active", "Supervisor alerts currently raised.", [])
        alerts.add_metric([], len(live.alerts.active))
        yield alerts


def registry_for(live: LiveMetrics) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LiveCollector(live))
    return registry
