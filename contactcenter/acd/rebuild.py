"""Rebuild the router's memory from the store (at start-up and after a failed commit).

Agents come back with their profiles and stored presence; open interactions
come back in arrival order with their original arrival times: queued and
offered ones re-enter the queue (an offer outstanding at a crash is void, and
recorded as revoked), assigned ones stay with their agents, and ones in wrap-up
restart their wrap-up timer.

A waiting interaction that was transferred or moved re-enters its queue with
the time it entered it (``enqueued_at``): the time of its latest ``transfer``
touchpoint. ``cc_route_apply`` writes one for every transfer and move, and only
those set the queue column, so the latest one is the move into the queue it is
in now (a transfer to a named agent keeps the queue but restarts its clocks,
as the router does live). Without it the queue's escalation and max wait, and
the live metrics' wait, would count from the first arrival. The daily report
replays that same touchpoint as the start of the interaction's wait there.
"""

from __future__ import annotations

import logging

import routing as r
from contactcenter.acd.effects import Effects
from contactcenter.model import KEEP_WAITING, STANDARD_TIER, InteractionState, TouchpointKind
from contactcenter.store import Tx
from contactcenter.store.records import Agent

log = logging.getLogger(__name__)


def agent_updated(agent: Agent, at: float) -> r.AgentUpdated:
    """The routing event that tells the router ``agent``'s stored skills and capacity."""
    capacity = {r.Channel(k): int(v) for k, v in agent.capacity.items() if k in r.Channel.__members__.values()}
    return r.AgentUpdated(at=at, agent_id=str(agent.id), skills={k: int(v) for k, v in agent.skills.items()},
                          capacity=capacity or None)


async def rebuild_events(tx: Tx, config: r.RoutingConfig, at: float, effects: Effects) -> list[object]:
    """The events that bring a new router to the state the store describes.

    Offers void at the crash are revoked through ``effects`` (written, and
    their agents told, when the caller applies it).
    """
    events: list[object] = []
    for agent in await tx.agents.all():
        if agent.disabled:
            continue
        events.append(agent_updated(agent, at))
        if agent.state != "offline":
            events.append(r.AgentStateChanged(at=at, agent_id=str(agent.id), state=r.AgentState(agent.state),
                                              reason=agent.state_reason))
    # one statement for every open interaction; the latest transfer is an index lookup
    # (touchpoints_interaction: interaction_id, id) per waiting one
    rows = await tx.conn.fetch(
        """SELECT i.id, i.queue, i.channel, i.state, i.priority, i.agent_id, i.customer_id, c.tier,
                  extract(epoch FROM i.arrived_at) AS arrived,
                  extract(epoch FROM moved.created_at) AS moved,
                  coalesce((i.attributes->>$1)::boolean, false) AS keep_waiting
           FROM interactions i JOIN customers c ON c.id = i.customer_id
           LEFT JOIN LATERAL (
                SELECT t.created_at FROM touchpoints t
                 WHERE t.interaction_id = i.id AND t.kind = $2 AND i.state IN ('queued', 'offered')
                 ORDER BY t.id DESC LIMIT 1) moved ON true
           WHERE i.state IN ('queued', 'offered', 'assigned', 'wrap_up')
           ORDER BY i.arrived_at, i.id""", KEEP_WAITING, str(TouchpointKind.TRANSFER),
    )
    for row in rows:
        iid = str(row["id"])
        if row["queue"] not in config.queues:
            log.error("interaction %s is in unknown queue %r; left as it is", iid, row["queue"])
            continue
        tier = row["tier"] if row["tier"] in config.tier_weights else STANDARD_TIER
        arrived = min(float(row["arrived"]), at)
        channel = r.Channel(row["channel"])
        if row["state"] in (InteractionState.ASSIGNED, InteractionState.WRAP_UP) and row["agent_id"] is not None:
            events.append(r.InteractionRestored(at=at, interaction_id=iid, queue=row["queue"], channel=channel,
                                                agent_id=str(row["agent_id"]), tier=tier, arrived_at=arrived))
            if row["state"] == InteractionState.WRAP_UP:
                events.append(r.InteractionEnded(at=at, interaction_id=iid))
            continue
        if row["state"] == InteractionState.OFFERED:
            effects.revoke_offer(iid, None if row["agent_id"] is None else str(row["agent_id"]), "restart")
        # within [arrived, at]: the store's clock and ours may disagree by a little
        enqueued = arrived if row["moved"] is None else min(max(float(row["moved"]), arrived), at)
        events.append(r.InteractionArrived(at=at, interaction_id=iid, queue=row["queue"], channel=channel, tier=tier,
                                           priority=float(row["priority"]), arrived_at=arrived,
                                           customer_id=str(row["customer_id"]), keep_waiting=row["keep_waiting"],
                                           enqueued_at=enqueued))
    return events
