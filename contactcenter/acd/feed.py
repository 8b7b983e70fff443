"""Wake the consoles of agents who have new numbered events.

The feed carries only "agent X has events up to N" plus the events themselves
as a shortcut; each websocket connection keeps its own cursor and reads any
gap from the store, so a slow or reconnecting console never loses or repeats
an event, and no queue grows without bound.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from contactcenter.store import AgentEvent


class AgentSubscription:
    """One console connection's view of its agent's event stream.

    ``recent`` is bounded so a console that stops reading holds no growing
    queue. Numbered events past the bound are not kept but never lost: they
    were stored before being published, so ``overflowed`` tells the reader to
    read the store from its cursor instead of trusting ``recent`` (whose run
    may look gap-free while its tail is missing).
    """

    def __init__(self, agent_id: uuid.UUID) -> None:
        self.agent_id = agent_id
        self.wakeup = asyncio.Event()
        self.recent: list[AgentEvent] = []  # events pushed since the last read, in commit order
        self.overflowed = False  # events were pushed past ``recent``'s bound since the last drain
        self.ephemeral: list[dict[str, Any]] = []  # unnumbered signals (typing): dropped if the console lags
        self._max_recent = 256

    def push(self, event: AgentEvent) -> None:
        if len(self.recent) < self._max_recent:
            self.recent.append(event)
        else:
            self.overflowed = True
        self.wakeup.set()

    def push_ephemeral(self, message: dict[str, Any]) -> None:
        if len(self.ephemeral) < 32:
            self.ephemeral.append(message)
            self.wakeup.set()

    def drain(self) -> tuple[list[AgentEvent], list[dict[str, Any]]]:
        """Everything pushed since the last drain; the next ``wakeup`` means something new.

        Clears ``overflowed``: read it before draining (the events may be incomplete).
        """
        events, self.recent = self.recent, []
        self.overflowed = False
        signals, self.ephemeral = self.ephemeral, []
        self.wakeup.clear()
        return events, signals


class AgentFeed:
    def __init__(self) -> None:
        self._subscribers: dict[uuid.UUID, set[AgentSubscription]] = defaultdict(set)

    def subscribe(self, agent_id: uuid.UUID) -> AgentSubscription:
        subscription = AgentSubscription(agent_id)
        self._subscribers[agent_id].add(subscription)
        return subscription

    def unsubscribe(self, subscription: AgentSubscription) -> None:
        subscribers = self._subscribers.get(subscription.agent_id)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._subscribers[subscription.agent_id]

    def connected(self, agent_id: uuid.UUID) -> bool:
        return bool(self._subscribers.get(agent_id))

    def signal(self, agent_id: uuid.UUID, message: dict[str, Any]) -> None:
        """An unnumbered, unstored message (typing indicators): best effort, never replayed."""
        for subscription in self._subscribers.get(agent_id, ()):
            subscription.push_ephemeral({**message, "seq": None})

    def publish(self, events: Iterable[AgentEvent]) -> None:
        """Called after the events' transaction committed."""
        for event in sorted(events, key=lambda e: e.seq):
            for subscription in self._subscribers.get(event.agent_id, ()):
                subscription.push(event)
