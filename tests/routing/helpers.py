"""Scenario harness for the routing core: build a config, push events, assert exactly what comes out.

Tests read as a timeline::

    s = Scenario(config(queue("sales", skills={"sales": 3})))
    s.agent("ann", {"sales": 5})
    assert s.arrive("i1", "sales", at=10) == [s.offer("i1", "ann")]

Decision builders (``s.offer`` ...) fill in what the router must have used --
expiry from the configured timeout, waited time from the recorded arrival -- so
every assertion compares complete decisions, not just their ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from routing import (
    AgentForcedAway,
    AgentStateChanged,
    AgentUpdated,
    Assigned,
    Channel,
    Decision,
    Escalated,
    EscalationStep,
    Event,
    InteractionAbandoned,
    InteractionArrived,
    InteractionEnded,
    InteractionRestored,
    InteractionTransferred,
    NoAgent,
    Offer,
    OfferAccepted,
    OfferRejected,
    QueueSpec,
    Requeued,
    RevokeOffer,
    Router,
    RoutingConfig,
    Tick,
    Transferred,
    WrapUpCompleted,
    WrapUpEnded,
)

ALL_CHANNELS = frozenset(Channel)
TIMEOUTS = {Channel.VOICE: 20.0, Channel.CHAT: 30.0, Channel.SMS: 60.0, Channel.EMAIL: 120.0}
NO_WRAPUP = dict.fromkeys(Channel, 0.0)


def queue(name: str, *, channels: Iterable[str] = ALL_CHANNELS, skills: Mapping[str, int] | None = None,
          escalation: Iterable[EscalationStep] = (), **kw: Any) -> QueueSpec:
    return QueueSpec(name, frozenset(channels), dict(skills or {}), escalation=tuple(escalation), **kw)


def config(*queues: QueueSpec, **kw: Any) -> RoutingConfig:
    """A config with deterministic defaults: no wrap-up unless asked, known timeouts."""
    kw.setdefault("offer_timeout_s", TIMEOUTS)
    kw.setdefault("wrapup_s", NO_WRAPUP)
    return RoutingConfig({q.name: q for q in queues}, **kw)


class Scenario:
    """A router plus a clock and the arrival facts needed to build expected decisions."""

    def __init__(self, cfg: RoutingConfig) -> None:
        self.config = cfg
        self.router = Router(cfg)
        self.now = 0.0
        self.log: list[tuple[Event, list[Decision]]] = []
        self._arrivals: dict[str, tuple[str, Channel, float]] = {}

    # -- events
    def send(self, event: Event) -> list[Decision]:
        self.now = max(self.now, event.at)
        out = self.router.handle(event)
        self.log.append((event, out))
        return out

    def _at(self, at: float | None) -> float:
        return self.now if at is None else at

    def agent(self, agent_id: str, skills: Mapping[str, int] | None = None, *, at: float | None = None,
              capacity: Mapping[str, int] | None = None, state: str | None = "available") -> list[Decision]:
        """Register (or update) an agent and, by default, make them available."""
        out = self.send(AgentUpdated(self._at(at), agent_id, dict(skills or {}), capacity))
        if state is not None:
            out += self.send(AgentStateChanged(self._at(at), agent_id, state))
        return out

    def presence(self, agent_id: str, state: str, *, at: float | None = None) -> list[Decision]:
        return self.send(AgentStateChanged(self._at(at), agent_id, state))

    def arrive(self, interaction_id: str, queue: str, channel: str = "chat", *, at: float | None = None,
               **kw: Any) -> list[Decision]:
        event = InteractionArrived(self._at(at), interaction_id, queue, channel, **kw)
        self._arrivals[interaction_id] = (queue, event.channel, event.arrived_at)  # type: ignore[assignment]
        return self.send(event)

    def restore(self, interaction_id: str, queue: str, channel: str, agent_id: str, *, at: float | None = None,
                **kw: Any) -> list[Decision]:
        event = InteractionRestored(self._at(at), interaction_id, queue, channel, agent_id, **kw)
        self._arrivals[interaction_id] = (queue, event.channel, event.arrived_at)  # type: ignore[assignment]
        return self.send(event)

    def accept(self, interaction_id: str, agent_id: str, *, at: float | None = None) -> list[Decision]:
        return self.send(OfferAccepted(self._at(at), interaction_id, agent_id))

    def reject(self, interaction_id: str, agent_id: str, *, at: float | None = None) -> list[Decision]:
        return self.send(OfferRejected(self._at(at), interaction_id, agent_id))

    def end(self, interaction_id: str, *, at: float | None = None) -> list[Decision]:
        return self.send(InteractionEnded(self._at(at), interaction_id))

    def wrapped(self, interaction_id: str, *, at: float | None = None) -> list[Decision]:
        return self.send(WrapUpCompleted(self._at(at), interaction_id))

    def abandon(self, interaction_id: str, *, at: float | None = None) -> list[Decision]:
        return self.send(InteractionAbandoned(self._at(at), interaction_id))

    def transfer(self, interaction_id: str, *, at: float | None = None, to_queue: str | None = None,
                 to_agent: str | None = None) -> list[Decision]:
        out = self.send(InteractionTransferred(self._at(at), interaction_id, to_queue, to_agent))
        if to_queue is not None:
            _, channel, arrived = self._arrivals[interaction_id]
            self._arrivals[interaction_id] = (to_queue, channel, arrived)
        return out

    def tick(self, at: float) -> list[Decision]:
        return self.send(Tick(at))

    def take(self, interaction_id: str, agent_id: str, *, at: float | None = None) -> None:
        """Arrive-free shortcut: accept an outstanding offer and assert it was assigned."""
        assert self.accept(interaction_id, agent_id, at=at) == [Assigned(interaction_id, agent_id)]

    # -- expected decisions, computed as of ``at`` (default: now)
    def offer(self, interaction_id: str, agent_id: str, *, at: float | None = None) -> Offer:
        queue, channel, arrived = self._arrivals[interaction_id]
        t = self._at(at)
        return Offer(interaction_id, agent_id, t + self.config.offer_timeout_s[channel], queue, channel, t - arrived)

    def revoke(self, interaction_id: str, agent_id: str, reason: str) -> RevokeOffer:
        return RevokeOffer(interaction_id, agent_id, reason)  # type: ignore[arg-type]

    def requeued(self, interaction_id: str, reason: str) -> Requeued:
        return Requeued(interaction_id, self._arrivals[interaction_id][0], reason)  # type: ignore[arg-type]

    def escalated(self, interaction_id: str, step: int) -> Escalated:
        return Escalated(interaction_id, self._arrivals[interaction_id][0], step)

    def no_agent(self, interaction_id: str, *, at: float | None = None) -> NoAgent:
        queue, _, arrived = self._arrivals[interaction_id]
        action = self.config.queues[queue].no_agent_action
        return NoAgent(interaction_id, queue, action, self._at(at) - arrived)

    def transferred(self, interaction_id: str, to_queue: str | None = None,
                    to_agent: str | None = None) -> Transferred:
        return Transferred(interaction_id, to_queue or self._arrivals[interaction_id][0], to_agent)

    @staticmethod
    def assigned(interaction_id: str, agent_id: str) -> Assigned:
        return Assigned(interaction_id, agent_id)

    @staticmethod
    def wrap_ended(interaction_id: str, agent_id: str) -> WrapUpEnded:
        return WrapUpEnded(interaction_id, agent_id)

    @staticmethod
    def forced_away(agent_id: str) -> AgentForcedAway:
        return AgentForcedAway(agent_id)


def offered_ids(decisions: Iterable[Decision]) -> list[tuple[str, str]]:
    """(interaction, agent) of every Offer, in order: for tests about *who*, not *when*."""
    return [(d.interaction_id, d.agent_id) for d in decisions if isinstance(d, Offer)]
