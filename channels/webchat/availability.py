"""Is anyone there? Business hours and an available agent who could take the queue's chats.

The widget shows the offline form instead of a chat that nobody would answer.
"Could take" is an approximation of the router's rules, good enough for that
choice: an agent set ``available`` (the presence the router acts on, stored in
the same transaction as its decisions) with chat capacity and the skill levels
of the queue, of one of its escalation steps, or of a queue it overflows to.
Load is ignored: a busy agent frees up, and the customer then waits in queue.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from contactcenter.config import Settings
from contactcenter.config.schema_channels import Widget
from contactcenter.db import Database

CACHE_S = 2.0  # an answer is reused this long: hellos do not query the agents each time


def skill_requirements(settings: Settings, queue: str) -> list[dict[str, int]]:
    """Every skill set that makes an agent eligible for ``queue`` at some point of the wait."""
    spec = settings.queues[queue]
    requirements = [dict(spec.skills)]
    for step in spec.escalation:
        if step.skills is not None:
            requirements.append(dict(step.skills))
        for other in step.overflow:
            requirements.append(dict(settings.queues[other].skills))
    return requirements


def qualifies(skills: Mapping[str, int], requirements: list[dict[str, int]]) -> bool:
    return any(all(skills.get(name, 0) >= level for name, level in need.items()) for need in requirements)


class Availability:
    """Answers ``status`` for every ``hello``, asking the database at most once per queue per ``CACHE_S``.

    An answer is reused for ``CACHE_S`` (so a hello normally costs no query
    here), and callers that miss the cache together share one query instead of
    each sending their own: a reconnect storm after a restart asks once per queue.
    An agent who has just become available is therefore shown at most
    ``CACHE_S`` late, which only decides between the chat and the offline form.
    """

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self._default_chat_capacity = settings.routing.capacity.chat
        self._cache: dict[str, tuple[float, bool]] = {}
        self._asking: dict[str, asyncio.Task[bool]] = {}

    def open_now(self, widget: Widget, now: datetime | None = None) -> bool:
        if widget.business_hours is None:
            return True
        return widget.business_hours.is_open(now or datetime.now(UTC), default_timezone=self.settings.server.timezone)

    async def status(self, widget: Widget, queue: str) -> tuple[bool, str | None]:
        """(online, reason when not): ``closed_hours`` or ``no_agent``."""
        if not self.open_now(widget):
            return False, "closed_hours"
        if not await self.agent_for(queue):
            return False, "no_agent"
        return True, None

    async def agent_for(self, queue: str) -> bool:
        """Whether an available agent could take ``queue``'s chats: cached, or one shared query."""
        cached = self._cache.get(queue)
        if cached is not None and time.monotonic() - cached[0] < CACHE_S:
            return cached[1]
        task = self._asking.get(queue)
        if task is None:
            task = asyncio.create_task(self._ask(queue), name=f"chat-availability-{queue}")
            self._asking[queue] = task
            task.add_done_callback(lambda done: self._asked(queue, done))
        # shield: one caller giving up (its socket closed) must not cancel the others' answer
        return await asyncio.shield(task)

    async def _ask(self, queue: str) -> bool:
        """Query the agents; the answer is cached as of when the question was sent (never fresher)."""
        asked_at = time.monotonic()
        requirements = skill_requirements(self.settings, queue)
        async with self.db.connection() as tx:
            rows = await tx.conn.fetch(
                "SELECT skills, capacity FROM agents WHERE state = 'available' AND NOT disabled"
            )
        found = any(
            int(row["capacity"].get("chat", self._default_chat_capacity)) > 0
            and qualifies(row["skills"], requirements)
            for row in rows
        )
        if self._asking.get(queue) is asyncio.current_task():  # not forgotten meanwhile
            self._cache[queue] = (asked_at, found)
        return found

    def _asked(self, queue: str, task: asyncio.Task[bool]) -> None:
        """The shared query ended: later misses ask again. Its error was raised to every waiter."""
        if self._asking.get(queue) is task:
            del self._asking[queue]
        if not task.cancelled():
            task.exception()  # retrieved: no "never retrieved" warning when every waiter gave up

    def forget(self) -> None:
        """Drop cached answers (an agent's presence changed); a query under way is not cached either."""
        self._cache.clear()
        self._asking.clear()
