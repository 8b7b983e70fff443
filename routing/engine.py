"""Router internals: the indexes and the moves every event handler is built from.

Nothing here validates an event; ``router.py`` checks legality first and only
then calls these, so a refused event never leaves half a change behind.  The
moves keep the indexes consistent (buckets, pools, timers, waiting lists) and
mark what changed as *dirty* for the matching pass in ``matching.py``.
"""

from __future__ import annotations

import heapq

from routing.config import CHANNELS, Channel, RoutingConfig, Strategy
from routing.decisions import (
    AgentForcedAway,
    Escalated,
    NoAgent,
    Offer,
    Requeued,
    RequeueReason,
    RevokeOffer,
    RevokeReason,
    WrapUpEnded,
)
from routing.matching import Matcher
from routing.plan import Plan, QueuePlan
from routing.pools import HeapPool, Pool, RoundRobinPool
from routing.records import AgentRecord, InteractionRecord
from routing.state import AgentInput, AgentState, InteractionState, agent_next
from routing.timers import TimerKind, Timers
from routing.waiting import Bucket

_QUEUED = InteractionState.QUEUED
_OFFERED = InteractionState.OFFERED
_AVAILABLE = AgentState.AVAILABLE


class Engine(Matcher):
    """State and mechanics shared by the event handlers and the queries."""

    def __init__(self, config: RoutingConfig) -> None:
        if not isinstance(config, RoutingConfig):
            raise TypeError(f"config must be a RoutingConfig, got {type(config).__name__}")
        self._config = config
        self._plan = Plan(config)
        self._now = 0.0
        self._agents: dict[str, AgentRecord] = {}
        self._interactions: dict[str, InteractionRecord] = {}
        self._timers = Timers()
        self._seq = 0
        self._token = 0
        self._offers = 0
        self._dirty_agents: dict[str, AgentRecord] = {}
        self._dirty_ix: dict[str, InteractionRecord] = {}
        # per queue: everything waiting (queued or offered), for the queries
        self._waiting: dict[str, dict[str, InteractionRecord]] = {q: {} for q in self._plan.queues}
        self._oldest: dict[str, list[tuple[float, int, str]]] = {q: [] for q in self._plan.queues}
        self._rr_pointer: dict[str, str] = {}
        self._buckets: dict[tuple[str, int, Channel], Bucket] = {}
        self._pools_for: dict[tuple[str, int, Channel], list[Pool]] = {}
        self._pools_by_req: dict[int, list[Pool]] = {}
        self._steps_by_req: dict[int, list[tuple[QueuePlan, int]]] = {}
        self._build_indexes()

    def _build_indexes(self) -> None:
        pools: dict[tuple[int, Channel, str], Pool] = {}
        for q in self._plan.queues.values():
            for step, reqs in enumerate(q.step_reqs):
                for rid in reqs:
                    self._steps_by_req.setdefault(rid, []).append((q, step))
                for channel in q.channels:
                    self._buckets[(q.name, step, channel)] = Bucket(q.name, step, channel, q.rate)
                    found: list[Pool] = []
                    for rid in reqs:
                        key = (rid, channel, q.pool_kind)
                        pool = pools.get(key)
                        if pool is None:
                            if q.spec.strategy is Strategy.ROUND_ROBIN:
                                pool = RoundRobinPool(rid, channel)
                            else:
                                pool = HeapPool(rid, channel, q.pool_kind)
                            pools[key] = pool
                            self._pools_by_req.setdefault(rid, []).append(pool)
                        found.append(pool)
                    self._pools_for[(q.name, step, channel)] = found

    # ------------------------------------------------------------------ agents

    def _index_agent(self, a: AgentRecord) -> None:
        """Recompute what ``a`` is eligible for after a profile change."""
        a.reqs = self._plan.reqs_met(a.skills)
        steps: dict[tuple[int, int], tuple[QueuePlan, int]] = {}
        for rid in sorted(a.reqs):
            for q, step in self._steps_by_req.get(rid, ()):
                steps[(q.index, step)] = (q, step)
        buckets: dict[Channel, list[Bucket]] = {c: [] for c in CHANNELS}
        for _, (q, step) in sorted(steps.items()):
            for channel in q.channels:
                buckets[channel].append(self._buckets[(q.name, step, channel)])
        a.buckets = buckets
        pools: dict[Channel, list[Pool]] = {c: [] for c in CHANNELS}
        for rid in sorted(a.reqs):
            for pool in self._pools_by_req.get(rid, ()):
                pools[pool.channel].append(pool)
        a.pools = pools
        a.skill_sums = {
            q.name: sum(a.skills.get(s, 0) for s in q.spec.skills)
            for q in self._plan.queues.values()
            if q.spec.strategy is Strategy.MOST_SKILLED
        }

    def _touch(self, a: AgentRecord) -> None:
        """Something about ``a`` changed: stale its pool entries and re-match it."""
        a.stamp += 1
        self._dirty_agents[a.agent_id] = a

    def _reindex(self, a: AgentRecord) -> None:
        """Push ``a`` into the pools of every channel it has a free slot on."""
        a.stamp += 1
        for channel in CHANNELS:
            if a.can_take(channel):
                for pool in a.pools[channel]:
                    pool.push(a)

    def _occupy(self, a: AgentRecord, ix: InteractionRecord) -> None:
        a.load[ix.channel] += 1
        a.total_load += 1
        a.holding[ix.interaction_id] = None
        a.stamp += 1

    def _release(self, a: AgentRecord, ix: InteractionRecord, *, worked: bool) -> None:
        """Free the slot ``ix`` held; ``worked`` (it was assigned) restarts the idle clock."""
        a.load[ix.channel] -= 1
        a.total_load -= 1
        del a.holding[ix.interaction_id]
        if worked:
            a.idle_since = self._now
        self._touch(a)

    def _eligible(self, a: AgentRecord, ix: InteractionRecord) -> bool:
        reqs = a.reqs
        return any(rid in reqs for rid in self._plan.queues[ix.queue].step_reqs[ix.step])

    # ------------------------------------------------------------ interactions

    def _enqueue(self, ix: InteractionRecord) -> None:
        """Put a QUEUED interaction where matching can see it."""
        if ix.reserved_for is not None:
            self._agents[ix.reserved_for].reserved[ix.interaction_id] = None
        else:
            self._token += 1
            self._buckets[(ix.queue, ix.step, ix.channel)].push(ix, self._token)
        self._dirty_ix[ix.interaction_id] = ix

    def _dequeue(self, ix: InteractionRecord) -> None:
        if ix.bucket is not None:
            ix.bucket.discard(ix)
        if ix.reserved_for is not None:
            self._agents[ix.reserved_for].reserved.pop(ix.interaction_id, None)

    def _set_priority(self, ix: InteractionRecord) -> None:
        q = self._plan.queues[ix.queue]
        base = self._plan.base_priority(q, ix.tier, ix.priority)
        ix.rate = q.rate
        ix.key = base - q.rate * ix.arrived_at

    def _start_waiting(self, ix: InteractionRecord) -> None:
        """Enter ix.queue: query membership plus the escalation and max-wait clocks."""
        self._waiting[ix.queue][ix.interaction_id] = ix
        oldest = self._oldest[ix.queue]
        heapq.heappush(oldest, (ix.arrived_at, ix.seq, ix.interaction_id))
        if len(oldest) > 64 and len(oldest) > 3 * len(self._waiting[ix.queue]):
            self._oldest[ix.queue] = [e for e in oldest if self._is_waiting(ix.queue, e)]
            heapq.heapify(self._oldest[ix.queue])
        spec = self._plan.queues[ix.queue].spec
        if spec.escalation:
            ix.timers[TimerKind.ESCALATE] = self._timers.add(
                ix.enqueued_at + spec.escalation[0].after_s, TimerKind.ESCALATE, ix.interaction_id
            )
        if spec.max_wait_s is not None and not ix.keep_waiting:
            ix.timers[TimerKind.MAX_WAIT] = self._timers.add(
                ix.enqueued_at + spec.max_wait_s, TimerKind.MAX_WAIT, ix.interaction_id
            )

    def _is_waiting(self, queue: str, entry: tuple[float, int, str]) -> bool:
        ix = self._waiting[queue].get(entry[2])
        return ix is not None and ix.seq == entry[1]

    def _stop_waiting(self, ix: InteractionRecord) -> None:
        self._waiting[ix.queue].pop(ix.interaction_id, None)

    def _close(self, ix: InteractionRecord) -> None:
        """Forget ``ix``: its timers and heap entries all go stale."""
        self._dequeue(ix)
        self._stop_waiting(ix)
        self._dirty_ix.pop(ix.interaction_id, None)
        del self._interactions[ix.interaction_id]
        ix.state = InteractionState.CLOSED
        ix.timers = {}
        ix.excluded = {}

    def _exclude(self, ix: InteractionRecord, agent_id: str) -> None:
        deadline = self._now + self._config.reject_cooldown_s
        ix.excluded[agent_id] = self._timers.add(deadline, TimerKind.COOLDOWN, ix.interaction_id, agent_id)

    # ------------------------------------------------------------------ offers

    def _offer(self, ix: InteractionRecord, a: AgentRecord, out: list) -> None:
        self._dequeue(ix)
        ix.reserved_for = None
        ix.target = False
        ix.state = _OFFERED
        ix.agent = a.agent_id
        # offered to someone: earlier rejecters may be offered it again later
        ix.excluded = {}
        expires = self._now + self._config.offer_timeout_s[ix.channel]
        ix.offer_expires = expires
        ix.timers[TimerKind.OFFER] = self._timers.add(expires, TimerKind.OFFER, ix.interaction_id)
        a.offers[ix.interaction_id] = None
        self._occupy(a, ix)
        self._offers += 1
        self._rr_pointer[ix.queue] = a.agent_id
        out.append(Offer(ix.interaction_id, a.agent_id, expires, ix.queue, ix.channel, self._now - ix.arrived_at))

    def _withdraw(self, ix: InteractionRecord) -> AgentRecord:
        """Undo the bookkeeping of ix's outstanding offer; returns the agent."""
        a = self._agents[ix.agent]  # type: ignore[index]
        del a.offers[ix.interaction_id]
        self._offers -= 1
        self._release(a, ix, worked=False)
        ix.timers.pop(TimerKind.OFFER, None)
        ix.agent = None
        ix.offer_expires = None
        return a

    def _fail_offer(self, ix: InteractionRecord, reason: RequeueReason, out: list, *, exclude: bool) -> None:
        """The offer did not turn into an assignment: back to the queue (or NoAgent if overdue)."""
        a = self._withdraw(ix)
        ix.state = _QUEUED
        if exclude:
            self._exclude(ix, a.agent_id)
        if ix.overdue:
            self._no_agent(ix, out)
        else:
            out.append(Requeued(ix.interaction_id, ix.queue, reason))
            self._enqueue(ix)

    def _no_agent(self, ix: InteractionRecord, out: list) -> None:
        action = self._plan.queues[ix.queue].spec.no_agent_action
        out.append(NoAgent(ix.interaction_id, ix.queue, action, self._now - ix.arrived_at))
        self._close(ix)

    def _revoke_all(self, a: AgentRecord, out: list) -> None:
        for iid in list(a.offers):
            ix = self._interactions[iid]
            out.append(RevokeOffer(iid, a.agent_id, RevokeReason.AGENT_UNAVAILABLE))
            self._fail_offer(ix, RequeueReason.AGENT_UNAVAILABLE, out, exclude=False)

    def _release_reservations(self, a: AgentRecord, out: list) -> None:
        """The agent went offline: what waited for them is open to everyone."""
        for iid in list(a.reserved):
            ix = self._interactions[iid]
            self._dequeue(ix)
            was_target = ix.target
            ix.reserved_for = None
            ix.target = False
            if was_target:
                out.append(Requeued(iid, ix.queue, RequeueReason.AGENT_UNAVAILABLE))
            self._enqueue(ix)

    def _finish_wrapup(self, ix: InteractionRecord, out: list, *, announce: bool) -> None:
        a = self._agents[ix.agent]  # type: ignore[index]
        if announce:
            out.append(WrapUpEnded(ix.interaction_id, a.agent_id))
        self._release(a, ix, worked=True)
        self._close(ix)

    # ------------------------------------------------------------------ timers

    def _timer_live(self, timer: tuple[float, int, TimerKind, str, str | None]) -> bool:
        ix = self._interactions.get(timer[3])
        if ix is None:
            return False
        if timer[2] is TimerKind.COOLDOWN:
            return ix.excluded.get(timer[4]) == timer[1]  # type: ignore[arg-type]
        return ix.timers.get(timer[2]) == timer[1]

    def _peek_deadline(self) -> float | None:
        heap = self._timers.heap
        while heap:
            if self._timer_live(heap[0]):
                return heap[0][0]
            heapq.heappop(heap)
        return None

    def _advance(self, until: float, out: list) -> None:
        """Fire every deadline <= ``until`` at its own time, matching after each instant.

        This makes feeding events without ticks equivalent to ticking at every
        deadline: offers made at a deadline expire relative to that deadline.
        """
        heap = self._timers.heap
        while True:
            deadline = self._peek_deadline()
            if deadline is None or deadline > until:
                break
            if deadline > self._now:
                self._now = deadline
            while heap and heap[0][0] <= self._now:
                timer = heapq.heappop(heap)
                if self._timer_live(timer):
                    self._fire(timer[2], self._interactions[timer[3]], timer[4], out)
            self._match(out)
        if until > self._now:
            self._now = until

    def _fire(self, kind: TimerKind, ix: InteractionRecord, agent_id: str | None, out: list) -> None:
        if kind is TimerKind.COOLDOWN:
            del ix.excluded[agent_id]  # type: ignore[arg-type]
            if ix.state is _QUEUED:
                self._dirty_ix[ix.interaction_id] = ix
            return
        del ix.timers[kind]
        if kind is TimerKind.OFFER:
            self._expire_offer(ix, out)
        elif kind is TimerKind.WRAP_UP:
            self._finish_wrapup(ix, out, announce=True)
        elif kind is TimerKind.ESCALATE:
            self._escalate(ix, out)
        elif kind is TimerKind.STICKY:
            if ix.reserved_for is not None and not ix.target:
                self._dequeue(ix)
                ix.reserved_for = None
                self._enqueue(ix)
        elif kind is TimerKind.MAX_WAIT:
            if ix.state is _QUEUED:
                self._no_agent(ix, out)
            else:
                ix.overdue = True

    def _expire_offer(self, ix: InteractionRecord, out: list) -> None:
        a = self._agents[ix.agent]  # type: ignore[index]
        out.append(RevokeOffer(ix.interaction_id, a.agent_id, RevokeReason.EXPIRED))
        self._fail_offer(ix, RequeueReason.EXPIRED, out, exclude=True)
        a.missed += 1
        limit = self._config.max_missed_offers
        if limit and a.missed >= limit and a.state is _AVAILABLE:
            a.state = agent_next(a.state, AgentInput.MISSED_OFFERS, a.agent_id)
            a.missed = 0
            out.append(AgentForcedAway(a.agent_id))
            self._revoke_all(a, out)
            self._touch(a)

    def _escalate(self, ix: InteractionRecord, out: list) -> None:
        q = self._plan.queues[ix.queue]
        ix.step += 1
        out.append(Escalated(ix.interaction_id, ix.queue, ix.step))
        if ix.state is _QUEUED:
            self._dequeue(ix)
            self._enqueue(ix)
        if ix.step < len(q.spec.escalation):
            ix.timers[TimerKind.ESCALATE] = self._timers.add(
                ix.enqueued_at + q.spec.escalation[ix.step].after_s, TimerKind.ESCALATE, ix.interaction_id
            )
