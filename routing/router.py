"""The routing core's public face: ``Router.handle(event) -> list[Decision]``.

Sans-I/O: the router never reads a clock, sleeps or touches the network.  Time
arrives in ``event.at``; timeouts leave as deadlines (``next_deadline()``) that
the shell turns back into ``Tick`` events.  The same events in the same order
give the same decisions.

What the caller must do:

* Apply the returned decisions in order (persist first, then side effects).
* Sleep until ``next_deadline()`` and send ``Tick(at=that time)`` -- or don't:
  every ``handle`` first processes all deadlines ``<= event.at``, each at its
  own time, so a stream without ticks gives the same decisions, just later.
* Treat ``RoutingError`` as "your event is wrong for my state": nothing changed
  because of it.  Deadlines processed before the refusal keep their decisions;
  they come first in the next ``handle()`` result, and ``next_deadline()``
  answers "now" until then, so a shell that sleeps on it picks them up at once.

Time never runs backwards: an event stamped earlier than the latest time seen
is handled at the latest time.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from routing.config import CHANNELS, Channel, RoutingConfig
from routing.decisions import Assigned, Decision, Requeued, RequeueReason, RevokeOffer, RevokeReason, Transferred
from routing.engine import Engine
from routing.errors import ErrorCode, RoutingError
from routing.events import (
    AgentStateChanged,
    AgentUpdated,
    Event,
    InteractionAbandoned,
    InteractionArrived,
    InteractionEnded,
    InteractionRestored,
    InteractionTransferred,
    OfferAccepted,
    OfferRejected,
    Tick,
    WrapUpCompleted,
)
from routing.plan import QueuePlan
from routing.records import AgentRecord, InteractionRecord
from routing.state import (
    SET_PRESENCE,
    AgentState,
    InteractionInput,
    InteractionState,
    agent_next,
    interaction_next,
)
from routing.timers import TimerKind

_I = InteractionInput
_S = InteractionState


class Router(Engine):
    """Skill- and tier-based routing of interactions to agents; see the module docstring."""

    def __init__(self, config: RoutingConfig) -> None:
        super().__init__(config)
        self._pending: list[Decision] = []
        self._handlers: dict[type, Callable[[Any, list[Decision]], None]] = {
            AgentUpdated: self._on_agent_updated,
            AgentStateChanged: self._on_agent_state,
            InteractionArrived: self._on_arrived,
            InteractionRestored: self._on_restored,
            InteractionAbandoned: self._on_abandoned,
            InteractionTransferred: self._on_transferred,
            OfferAccepted: self._on_accepted,
            OfferRejected: self._on_rejected,
            InteractionEnded: self._on_ended,
            WrapUpCompleted: self._on_wrapup_completed,
            Tick: self._on_tick,
        }

    @property
    def config(self) -> RoutingConfig:
        return self._config

    @property
    def now(self) -> float:
        """The latest time the router has seen."""
        return self._now

    def handle(self, event: Event) -> list[Decision]:
        """Process deadlines up to ``event.at``, then the event; return what to do, in order."""
        handler = self._handlers.get(type(event))
        if handler is None:
            raise TypeError(f"not a routing event: {event!r}")
        # decisions held back from a refused event come first
        out, self._pending = self._pending, []
        self._advance(event.at, out)
        try:
            handler(event, out)
        except RoutingError:
            self._pending = out
            raise
        # deadlines the event itself put in the past (an old arrived_at or enqueued_at)
        self._advance(self._now, out)
        self._match(out)
        return out

    def next_deadline(self) -> float | None:
        """Earliest pending deadline (offer expiry, wrap-up end, escalation, ...), or None.

        "Now" while decisions held back from a refused event wait to be returned.
        """
        if self._pending:
            return self._now
        return self._peek_deadline()

    # ------------------------------------------------------------ lookups

    def _agent(self, agent_id: str) -> AgentRecord:
        a = self._agents.get(agent_id)
        if a is None:
            raise RoutingError(ErrorCode.UNKNOWN_AGENT, f"no agent {agent_id!r} (send AgentUpdated first)")
        return a

    def _interaction(self, interaction_id: str) -> InteractionRecord:
        ix = self._interactions.get(interaction_id)
        if ix is None:
            raise RoutingError(ErrorCode.UNKNOWN_INTERACTION, f"no interaction {interaction_id!r}")
        return ix

    def _queue(self, name: str, channel: Channel | None = None) -> QueuePlan:
        q = self._plan.queues.get(name)
        if q is None:
            raise RoutingError(ErrorCode.UNKNOWN_QUEUE, f"no queue {name!r}")
        if channel is not None and channel not in q.spec.channels:
            raise RoutingError(ErrorCode.BAD_CHANNEL, f"queue {name!r} does not take {channel.value}")
        return q

    def _new_interaction(self, event: InteractionArrived | InteractionRestored) -> InteractionRecord:
        if event.interaction_id in self._interactions:
            raise RoutingError(ErrorCode.DUPLICATE_INTERACTION, f"interaction {event.interaction_id!r} exists")
        self._queue(event.queue, event.channel)
        if event.tier not in self._config.tier_weights:
            raise RoutingError(ErrorCode.UNKNOWN_TIER, f"no tier {event.tier!r} in tier_weights")
        state = _S.QUEUED if isinstance(event, InteractionArrived) else _S.ASSIGNED
        priority = event.priority if isinstance(event, InteractionArrived) else 0.0
        ix = InteractionRecord(event.interaction_id, event.queue, event.channel, event.tier, priority,
                               event.arrived_at, self._seq, state)  # type: ignore[arg-type]
        self._set_priority(ix)
        return ix

    # ------------------------------------------------------------ handlers

    def _on_tick(self, event: Tick, out: list[Decision]) -> None:
        """Nothing beyond the deadlines ``handle`` already processed."""

    def _on_agent_updated(self, event: AgentUpdated, out: list[Decision]) -> None:
        a = self._agents.get(event.agent_id)
        if a is None:
            a = self._agents[event.agent_id] = AgentRecord(event.agent_id, self._now, self._config.voice_exclusive)
        capacity = {c: self._config.default_capacity.get(c, 0) for c in CHANNELS}
        if event.capacity is not None:
            capacity.update(event.capacity)
        a.skills = event.skills
        a.capacity = capacity
        a.total_capacity = sum(capacity.values())
        self._index_agent(a)
        self._touch(a)

    def _on_agent_state(self, event: AgentStateChanged, out: list[Decision]) -> None:
        a = self._agent(event.agent_id)
        new = agent_next(a.state, SET_PRESENCE[event.state], a.agent_id)
        old = a.state
        if new is old:
            return
        a.state = new
        if new is AgentState.AVAILABLE:
            a.idle_since = self._now
            a.missed = 0
        elif old is AgentState.AVAILABLE:
            self._revoke_all(a, out)
        if new is AgentState.OFFLINE:
            self._release_reservations(a, out)
        self._touch(a)

    def _on_arrived(self, event: InteractionArrived, out: list[Decision]) -> None:
        ix = self._new_interaction(event)
        if event.target_agent_id is not None:
            self._agent(event.target_agent_id)
        # -- validated; mutate from here on
        self._seq += 1
        ix.customer_id = event.customer_id
        ix.last_agent_id = event.last_agent_id
        ix.keep_waiting = event.keep_waiting
        ix.enqueued_at = event.enqueued_at  # type: ignore[assignment]  # set by the event's checks
        self._interactions[ix.interaction_id] = ix
        spec = self._plan.queues[ix.queue].spec
        target = None if event.target_agent_id is None else self._agents[event.target_agent_id]
        if target is not None and target.state is not AgentState.OFFLINE:
            # an offline agent holds no reservations: the interaction is open to all
            ix.reserved_for = target.agent_id
            ix.target = True
        elif target is None and event.last_agent_id is not None and spec.sticky_wait_s > 0:
            last = self._agents.get(event.last_agent_id)
            until = ix.arrived_at + spec.sticky_wait_s
            if last is not None and last.state is not AgentState.OFFLINE and until > self._now \
                    and self._eligible(last, ix):
                ix.reserved_for = last.agent_id
                ix.timers[TimerKind.STICKY] = self._timers.add(until, TimerKind.STICKY, ix.interaction_id)
        self._start_waiting(ix)
        self._enqueue(ix)

    def _on_restored(self, event: InteractionRestored, out: list[Decision]) -> None:
        ix = self._new_interaction(event)
        a = self._agent(event.agent_id)
        self._seq += 1
        self._interactions[ix.interaction_id] = ix
        ix.agent = a.agent_id
        # restoring the truth: the slot is taken even beyond capacity
        self._occupy(a, ix)
        self._touch(a)

    def _on_abandoned(self, event: InteractionAbandoned, out: list[Decision]) -> None:
        ix = self._interaction(event.interaction_id)
        interaction_next(ix.state, _I.ABANDON, ix.interaction_id)
        if ix.state is _S.OFFERED:
            out.append(RevokeOffer(ix.interaction_id, ix.agent, RevokeReason.ABANDONED))  # type: ignore[arg-type]
            self._withdraw(ix)
        self._close(ix)

    def _on_transferred(self, event: InteractionTransferred, out: list[Decision]) -> None:
        ix = self._interaction(event.interaction_id)
        interaction_next(ix.state, _I.TRANSFER, ix.interaction_id)
        queue = event.to_queue or ix.queue
        self._queue(queue, ix.channel)
        if event.to_agent is not None:
            self._agent(event.to_agent)
        # -- validated
        previous: str | None = None
        if ix.state is _S.OFFERED:
            out.append(RevokeOffer(ix.interaction_id, ix.agent, RevokeReason.TRANSFERRED))  # type: ignore[arg-type]
            self._withdraw(ix)
        elif ix.state is _S.ASSIGNED:
            previous = ix.agent
            self._release(self._agents[previous], ix, worked=True)  # type: ignore[index]
            ix.agent = None
        else:
            self._dequeue(ix)
        self._stop_waiting(ix)
        ix.queue = queue
        self._set_priority(ix)
        ix.state = _S.QUEUED
        ix.step = 0
        ix.enqueued_at = self._now
        ix.overdue = False
        ix.timers = {}
        ix.excluded = {}
        ix.reserved_for = None
        ix.target = False
        if previous is not None and previous != event.to_agent:
            # the agent who passed it on is not offered it straight back
            self._exclude(ix, previous)
        out.append(Transferred(ix.interaction_id, queue, event.to_agent))
        if event.to_agent is not None:
            target = self._agents[event.to_agent]
            if target.state is AgentState.OFFLINE or target.capacity.get(ix.channel, 0) <= 0:
                # an offline agent holds no reservations, and one with no capacity on the channel could
                # never take it (it would wait for them for ever): open to all, and say so
                out.append(Requeued(ix.interaction_id, queue, RequeueReason.AGENT_UNAVAILABLE))
            else:
                ix.reserved_for = event.to_agent
                ix.target = True
        self._start_waiting(ix)
        self._enqueue(ix)

    def _offered_to(self, interaction_id: str, agent_id: str) -> tuple[InteractionRecord, AgentRecord]:
        ix = self._interaction(interaction_id)
        a = self._agent(agent_id)
        if ix.state is not _S.OFFERED or ix.agent != agent_id:
            raise RoutingError(
                ErrorCode.NOT_OFFERED, f"interaction {interaction_id!r} is not offered to agent {agent_id!r}"
            )
        return ix, a

    def _on_accepted(self, event: OfferAccepted, out: list[Decision]) -> None:
        ix, a = self._offered_to(event.interaction_id, event.agent_id)
        ix.state = interaction_next(ix.state, _I.ACCEPT, ix.interaction_id)
        del a.offers[ix.interaction_id]
        self._offers -= 1
        a.missed = 0
        # offer expiry, escalation, max wait and reservations are all over
        ix.timers = {}
        ix.excluded = {}
        ix.overdue = False
        ix.offer_expires = None
        self._stop_waiting(ix)
        out.append(Assigned(ix.interaction_id, a.agent_id))

    def _on_rejected(self, event: OfferRejected, out: list[Decision]) -> None:
        ix, a = self._offered_to(event.interaction_id, event.agent_id)
        interaction_next(ix.state, _I.REJECT, ix.interaction_id)
        a.missed = 0
        self._fail_offer(ix, RequeueReason.REJECTED, out, exclude=True)

    def _on_ended(self, event: InteractionEnded, out: list[Decision]) -> None:
        ix = self._interaction(event.interaction_id)
        ix.state = interaction_next(ix.state, _I.END, ix.interaction_id)
        wrapup = self._config.wrapup_s.get(ix.channel, 0.0)
        if wrapup > 0:
            ix.timers[TimerKind.WRAP_UP] = self._timers.add(self._now + wrapup, TimerKind.WRAP_UP, ix.interaction_id)
        else:
            self._finish_wrapup(ix, out, announce=True)

    def _on_wrapup_completed(self, event: WrapUpCompleted, out: list[Decision]) -> None:
        ix = self._interaction(event.interaction_id)
        interaction_next(ix.state, _I.WRAP_DONE, ix.interaction_id)
        self._finish_wrapup(ix, out, announce=False)

    # ------------------------------------------------------------ queries

    def queue_position(self, interaction_id: str) -> int | None:
        """1-based rank among everything waiting (queued or offered) in its queue, by
        effective priority now; None if not waiting.  O(queue length): meant for a
        customer-facing "you are number N", not for the hot path."""
        ix = self._interactions.get(interaction_id)
        if ix is None or ix.state not in (_S.QUEUED, _S.OFFERED):
            return None
        mine = ix.rank(self._now)
        now = self._now
        return 1 + sum(1 for other in self._waiting[ix.queue].values() if other.rank(now) < mine)

    def waiting(self, queue: str) -> int:
        """Interactions waiting in ``queue`` (queued or offered, not yet assigned). O(1)."""
        self._queue(queue)
        return len(self._waiting[queue])

    def oldest_arrival(self, queue: str) -> float | None:
        """Earliest ``arrived_at`` among those waiting in ``queue``. Amortised O(log n)."""
        self._queue(queue)
        heap = self._oldest[queue]
        while heap and not self._is_waiting(queue, heap[0]):
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def agent_load(self, agent_id: str) -> Mapping[Channel, int]:
        """Slots in use per channel: offered + assigned + wrap-up.  Unknown agent: ``unknown_agent``."""
        return MappingProxyType(dict(self._agent(agent_id).load))

    def agent_state(self, agent_id: str) -> AgentState | None:
        """Presence, or None for an agent the router has not been told about."""
        a = self._agents.get(agent_id)
        return None if a is None else a.state

    def interaction_state(self, interaction_id: str) -> InteractionState | None:
        """Lifecycle state, or None once the router has forgotten (or never knew) it."""
        ix = self._interactions.get(interaction_id)
        return None if ix is None else ix.state

    def interaction_holder(self, interaction_id: str) -> tuple[InteractionState, str | None] | None:
        """(state, agent offered or holding it), or None once forgotten (or never known)."""
        ix = self._interactions.get(interaction_id)
        return None if ix is None else (ix.state, ix.agent)

    def offers_outstanding(self) -> int:
        return self._offers

    def snapshot(self) -> dict[str, Any]:
        """Everything that determines future decisions, as plain sorted data."""
        return {
            "now": self._now,
            "agents": {
                a.agent_id: {
                    "state": a.state.value,
                    "activity": a.activity,
                    "skills": dict(a.skills),
                    "capacity": {c.value: n for c, n in a.capacity.items()},
                    "load": {c.value: n for c, n in a.load.items()},
                    "offers": list(a.offers),
                    "holding": list(a.holding),
                    "reserved": sorted(a.reserved),
                    "missed": a.missed,
                    "idle_since": a.idle_since,
                }
                for a in sorted(self._agents.values(), key=lambda a: a.agent_id)
            },
            "interactions": {
                ix.interaction_id: {
                    "state": ix.state.value,
                    "queue": ix.queue,
                    "channel": ix.channel.value,
                    "tier": ix.tier,
                    "priority": ix.priority,
                    "arrived_at": ix.arrived_at,
                    "enqueued_at": ix.enqueued_at,
                    "seq": ix.seq,
                    "step": ix.step,
                    "agent": ix.agent,
                    "offer_expires": ix.offer_expires,
                    "reserved_for": ix.reserved_for,
                    "target": ix.target,
                    "excluded": sorted(ix.excluded),
                    "overdue": ix.overdue,
                    "timers": {str(k): v for k, v in sorted(ix.timers.items())},
                }
                for ix in sorted(self._interactions.values(), key=lambda ix: ix.interaction_id)
            },
            "waiting": {q: sorted(w) for q, w in self._waiting.items()},
            "offers_outstanding": self._offers,
            "pending_decisions": [repr(d) for d in self._pending],
            "next_deadline": self._peek_deadline(),
            "round_robin": dict(sorted(self._rr_pointer.items())),
            "next_seq": self._seq,
        }
