"""Agent presence follows the console connection, with a grace period.

An agent whose every console has disconnected stays routable for
``agent_disconnect_grace`` (a page reload or a network blip must not bounce
their offers), then is set offline with reason ``disconnected``. After a server
restart, agents marked present get the same grace to reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

import routing as r
from contactcenter.acd.service import RouterService

log = logging.getLogger(__name__)


class Presence:
    def __init__(self, router: RouterService, grace_s: float) -> None:
        self.router = router
        self.grace_s = grace_s
        self._timers: dict[uuid.UUID, asyncio.Task[None]] = {}

    def connected(self, agent_id: uuid.UUID) -> None:
        timer = self._timers.pop(agent_id, None)
        if timer is not None:
            timer.cancel()

    def disconnected(self, agent_id: uuid.UUID, *, still_connected: bool) -> None:
        if still_connected or agent_id in self._timers:
            return
        self._timers[agent_id] = asyncio.create_task(self._expire(agent_id), name=f"presence-{agent_id}")

    def watch(self, agent_ids: list[uuid.UUID]) -> None:
        """Start the grace period for agents present in the store but not connected (start-up)."""
        for agent_id in agent_ids:
            self.disconnected(agent_id, still_connected=False)

    async def _expire(self, agent_id: uuid.UUID) -> None:
        try:
            await asyncio.sleep(self.grace_s)
            self._timers.pop(agent_id, None)
            if self.router.router.agent_state(str(agent_id)) in (None, r.AgentState.OFFLINE):
                return
            await self.router.submit(
                lambda at: r.AgentStateChanged(at=at, agent_id=str(agent_id), state=r.AgentState.OFFLINE,
                                               reason="disconnected")
            )
            log.info("agent %s set offline after %ss without a console", agent_id, self.grace_s)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("could not set agent %s offline", agent_id)

    async def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        for timer in self._timers.values():
            with contextlib.suppress(asyncio.CancelledError):
                await timer
        self._timers.clear()
