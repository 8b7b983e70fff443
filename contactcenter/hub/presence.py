"""Agent presence follows the console connection, with a grace period.

An agent whose every console has disconnected stays routable for
``agent_disconnect_grace`` (a page reload or a network blip must not bounce
their offers), then is set offline with reason ``disconnected``. After a server
restart, agents marked present get the same grace to reconnect. If the
database is down when the grace ends, setting them offline is retried until it
succeeds or a console connects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

import routing as r
from contactcenter.acd.service import RouterService
from contactcenter.db import StoreError

log = logging.getLogger(__name__)

# Setting an agent offline failed (database down): first retry after this, doubling up to the maximum.
_RETRY_FIRST_S = 0.5
_RETRY_MAX_S = 30.0


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
        """After the grace, set the agent offline; retry (with backoff) while the database is down.

        The timer stays registered until it is done, so a console that connects
        meanwhile cancels it (and a second disconnect does not start another):
        an agent whose first attempt failed is neither left routable without a
        console nor set offline after coming back.
        """
        delay = _RETRY_FIRST_S
        try:
            await asyncio.sleep(self.grace_s)
            while True:
                # Checked right before submitting: a console that connected meanwhile took the timer.
                if self._timers.get(agent_id) is not asyncio.current_task():
                    return
                if self.router.router.agent_state(str(agent_id)) in (None, r.AgentState.OFFLINE):
                    return
                try:
                    await self.router.submit(
                        lambda at: r.AgentStateChanged(at=at, agent_id=str(agent_id), state=r.AgentState.OFFLINE,
                                                       reason="disconnected")
                    )
                except StoreError as exc:
                    log.warning("could not set agent %s offline (%s); retrying in %ss", agent_id, exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, _RETRY_MAX_S)
                    continue
                log.info("agent %s set offline after %ss without a console", agent_id, self.grace_s)
                return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("could not set agent %s offline", agent_id)
        finally:
            if self._timers.get(agent_id) is asyncio.current_task():
                del self._timers[agent_id]

    async def close(self) -> None:
        timers = list(self._timers.values())
        self._timers.clear()
        for timer in timers:
            timer.cancel()
        for timer in timers:
            with contextlib.suppress(asyncio.CancelledError):
                await timer
