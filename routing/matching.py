"""Matching: "keep offering until no eligible (agent, interaction) pair remains".

Incremental.  The invariant after every ``_match`` is: no free agent may take
any queued interaction.  So only what changed since can form a new pair:

1. *dirty agents* (a slot freed, presence or profile changed), longest idle
   first: each takes the best interaction in the buckets it is eligible for,
   repeatedly, until it is full or nothing fits;
2. *dirty interactions* (arrived, requeued, escalated, reservation or exclusion
   ended), highest effective priority first: each goes to the best free agent in
   the pools of its step's requirements, ranked by the queue's strategy.

Phase 1 sees the dirty interactions already in their buckets, so an agent always
gets the best it can take; in phase 2 no free agent can take anything older
(phase 1 or the invariant ruled that out), so the dirty interaction offered to
it is again the best it can take.  Cost per event: the heads of the buckets one
agent is eligible for, or the heads of the pools one interaction's step uses --
never a scan of all agents or all waiting interactions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from routing.config import CHANNELS, Strategy
from routing.records import AgentRecord, InteractionRecord
from routing.state import AgentState, InteractionState

if TYPE_CHECKING:
    from routing.config import Channel
    from routing.plan import Plan
    from routing.pools import Pool

_QUEUED = InteractionState.QUEUED
_AVAILABLE = AgentState.AVAILABLE


def _by_idle(a: AgentRecord) -> tuple[float, str]:
    return (a.idle_since, a.agent_id)


class Matcher:
    """The matching pass; mixed into ``Engine``, whose state it reads."""

    if TYPE_CHECKING:
        _now: float
        _plan: Plan
        _agents: dict[str, AgentRecord]
        _interactions: dict[str, InteractionRecord]
        _dirty_agents: dict[str, AgentRecord]
        _dirty_ix: dict[str, InteractionRecord]
        _pools_for: dict[tuple[str, int, Channel], list[Pool]]
        _rr_pointer: dict[str, str]

        def _offer(self, ix: InteractionRecord, a: AgentRecord, out: list) -> None: ...
        def _reindex(self, a: AgentRecord) -> None: ...
        def _eligible(self, a: AgentRecord, ix: InteractionRecord) -> bool: ...

    def _match(self, out: list) -> None:
        while self._dirty_agents or self._dirty_ix:
            agents = list(self._dirty_agents.values())
            self._dirty_agents = {}
            if len(agents) > 1:
                agents.sort(key=_by_idle)
            for a in agents:
                while (ix := self._best_for_agent(a)) is not None:
                    self._offer(ix, a, out)
                self._reindex(a)
            if not self._dirty_ix:
                continue
            now = self._now
            waiting = [ix for ix in self._dirty_ix.values() if ix.state is _QUEUED]
            self._dirty_ix = {}
            if len(waiting) > 1:
                waiting.sort(key=lambda ix: ix.rank(now))
            for ix in waiting:
                agent = self._best_agent_for(ix)
                if agent is not None:
                    self._offer(ix, agent, out)
                    self._reindex(agent)

    def _best_for_agent(self, a: AgentRecord) -> InteractionRecord | None:
        """Highest effective priority (then FIFO) interaction ``a`` may take now."""
        if a.state is not _AVAILABLE:
            return None
        now = self._now
        aid = a.agent_id
        best: InteractionRecord | None = None
        best_eff = 0.0
        for channel in CHANNELS:
            if not a.can_take(channel):
                continue
            for bucket in a.buckets[channel]:
                heap = bucket.heap
                if not heap:
                    continue
                entry = heap[0]
                ix = entry[4]
                if ix.token != entry[3] or (ix.excluded and aid in ix.excluded):
                    ix = bucket.head_for(aid)
                    if ix is None:
                        continue
                eff = ix.key + bucket.rate * now
                if (best is None or eff > best_eff
                        or (eff == best_eff and (ix.arrived_at, ix.seq) < (best.arrived_at, best.seq))):
                    best, best_eff = ix, eff
        for iid in a.reserved:
            ix = self._interactions[iid]
            if not a.can_take(ix.channel) or aid in ix.excluded:
                continue
            if not ix.target and not self._eligible(a, ix):
                continue
            eff = ix.key + ix.rate * now
            if (best is None or eff > best_eff
                    or (eff == best_eff and (ix.arrived_at, ix.seq) < (best.arrived_at, best.seq))):
                best, best_eff = ix, eff
        return best

    def _best_agent_for(self, ix: InteractionRecord) -> AgentRecord | None:
        """The free agent ``ix``'s queue strategy prefers, or None."""
        channel = ix.channel
        if ix.reserved_for is not None:
            a = self._agents[ix.reserved_for]
            if a.can_take(channel) and a.agent_id not in ix.excluded and (ix.target or self._eligible(a, ix)):
                return a
            return None
        pools = self._pools_for[(ix.queue, ix.step, channel)]
        if self._plan.queues[ix.queue].spec.strategy is Strategy.ROUND_ROBIN:
            pointer = self._rr_pointer.get(ix.queue, "")
            chosen: AgentRecord | None = None
            chosen_key: tuple[bool, str] = (True, "")
            for pool in pools:
                a = pool.next_after(pointer, ix.excluded)  # type: ignore[union-attr]
                if a is None:
                    continue
                # distance after the pointer, wrapping: ids past it come first
                key = (a.agent_id <= pointer, a.agent_id)
                if chosen is None or key < chosen_key:
                    chosen, chosen_key = a, key
            return chosen
        best = None
        for pool in pools:
            entry = pool.best(ix.excluded)  # type: ignore[union-attr]
            if entry is not None and (best is None or entry[:3] < best[:3]):
                best = entry
        return None if best is None else best[4]
