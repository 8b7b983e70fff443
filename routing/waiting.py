"""Waiting interactions, one heap per (queue, escalation step, channel).

Within a bucket every interaction shares the queue's aging rate, so ordering by
``(-key, arrived_at, seq)`` is the effective-priority order at *any* time; an
agent compares only the heads of the buckets it is eligible for, at ``now``.
Removal is lazy: an entry is live while the interaction's ``token`` matches it.
Stale entries are dropped when they surface, and the heap is rebuilt when they
outnumber the live ones, so memory stays proportional to what is waiting.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from routing.config import Channel

if TYPE_CHECKING:
    from routing.records import InteractionRecord

Entry = tuple[float, float, int, int, "InteractionRecord"]


class Bucket:
    __slots__ = ("channel", "heap", "live", "queue", "rate", "step")

    def __init__(self, queue: str, step: int, channel: Channel, rate: float) -> None:
        self.queue = queue
        self.step = step
        self.channel = channel
        self.rate = rate
        self.heap: list[Entry] = []
        self.live = 0

    def push(self, ix: InteractionRecord, token: int) -> None:
        ix.token = token
        ix.bucket = self
        self.live += 1
        heapq.heappush(self.heap, (-ix.key, ix.arrived_at, ix.seq, token, ix))

    def discard(self, ix: InteractionRecord) -> None:
        """Forget ``ix`` (O(1)); its heap entry goes stale."""
        ix.token = 0
        ix.bucket = None
        self.live -= 1
        heap = self.heap
        if len(heap) > 64 and len(heap) > 3 * self.live:
            self.heap = [e for e in heap if e[4].token == e[3]]
            heapq.heapify(self.heap)

    def head_for(self, agent_id: str) -> InteractionRecord | None:
        """Best live interaction that ``agent_id`` is not excluded from.

        Entries excluding the agent (recent rejections: few) are popped aside and
        pushed back, so the cost is O((k + 1) log n) for k such entries.
        """
        heap = self.heap
        aside: list[Entry] | None = None
        found = None
        while heap:
            entry = heap[0]
            ix = entry[4]
            if ix.token != entry[3]:
                heapq.heappop(heap)
                continue
            if ix.excluded and agent_id in ix.excluded:
                if aside is None:
                    aside = []
                aside.append(heapq.heappop(heap))
                continue
            found = ix
            break
        if aside:
            for entry in aside:
                heapq.heappush(heap, entry)
        return found

    def __repr__(self) -> str:
        return f"Bucket({self.queue!r}, step={self.step}, {self.channel.value}, live={self.live})"
