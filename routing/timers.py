"""Pending deadlines as one heap with lazy cancellation.

A timer is ``(deadline, id, kind, interaction_id, agent_id)``.  The record it
belongs to remembers the id of its live timer of each kind; cancelling is
forgetting that id, and the heap entry is dropped when it surfaces.  Ties on the
deadline fire in creation order, which keeps replays identical.
"""

from __future__ import annotations

import heapq
from enum import StrEnum


class TimerKind(StrEnum):
    OFFER = "offer"
    WRAP_UP = "wrap_up"
    ESCALATE = "escalate"
    STICKY = "sticky"
    MAX_WAIT = "max_wait"
    COOLDOWN = "cooldown"


Timer = tuple[float, int, TimerKind, str, str | None]


class Timers:
    __slots__ = ("_next_id", "heap")

    def __init__(self) -> None:
        self.heap: list[Timer] = []
        self._next_id = 1

    def add(self, deadline: float, kind: TimerKind, interaction_id: str, agent_id: str | None = None) -> int:
        timer_id = self._next_id
        self._next_id += 1
        heapq.heappush(self.heap, (deadline, timer_id, kind, interaction_id, agent_id))
        return timer_id
