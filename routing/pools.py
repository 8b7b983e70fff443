"""Free agents, indexed so an arriving interaction finds its agent without a scan.

A pool holds the agents that meet one requirement and have a free slot on one
channel, ranked the way one strategy wants.  An interaction at (queue, step)
looks at the pools of the step's requirements for its channel and takes the
best head.  Agents are pushed when they become free (or their rank changes)
and go stale lazily: a heap entry is live while it carries the agent's current
``stamp``, and the agent bumps its stamp on every change.

Round robin needs "the next agent id after the pointer", which a heap cannot
answer, so its pool is a sorted id list with lazy removal instead.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right, insort
from typing import TYPE_CHECKING

from routing.config import Channel

if TYPE_CHECKING:
    from routing.records import AgentRecord

PoolEntry = tuple[float, float, str, int, "AgentRecord"]

LONGEST_IDLE = "longest_idle"
LEAST_OCCUPIED = "least_occupied"
MOST_SKILLED = "most_skilled:"


class HeapPool:
    """Agents ranked by (k0, k1, agent_id): lower is better."""

    __slots__ = ("channel", "heap", "kind", "limit", "queue", "req")

    def __init__(self, req: int, channel: Channel, kind: str) -> None:
        self.req = req
        self.channel = channel
        self.kind = kind
        # the queue whose skills rank agents, for most_skilled
        self.queue = kind[len(MOST_SKILLED):] if kind.startswith(MOST_SKILLED) else None
        self.heap: list[PoolEntry] = []
        self.limit = 64

    def push(self, agent: AgentRecord) -> None:
        if self.queue is not None:
            k0, k1 = float(-agent.skill_sums.get(self.queue, 0)), agent.idle_since
        elif self.kind == LEAST_OCCUPIED:
            k0, k1 = agent.total_load / agent.total_capacity, agent.idle_since
        else:
            k0, k1 = agent.idle_since, 0.0
        heap = self.heap
        heapq.heappush(heap, (k0, k1, agent.agent_id, agent.stamp, agent))
        if len(heap) > self.limit:
            # rebuild without stale entries; amortised O(1) per push
            self.heap = heap = [e for e in heap if e[4].stamp == e[3]]
            heapq.heapify(heap)
            self.limit = max(64, 2 * len(heap))

    def best(self, excluded: dict[str, int]) -> PoolEntry | None:
        """Best live entry whose agent is not in ``excluded``."""
        heap = self.heap
        aside: list[PoolEntry] | None = None
        found = None
        while heap:
            entry = heap[0]
            if entry[4].stamp != entry[3]:
                heapq.heappop(heap)
                continue
            if excluded and entry[2] in excluded:
                if aside is None:
                    aside = []
                aside.append(heapq.heappop(heap))
                continue
            found = entry
            break
        if aside:
            for entry in aside:
                heapq.heappush(heap, entry)
        return found


class RoundRobinPool:
    """Agent ids in sorted order; stale ids are removed when a scan meets them."""

    __slots__ = ("agents", "channel", "ids", "kind", "req")

    def __init__(self, req: int, channel: Channel) -> None:
        self.req = req
        self.channel = channel
        self.kind = "round_robin"
        self.ids: list[str] = []
        self.agents: dict[str, AgentRecord] = {}

    def push(self, agent: AgentRecord) -> None:
        if agent.agent_id not in self.agents:
            self.agents[agent.agent_id] = agent
            insort(self.ids, agent.agent_id)

    def _live(self, agent: AgentRecord) -> bool:
        return self.req in agent.reqs and agent.can_take(self.channel)

    def next_after(self, pointer: str, excluded: dict[str, int]) -> AgentRecord | None:
        """First live, non-excluded agent with id > ``pointer``, wrapping around."""
        ids = self.ids
        if not ids:
            return None
        start = bisect_right(ids, pointer)
        checked = 0
        i = start if start < len(ids) else 0
        while ids and checked < len(ids):
            if i >= len(ids):
                i = 0
            agent_id = ids[i]
            agent = self.agents[agent_id]
            if not self._live(agent):
                del ids[i]
                del self.agents[agent_id]
                continue
            if not (excluded and agent_id in excluded):
                return agent
            i += 1
            checked += 1
        return None


Pool = HeapPool | RoundRobinPool
