"""The records the metrics model keeps: queues it reports on, open interactions, agents, waiting indexes.

Plain data with the one rule each needs (an agent's activity is derived from
their work, never stored apart from it; the oldest waiting entry is found
through a heap whose stale entries are skipped). The model in ``model`` changes
them; ``views`` reads them.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field

from contactcenter.config.schema import DEFAULT_SERVICE_LEVEL_TARGET


@dataclass(frozen=True, slots=True)
class QueueTarget:
    """What the model needs to know about a queue: who serves it and what it promises.

    ``service_level_target`` is the queue's own goal (``queues.*.service_level_target``),
    not one figure for all queues: a VIP line promising 95 % and an e-mail queue
    content with 80 % must each be judged, alerted on and charted against their own.
    The default only serves models built by hand (tests); the live model and the
    reports take every queue's goal from the settings (``observer.queue_targets``).
    """

    name: str
    channels: frozenset[str]
    skills: Mapping[str, int] = field(default_factory=dict)
    service_level_s: float = 30.0
    service_level_target: float = DEFAULT_SERVICE_LEVEL_TARGET
    alert_waiting_above: int | None = None


@dataclass(slots=True)
class Tracked:
    """An open interaction as the metrics see it (forgotten once closed)."""

    interaction_id: str
    queue: str
    channel: str
    arrived_at: float
    entered_at: float  # entered its current queue
    state: str = "waiting"  # waiting | offered | assigned | wrap_up
    agent: str | None = None
    answered_at: float | None = None
    ended_at: float | None = None


@dataclass(slots=True)
class AgentNow:
    """An agent's presence, profile and work; ``activity`` is derived, never set."""

    agent_id: str
    presence: str = "offline"
    reason: str | None = None
    presence_since: float = 0.0
    activity: str = "offline"
    since: float = 0.0  # of the current activity
    skills: Mapping[str, int] = field(default_factory=dict)
    capacity: Mapping[str, int] = field(default_factory=dict)
    queues: frozenset[str] = frozenset()
    offered: set[str] = field(default_factory=set)
    assigned: set[str] = field(default_factory=set)
    wrapping: set[str] = field(default_factory=set)

    def derived(self) -> str:
        """Busy while handling anything, in wrap-up while only wrapping up, else the presence."""
        if self.assigned:
            return "busy"
        if self.wrapping:
            return "wrap_up"
        return self.presence


class Waiting:
    """Who waits in one queue or channel: count, offers out, and the earliest entry (lazy heap)."""

    __slots__ = ("heap", "members", "offered")

    def __init__(self) -> None:
        self.members: dict[str, float] = {}
        self.heap: list[tuple[float, str]] = []
        self.offered = 0

    def add(self, interaction_id: str, entered_at: float) -> None:
        self.members[interaction_id] = entered_at
        heapq.heappush(self.heap, (entered_at, interaction_id))

    def remove(self, interaction_id: str) -> None:
        self.members.pop(interaction_id, None)
        if len(self.heap) > 2 * len(self.members) + 64:  # bound the stale entries
            self.heap = [(at, iid) for iid, at in self.members.items()]
            heapq.heapify(self.heap)

    def oldest(self) -> float | None:
        heap = self.heap
        while heap and self.members.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None


@dataclass(frozen=True, slots=True)
class RestoredAgent:
    agent_id: str
    presence: str
    reason: str | None
    skills: Mapping[str, int]
    capacity: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class RestoredInteraction:
    interaction_id: str
    queue: str
    channel: str
    state: str  # the router's: queued | offered | assigned | wrap_up
    arrived_at: float
    entered_at: float
    agent_id: str | None
