"""The router's mutable per-agent and per-interaction records.

These never leave the package: queries and ``snapshot()`` copy plain data out.
An agent's activity (idle / busy) is not stored; it is read off ``load``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from routing.config import CHANNELS, Channel
from routing.state import AgentState, InteractionState

if TYPE_CHECKING:
    from routing.pools import Pool
    from routing.waiting import Bucket

_VOICE = Channel.VOICE
_AVAILABLE = AgentState.AVAILABLE


class AgentRecord:
    """One agent: profile, presence, load, and where they are indexed."""

    __slots__ = (
        "agent_id",
        "buckets",
        "capacity",
        "holding",
        "idle_since",
        "load",
        "missed",
        "offers",
        "pools",
        "reqs",
        "reserved",
        "skill_sums",
        "skills",
        "stamp",
        "state",
        "total_capacity",
        "total_load",
        "voice_exclusive",
    )

    def __init__(self, agent_id: str, now: float, voice_exclusive: bool) -> None:
        self.agent_id = agent_id
        self.skills: Mapping[str, int] = {}
        self.capacity: dict[Channel, int] = dict.fromkeys(CHANNELS, 0)
        self.total_capacity = 0
        self.state = AgentState.OFFLINE
        self.load: dict[Channel, int] = dict.fromkeys(CHANNELS, 0)
        self.total_load = 0
        # insertion-ordered dicts used as sets so iteration is deterministic
        self.offers: dict[str, None] = {}
        self.holding: dict[str, None] = {}
        self.reserved: dict[str, None] = {}
        self.missed = 0
        self.idle_since = now
        # bumped on every change that could alter pool membership or rank;
        # pool entries carrying an older stamp are stale
        self.stamp = 0
        self.reqs: frozenset[int] = frozenset()
        self.buckets: dict[Channel, list[Bucket]] = {c: [] for c in CHANNELS}
        self.pools: dict[Channel, list[Pool]] = {c: [] for c in CHANNELS}
        self.skill_sums: dict[str, int] = {}
        self.voice_exclusive = voice_exclusive

    def can_take(self, channel: Channel) -> bool:
        """Available, a free slot on ``channel``, and voice exclusivity respected."""
        if self.state is not _AVAILABLE or self.load[channel] >= self.capacity[channel]:
            return False
        if self.voice_exclusive:
            if channel is _VOICE:
                return self.total_load == 0
            return self.load[_VOICE] == 0
        return True

    @property
    def activity(self) -> str:
        """Derived from load, never stored: 'idle' or 'busy'."""
        return "busy" if self.total_load else "idle"


class InteractionRecord:
    """One interaction the router is responsible for.

    ``key`` is the queue-local, time-invariant part of the effective priority:
    ``base + rate * (now - arrived_at) == key + rate * now``, so heaps ordered by
    ``key`` stay ordered as time passes.
    """

    __slots__ = (
        "agent",
        "arrived_at",
        "bucket",
        "channel",
        "customer_id",
        "enqueued_at",
        "excluded",
        "interaction_id",
        "keep_waiting",
        "key",
        "last_agent_id",
        "offer_expires",
        "overdue",
        "priority",
        "queue",
        "rate",
        "reserved_for",
        "seq",
        "state",
        "step",
        "target",
        "tier",
        "timers",
        "token",
    )

    def __init__(self, interaction_id: str, queue: str, channel: Channel, tier: str, priority: float,
                 arrived_at: float, seq: int, state: InteractionState) -> None:
        self.interaction_id = interaction_id
        self.queue = queue
        self.channel = channel
        self.tier = tier
        self.priority = priority
        self.key = 0.0
        self.rate = 0.0
        self.arrived_at = arrived_at
        # when the current queue's clock (escalation, max wait) started
        self.enqueued_at = arrived_at
        self.seq = seq
        self.state = state
        self.step = 0
        # the agent offered or holding it
        self.agent: str | None = None
        self.offer_expires: float | None = None
        # sticky (target=False) or transfer (target=True) reservation
        self.reserved_for: str | None = None
        self.target = False
        # agent id -> cooldown timer id
        self.excluded: dict[str, int] = {}
        self.overdue = False
        # timer kind -> timer id; a timer whose id is not here any more is stale
        self.timers: dict[str, int] = {}
        # heap-entry token while in a bucket, 0 otherwise (lazy deletion)
        self.token = 0
        self.bucket: Bucket | None = None
        self.customer_id: str | None = None
        self.last_agent_id: str | None = None
        # no max wait in any queue (InteractionArrived.keep_waiting)
        self.keep_waiting = False

    def rank(self, now: float) -> tuple[float, float, int]:
        """Sort key: higher effective priority first, then FIFO by arrival, then sequence."""
        return (-(self.key + self.rate * now), self.arrived_at, self.seq)
