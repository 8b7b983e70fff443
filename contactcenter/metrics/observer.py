"""What the router did, told to the metrics model: routing events and decisions become metric facts.

``RoutingMetrics`` is a ``RouterService`` observer: the service calls it after
each committed batch with ``(at, event, decisions)``, and after every rebuild
with a ``Rebuilt`` carrying the restored router and the decisions the rebuild
made. Those decisions are counted first, against the state the model had
before the rebuild (the interaction a ``NoAgent`` closes is still waiting
there, as it is in the store the daily report replays); then the model's "now"
state is replaced by the router's. Replacing adds to no tally, so each decision
counts once. It does no I/O and must never raise into routing; it only reads
the router (``snapshot()``, once per rebuild).

Events are translated before their decisions. Decisions of deadlines the router
processed before the event may concern the same interaction; the model treats a
fact about an interaction it no longer holds (or an offer that is not
outstanding) as nothing, so the order cannot corrupt its counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping

import routing as r
from contactcenter.acd.service import Rebuilt
from contactcenter.config.schema import Queue as QueueSettings
from contactcenter.metrics.model import (
    DEFAULT_SERVICE_LEVEL_TARGET,
    MetricsModel,
    QueueTarget,
    RestoredAgent,
    RestoredInteraction,
)


def queue_targets(config: r.RoutingConfig, settings: Mapping[str, QueueSettings]) -> list[QueueTarget]:
    """The model's view of the configured queues.

    Who serves a queue (channels, skills) and its answer-time threshold come
    from the router's spec, so the metrics count what routing does. What the
    queue promises supervisors (its service-level goal, its waiting alert) is
    no business of the router's, so it is read from the queue's ``settings``
    (``Settings.queues``) and never passed through the routing config. A queue
    missing from ``settings`` (a routing config built by hand in tests) gets the
    defaults: the 80 % goal and no waiting alert.
    """
    targets: list[QueueTarget] = []
    for name, spec in config.queues.items():
        queue = settings.get(name)
        targets.append(QueueTarget(
            name, frozenset(c.value for c in spec.channels), dict(spec.skills), spec.service_level_s,
            queue.service_level_target if queue is not None else DEFAULT_SERVICE_LEVEL_TARGET,
            queue.alert_waiting_above if queue is not None else None,
        ))
    return targets


class RoutingMetrics:
    """Feeds ``model`` from the router service; ``on_change`` is called after every batch."""

    def __init__(self, model: MetricsModel, config: r.RoutingConfig,
                 on_change: Callable[[], None] = lambda: None) -> None:
        self.model = model
        self.default_capacity = {c.value: n for c, n in config.default_capacity.items()}
        self.on_change = on_change
        self.arrived: Counter[str] = Counter()  # new interactions routed, by channel, since start (monotonic)

    def __call__(self, at: float, event: object, decisions: list[object]) -> None:
        if isinstance(event, Rebuilt):
            self.decisions(at, decisions)
            self.restore(at, event.router)
        else:
            self.event(at, event)
            self.decisions(at, decisions)
        self.on_change()

    def event(self, at: float, event: object) -> None:
        m = self.model
        match event:
            case r.AgentUpdated(agent_id=agent_id, skills=skills, capacity=capacity):
                m.agent_profile(at, agent_id, skills, self._capacity(capacity))
            case r.AgentStateChanged(agent_id=agent_id, state=state, reason=reason):
                m.presence(at, agent_id, str(state), reason)
            case r.InteractionArrived(interaction_id=iid, queue=queue, channel=channel, arrived_at=arrived,
                                      enqueued_at=enqueued):
                self.arrived[str(channel)] += 1
                m.queued(at, iid, queue, str(channel), arrived, enqueued)
            case r.OfferRejected(interaction_id=iid, agent_id=agent_id):
                m.offer_ended(at, iid, agent_id)
            case r.InteractionAbandoned(interaction_id=iid):
                m.abandoned(at, iid)
            case r.InteractionEnded(interaction_id=iid):
                m.ended(at, iid)
            case r.WrapUpCompleted(interaction_id=iid):
                m.wrapup_ended(at, iid)
            case _:
                pass  # accepts and transfers count by their decisions; ticks are only time passing

    def decisions(self, at: float, decisions: Iterable[object]) -> None:
        m = self.model
        for decision in decisions:
            match decision:
                case r.Offer(interaction_id=iid, agent_id=agent_id):
                    m.offered(at, iid, agent_id)
                case r.RevokeOffer(interaction_id=iid, agent_id=agent_id):
                    m.offer_ended(at, iid, agent_id)
                case r.Assigned(interaction_id=iid, agent_id=agent_id):
                    m.answered(at, iid, agent_id)
                case r.Transferred(interaction_id=iid, to_queue=to_queue):
                    m.transferred(at, iid, to_queue)
                case r.NoAgent(interaction_id=iid):
                    m.timed_out(at, iid)
                case r.AgentForcedAway(agent_id=agent_id, reason=reason):
                    m.presence(at, agent_id, "away", reason)
                case r.WrapUpEnded(interaction_id=iid):
                    m.wrapup_ended(at, iid)
                case _:
                    pass  # Requeued follows a revoke or reject already counted; Escalated changes no number

    def restore(self, at: float, router: r.Router) -> None:
        """After a rebuild: the router's agents and open interactions are the truth.

        The router does not keep presence reasons; an agent whose presence is
        unchanged keeps the reason the model knew.
        """
        snapshot = router.snapshot()
        known = self.model.agents
        agents = [
            RestoredAgent(agent_id, a["state"],
                          known[agent_id].reason if agent_id in known and known[agent_id].presence == a["state"]
                          else None,
                          a["skills"], a["capacity"])
            for agent_id, a in snapshot["agents"].items()
        ]
        interactions = [
            RestoredInteraction(iid, ix["queue"], ix["channel"], ix["state"], ix["arrived_at"], ix["enqueued_at"],
                                ix["agent"])
            for iid, ix in snapshot["interactions"].items()
        ]
        self.model.restore(at, agents, interactions)

    def _capacity(self, capacity: Mapping[r.Channel, int] | None) -> dict[str, int]:
        """The router's rule: channels the agent's profile omits take the configured default."""
        full = dict(self.default_capacity)
        full.update({str(c): int(n) for c, n in (capacity or {}).items()})
        return full
