"""Is anyone there? Business hours and an available agent who could take the queue's chats.

The widget shows the offline form instead of a chat that nobody would answer.
"Could take" is an approximation of the router's rules, good enough for that
choice: an agent set ``available`` (the presence the router acts on, stored in
the same transaction as its decisions) with chat capacity and the skill levels
of the queue, of one of its escalation steps, or of a queue it overflows to.
Load is ignored: a busy agent frees up, and the customer then waits in queue.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime

from contactcenter.config import Settings
from contactcenter.config.schema_channels import Widget
from contactcenter.db import Database

CACHE_S = 2.0  # a reconnect storm asks the database once per queue, not once per widget


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
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self._default_chat_capacity = settings.routing.capacity.chat
        self._cache: dict[str, tuple[float, bool]] = {}

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
        cached = self._cache.get(queue)
        now = time.monotonic()
        if cached is not None and now - cached[0] < CACHE_S:
            return cached[1]
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
        self._cache[queue] = (now, found)
        return found

    def forget(self) -> None:
        """Drop cached answers (an agent's presence changed)."""
        self._cache.clear()
