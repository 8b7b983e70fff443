"""The model read as rows: what /api/metrics, the supervisor socket, /metrics and the reports show.

Every derived number (service level, ASA, AHT, occupancy, ...) is computed here
from a ``Tally``, in one place, so the live view and the daily report cannot
disagree on a definition. Ratios are fractions (0.8, not 80); a ratio or an
average over nothing is ``None``, never 0. Definitions: docs/metrics.md.
"""

from __future__ import annotations

import heapq
from typing import Any

from contactcenter.metrics.model import AGENT_STATES, AgentNow, MetricsModel
from contactcenter.metrics.window import ACTIVITY_FIELDS, Tally, open_span_parts

WAITING_LISTED = 20  # per queue: the oldest waiting interactions a supervisor can pick to move


def ratio(part: float, whole: float) -> float | None:
    return None if whole <= 0 else part / whole


def service_level(t: Tally) -> float | None:
    """Answered within the threshold / (answered + abandoned after the short-abandon threshold + timed out)."""
    return ratio(t.answered_in_sl, t.answered + t.abandoned - t.short_abandoned + t.timed_out)


def occupancy(t: Tally) -> float | None:
    """(busy + wrap-up time) / (available + busy + wrap-up time)."""
    working = t.busy_s + t.wrap_up_s
    return ratio(working, t.available_s + working)


def interval(t: Tally) -> dict[str, Any]:
    """A queue's or channel's numbers over one interval."""
    return {
        "offered": t.offered,
        "answered": t.answered,
        "answered_within_sl": t.answered_in_sl,
        "abandoned": t.abandoned,
        "short_abandoned": t.short_abandoned,
        "timed_out": t.timed_out,
        "transferred": t.transferred,
        "handled": t.handled,
        "service_level": service_level(t),
        "asa_s": ratio(t.answer_wait_s, t.answered),
        "aht_s": ratio(t.talk_s + t.wrap_s, t.handled),
        "avg_talk_s": ratio(t.talk_s, t.handled),
        "avg_wrap_s": ratio(t.wrap_s, t.handled),
        "avg_abandon_wait_s": ratio(t.abandon_wait_s, t.abandoned),
    }


def agent_interval(t: Tally) -> dict[str, Any]:
    """An agent's numbers over one interval."""
    return {
        "answered": t.answered,
        "handled": t.handled,
        "transferred": t.transferred,
        "aht_s": ratio(t.talk_s + t.wrap_s, t.handled),
        "talk_s": t.talk_s,
        "wrap_s": t.wrap_s,
        "available_s": t.available_s,
        "busy_s": t.busy_s,
        "wrap_up_s": t.wrap_up_s,
        "away_s": t.away_s,
        "occupancy": occupancy(t),
    }


def agent_tallies(model: MetricsModel, agent: AgentNow, now: float) -> tuple[Tally, Tally]:
    """(window, today) of an agent, with the time of the activity still running added up to ``now``."""
    key = ("agent", agent.agent_id)
    window, today = model.window(key, now), model.today(key, now)
    field_name = ACTIVITY_FIELDS.get(agent.activity)
    if field_name is not None:
        in_window, in_today = open_span_parts(agent.since, now, model.calendar)
        setattr(window, field_name, getattr(window, field_name) + in_window)
        setattr(today, field_name, getattr(today, field_name) + in_today)
    return window, today


def _agent_counts(agents: list[AgentNow]) -> dict[str, int]:
    counts = dict.fromkeys(AGENT_STATES, 0)
    for agent in agents:
        counts[agent.activity] = counts.get(agent.activity, 0) + 1
    return counts


def _now_part(model: MetricsModel, key: tuple[str, str], now: float) -> dict[str, Any]:
    index = model.index(key)
    oldest = index.oldest()
    return {
        "waiting": len(index.members),
        "offers_outstanding": index.offered,
        "oldest_entered_at": oldest,
        "longest_wait_s": None if oldest is None else max(0.0, now - oldest),
    }


def queue_rows(model: MetricsModel, now: float) -> list[dict[str, Any]]:
    rows = []
    for name, queue in model.queues.items():
        key = ("queue", name)
        members = [a for a in model.agents.values() if name in a.queues]
        rows.append({
            "queue": name,
            "service_level_threshold_s": queue.service_level_s,
            "service_level_target": queue.service_level_target,
            "alert_waiting_above": queue.alert_waiting_above,
            **_now_part(model, key, now),
            "agents": _agent_counts(members),
            "window": interval(model.window(key, now)),
            "today": interval(model.today(key, now)),
        })
    return rows


def channel_rows(model: MetricsModel, now: float) -> list[dict[str, Any]]:
    rows = []
    for channel in model.channels:
        key = ("channel", channel)
        members = [a for a in model.agents.values() if a.capacity.get(channel, 0) > 0]
        rows.append({
            "channel": channel,
            **_now_part(model, key, now),
            "agents": _agent_counts(members),
            "window": interval(model.window(key, now)),
            "today": interval(model.today(key, now)),
        })
    return rows


def agent_rows(model: MetricsModel, now: float) -> list[dict[str, Any]]:
    rows = []
    for agent_id in sorted(model.agents):
        agent = model.agents[agent_id]
        window, today = agent_tallies(model, agent, now)
        work = [model.interactions[i] for i in (*agent.offered, *agent.assigned, *agent.wrapping)
                if i in model.interactions]
        load: dict[str, int] = {}
        for ix in work:
            load[ix.channel] = load.get(ix.channel, 0) + 1
        rows.append({
            "agent_id": agent_id,
            "presence": agent.presence,
            "reason": agent.reason,
            "activity": agent.activity,
            "since": agent.since,
            "time_in_state_s": max(0.0, now - agent.since),
            "queues": sorted(agent.queues),
            "load": load,
            "interactions": [
                {"id": ix.interaction_id, "queue": ix.queue, "channel": ix.channel, "state": ix.state,
                 "since": ix.ended_at if ix.state == "wrap_up" else ix.answered_at or ix.entered_at}
                for ix in sorted(work, key=lambda ix: ix.interaction_id)
            ],
            "window": agent_interval(window),
            "today": agent_interval(today),
        })
    return rows


def waiting_rows(model: MetricsModel, now: float, per_queue: int = WAITING_LISTED) -> list[dict[str, Any]]:
    """The longest-waiting interactions of each queue (at most ``per_queue``), oldest first."""
    rows = []
    for name in model.queues:
        members = model.index(("queue", name)).members
        for iid, entered in heapq.nsmallest(per_queue, members.items(), key=lambda kv: (kv[1], kv[0])):
            ix = model.interactions[iid]
            rows.append({"id": iid, "queue": name, "channel": ix.channel, "state": ix.state, "agent": ix.agent,
                         "entered_at": entered, "arrived_at": ix.arrived_at, "waited_s": max(0.0, now - entered)})
    return rows
