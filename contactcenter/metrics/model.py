"""The live metrics model: facts about interactions and agents in, current numbers out.

Pure, like the router: no I/O and no clock. Each fact carries its time ``at``
(a fact stamped earlier than one already seen counts at the later time), and
costs constant work: it moves one interaction, adjusts the "now" indexes of its
queue and channel, and adds to the minute bucket and day total of each key it
concerns (see ``window``). Reading builds numbers from those tallies and never
looks at history. Every metric is defined in docs/metrics.md; ``views`` turns
the model into the rows the API, the supervisor socket and /metrics send.

Waiting and answering are counted per *queue segment*: an interaction enters a
queue on arrival or when it is transferred or moved there, and leaves it
answered, abandoned, timed out (the queue's max wait) or transferred. Its wait
is measured from entering that queue, the clock the router's escalation and
max wait use too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import tzinfo

from contactcenter.metrics.records import (
    DEFAULT_SERVICE_LEVEL_TARGET,
    AgentNow,
    QueueTarget,
    RestoredAgent,
    RestoredInteraction,
    Tracked,
    Waiting,
)
from contactcenter.metrics.window import ACTIVITY_FIELDS, Calendar, Series, Tally, credit_span, minute_of

SHORT_ABANDON_S = 5.0
AGENT_STATES = ("available", "busy", "wrap_up", "away", "offline")
Key = tuple[str, str]  # ("queue", name) | ("channel", name) | ("agent", id)
__all__ = [
    "AGENT_STATES", "DEFAULT_SERVICE_LEVEL_TARGET", "SHORT_ABANDON_S", "AgentNow", "MetricsModel", "QueueTarget",
    "RestoredAgent", "RestoredInteraction", "Tracked",
]


class MetricsModel:
    def __init__(self, queues: Iterable[QueueTarget], tz: tzinfo, *, short_abandon_s: float = SHORT_ABANDON_S) -> None:
        self.queues = {q.name: q for q in queues}
        self.calendar = Calendar(tz)
        self.short_abandon_s = short_abandon_s
        self.now = 0.0
        self.version = 0  # grows with every fact: readers push when it moved
        self.interactions: dict[str, Tracked] = {}
        self.agents: dict[str, AgentNow] = {}
        self.series: dict[Key, Series] = {}
        self.waiting: dict[Key, Waiting] = {}
        self.channels = sorted({c for q in self.queues.values() for c in q.channels})
        for name in self.queues:
            self.waiting[("queue", name)] = Waiting()
        for channel in self.channels:
            self.waiting[("channel", channel)] = Waiting()

    # -- facts: interactions -----------------------------------------------------------------

    def queued(self, at: float, interaction_id: str, queue: str, channel: str, arrived_at: float | None = None,
               entered_at: float | None = None) -> None:
        """A new interaction waits in ``queue`` (arrived at ``arrived_at``, default ``at``).

        ``entered_at`` is when it entered ``queue`` (default: its arrival), the
        router's ``enqueued_at``: its wait is measured from there.
        """
        at = self._clock(at)
        if interaction_id in self.interactions:
            self._forget(self.interactions[interaction_id], at)
        arrived = at if arrived_at is None else min(arrived_at, at)
        entered = arrived if entered_at is None else min(max(entered_at, arrived), at)
        ix = Tracked(interaction_id, queue, channel, arrived, entered)
        self.interactions[interaction_id] = ix
        self._enter(ix, at)

    def offered(self, at: float, interaction_id: str, agent_id: str) -> None:
        """The router offered a waiting interaction to an agent (it still counts as waiting)."""
        at = self._clock(at)
        ix = self.interactions.get(interaction_id)
        if ix is None or ix.state not in ("waiting", "offered"):
            return
        self._withdraw(ix, at)
        ix.state, ix.agent = "offered", agent_id
        for key in self._keys(ix):
            self._index(key).offered += 1
        agent = self._agent(agent_id, at)
        agent.offered.add(interaction_id)
        self._settle(agent, at)

    def offer_ended(self, at: float, interaction_id: str, agent_id: str) -> None:
        """An offer was rejected, expired or revoked: the interaction waits again."""
        at = self._clock(at)
        ix = self.interactions.get(interaction_id)
        if ix is not None and ix.state == "offered" and ix.agent == agent_id:
            self._withdraw(ix, at)

    def answered(self, at: float, interaction_id: str, agent_id: str) -> None:
        """An agent accepted: the wait in this queue ends; handling starts."""
        at = self._clock(at)
        ix = self.interactions.get(interaction_id)
        if ix is None or ix.state not in ("waiting", "offered"):
            return
        self._withdraw(ix, at)
        wait = at - ix.entered_at
        within = wait <= self.queues[ix.queue].service_level_s if ix.queue in self.queues else False
        for tally in self._tallies(at, *self._keys(ix), ("agent", agent_id)):
            tally.answered += 1
            tally.answered_in_sl += within
            tally.answer_wait_s += wait
        self._leave_queue(ix)
        ix.state, ix.agent, ix.answered_at = "assigned", agent_id, at
        agent = self._agent(agent_id, at)
        agent.assigned.add(interaction_id)
        self._settle(agent, at)

    def abandoned(self, at: float, interaction_id: str) -> None:
        """The customer left while waiting."""
        at = self._clock(at)
        ix = self.interactions.get(interaction_id)
        if ix is None or ix.state not in ("waiting", "offered"):
            return
        wait = at - ix.entered_at
        for tally in self._tallies(at, *self._keys(ix)):
            tally.abandoned += 1
            tally.short_abandoned += wait < self.short_abandon_s
            tally.abandon_wait_s += wait
        self._forget(ix, at)

    def timed_out(self, at: float, interaction_id: str) -> None:
        """The queue's max wait passed: the no-agent action takes the interaction out of the queue."""
        at = self._clock(at)
        ix = self.interactions.get(interaction_id)
        if ix is None or ix.state not in ("waiting", "offered"):
            return
        for tally in self._tallies(at, *self._keys(ix)):
            tally.timed_out += 1
        self._forget(ix, at)

    def transferred(self, at: float, interaction_id: str, to_queue: str) -> None:
        """Moved (waiting) or handed over (assigned) to ``to_queue``: a new segment starts there."""
        at = self._clock(at)
        ix = self.interactions.get(interaction_id)
        if ix is None or ix.state == "wrap_up":
            return
        keys = self._keys(ix)
        if ix.state == "assigned":
            assert ix.agent is not None
            talk = 0.0 if ix.answered_at is None else at - ix.answered_at
            for tally in self._tallies(at, *keys, ("agent", ix.agent)):
                tally.transferred += 1
                tally.handled += ix.answered_at is not None
                tally.talk_s += talk
            agent = self._agent(ix.agent, at)
            agent.assigned.discard(interaction_id)
            self._settle(agent, at)
        else:
            self._withdraw(ix, at)
            self._leave_queue(ix)
            for tally in self._tallies(at, *keys):
                tally.transferred += 1
        ix.queue, ix.entered_at, ix.state, ix.agent = to_queue, at, "waiting", None
        ix.answered_at = ix.ended_at = None
        self._enter(ix, at)

    def ended(self, at: float, interaction_id: str) -> None:
        """The conversation is over; the agent's wrap-up starts."""
        at = self._clock(at)
        ix = self.interactions.get(interaction_id)
        if ix is None or ix.state != "assigned" or ix.agent is None:
            return
        ix.state, ix.ended_at = "wrap_up", at
        agent = self._agent(ix.agent, at)
        agent.assigned.discard(interaction_id)
        agent.wrapping.add(interaction_id)
        self._settle(agent, at)

    def wrapup_ended(self, at: float, interaction_id: str) -> None:
        """Wrap-up is over: the handled segment counts, with its talk and wrap-up time."""
        at = self._clock(at)
        ix = self.interactions.get(interaction_id)
        if ix is None or ix.state != "wrap_up" or ix.agent is None:
            return
        if ix.answered_at is not None and ix.ended_at is not None:
            for tally in self._tallies(at, *self._keys(ix), ("agent", ix.agent)):
                tally.handled += 1
                tally.talk_s += ix.ended_at - ix.answered_at
                tally.wrap_s += at - ix.ended_at
        self._forget(ix, at)

    # -- facts: agents -------------------------------------------------------------------------

    def agent_profile(self, at: float, agent_id: str, skills: Mapping[str, int], capacity: Mapping[str, int]) -> None:
        """An agent's skills and per-channel capacity (defaults filled in): decides which queues they serve."""
        at = self._clock(at)
        agent = self._agent(agent_id, at)
        agent.skills, agent.capacity = dict(skills), dict(capacity)
        agent.queues = frozenset(name for name, q in self.queues.items() if _serves(agent, q))

    def presence(self, at: float, agent_id: str, state: str, reason: str | None = None) -> None:
        """The agent (a supervisor, or the missed-offer rule) set available, away or offline."""
        at = self._clock(at)
        agent = self._agent(agent_id, at)
        if state != agent.presence:
            agent.presence_since = at
        agent.presence, agent.reason = state, reason
        self._settle(agent, at)

    # -- after a router rebuild ------------------------------------------------------------------

    def restore(self, at: float, agents: Iterable[RestoredAgent], interactions: Iterable[RestoredInteraction]) -> None:
        """Replace the "now" state with the router's; interval tallies are kept.

        What the router does not know (when an assigned interaction was answered)
        is kept from before when it is the same interaction with the same agent.
        """
        at = self._clock(at)
        agents, interactions = list(agents), list(interactions)
        before = self.interactions
        self.interactions = {}
        for index in self.waiting.values():
            index.members.clear()
            index.heap.clear()
            index.offered = 0
        kept = {a.agent_id: self.agents.get(a.agent_id) for a in agents}
        for agent in self.agents.values():
            if agent.agent_id not in kept:
                agent.assigned.clear()
                agent.wrapping.clear()
                agent.offered.clear()
                self._settle(agent, at)  # close its open span before it goes
        self.agents = {}
        for restored in agents:
            agent = kept[restored.agent_id] or AgentNow(restored.agent_id, since=at, presence_since=at)
            agent.offered, agent.assigned, agent.wrapping = set(), set(), set()
            if agent.presence != restored.presence:
                agent.presence_since = at
            agent.presence, agent.reason = restored.presence, restored.reason
            self.agents[agent.agent_id] = agent
            self.agent_profile(at, agent.agent_id, restored.skills, restored.capacity)
        for r in interactions:
            old = before.get(r.interaction_id)
            ix = Tracked(r.interaction_id, r.queue, r.channel, r.arrived_at, r.entered_at)
            self.interactions[ix.interaction_id] = ix
            if r.state in ("queued", "offered"):
                self._enter(ix, at, count=False)
                if r.state == "offered" and r.agent_id is not None:
                    ix.state, ix.agent = "offered", r.agent_id
                    for key in self._keys(ix):
                        self._index(key).offered += 1
                    self._agent(r.agent_id, at).offered.add(ix.interaction_id)
                continue
            if r.agent_id is None:
                continue
            same = old is not None and old.agent == r.agent_id and old.state in ("assigned", "wrap_up")
            ix.agent = r.agent_id
            ix.answered_at = old.answered_at if same and old else None
            agent = self._agent(r.agent_id, at)
            if r.state == "assigned":
                ix.state = "assigned"
                agent.assigned.add(ix.interaction_id)
            else:
                ix.state = "wrap_up"
                ix.ended_at = old.ended_at if same and old and old.ended_at is not None else at
                agent.wrapping.add(ix.interaction_id)
        for agent in self.agents.values():
            self._settle(agent, at)

    # -- reading -------------------------------------------------------------------------------

    def window(self, key: Key, now: float) -> Tally:
        """The key's tally over the rolling window read at ``now`` (closed agent spans only)."""
        series = self.series.get(key)
        return Tally() if series is None else series.window(minute_of(now))

    def today(self, key: Key, now: float) -> Tally:
        """The key's tally since local midnight of ``now`` (closed agent spans only)."""
        series = self.series.get(key)
        return Tally() if series is None else series.day_total(self.calendar.day(now)[0])

    def index(self, key: Key) -> Waiting:
        return self._index(key)

    # -- internals -----------------------------------------------------------------------------

    def _clock(self, at: float) -> float:
        self.now = max(at, self.now)
        self.version += 1
        return self.now

    @staticmethod
    def _keys(ix: Tracked) -> tuple[Key, Key]:
        return ("queue", ix.queue), ("channel", ix.channel)

    def _index(self, key: Key) -> Waiting:
        index = self.waiting.get(key)
        if index is None:  # a queue or channel the configuration does not list (history, tests)
            index = self.waiting[key] = Waiting()
        return index

    def _series(self, key: Key) -> Series:
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = Series()
        return series

    def _tallies(self, at: float, *keys: Key) -> Iterator[Tally]:
        """The minute bucket and the day total of each key, for a fact at ``at``."""
        day = self.calendar.day(at)[0]
        minute = minute_of(at)
        for key in keys:
            series = self._series(key)
            for tally in (series.for_minute(minute), series.for_day(day)):
                if tally is not None:
                    yield tally

    def _agent(self, agent_id: str, at: float) -> AgentNow:
        agent = self.agents.get(agent_id)
        if agent is None:
            agent = self.agents[agent_id] = AgentNow(agent_id, since=at, presence_since=at)
        return agent

    def _settle(self, agent: AgentNow, at: float) -> None:
        """Re-derive the agent's activity; a change closes the span of the previous one."""
        activity = agent.derived()
        if activity == agent.activity:
            return
        field_name = ACTIVITY_FIELDS.get(agent.activity)
        if field_name is not None:
            credit_span(self._series(("agent", agent.agent_id)), self.calendar, field_name, agent.since, at)
        agent.activity, agent.since = activity, at

    def _enter(self, ix: Tracked, at: float, *, count: bool = True) -> None:
        ix.state, ix.agent = "waiting", None
        for key in self._keys(ix):
            self._index(key).add(ix.interaction_id, ix.entered_at)
        if count:
            for tally in self._tallies(at, *self._keys(ix)):
                tally.offered += 1

    def _leave_queue(self, ix: Tracked) -> None:
        for key in self._keys(ix):
            self._index(key).remove(ix.interaction_id)

    def _withdraw(self, ix: Tracked, at: float) -> None:
        """End an outstanding offer, if any; the interaction goes on waiting."""
        if ix.state != "offered" or ix.agent is None:
            return
        for key in self._keys(ix):
            self._index(key).offered -= 1
        agent = self._agent(ix.agent, at)
        agent.offered.discard(ix.interaction_id)
        self._settle(agent, at)
        ix.state, ix.agent = "waiting", None

    def _forget(self, ix: Tracked, at: float) -> None:
        """The interaction leaves the metrics: out of its queue, off its agent."""
        self._withdraw(ix, at)
        self._leave_queue(ix)
        if ix.agent is not None:
            agent = self._agent(ix.agent, at)
            agent.assigned.discard(ix.interaction_id)
            agent.wrapping.discard(ix.interaction_id)
            self._settle(agent, at)
        self.interactions.pop(ix.interaction_id, None)


def _serves(agent: AgentNow, queue: QueueTarget) -> bool:
    """An agent serves a queue whose base skills they meet, on a channel they have capacity for."""
    if not any(agent.capacity.get(c, 0) > 0 for c in queue.channels):
        return False
    return all(agent.skills.get(skill, 0) >= level for skill, level in queue.skills.items())
