"""The disconnect grace when setting the agent offline fails (database outage)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import routing as r
from contactcenter.db import StoreError
from contactcenter.hub.presence import Presence
from tests.support import wait_for


class _Router:
    def __init__(self) -> None:
        self.state = r.AgentState.AVAILABLE

    def agent_state(self, agent_id: str) -> r.AgentState:
        return self.state


class _FlakyRouterService:
    """Refuses the first ``failures`` submits as RouterService does while the database is down, then works."""

    def __init__(self, failures: int = 1) -> None:
        self.router = _Router()
        self.calls = 0
        self.failures = failures

    async def submit(self, make: Any, **extra: Any) -> list[object]:
        self.calls += 1
        if self.calls <= self.failures:
            raise StoreError("routing batch failed")
        event = make(0.0)
        self.router.state = event.state
        return []


async def test_an_agent_without_console_goes_offline_even_if_the_first_attempt_failed() -> None:
    service = _FlakyRouterService()
    presence = Presence(service, grace_s=0.01)  # type: ignore[arg-type]
    agent = uuid.uuid4()
    presence.disconnected(agent, still_connected=False)

    async def attempted() -> bool:
        return service.calls >= 1

    await wait_for(attempted, 5, "the grace period to end")

    async def offline() -> bool:
        return service.router.state is r.AgentState.OFFLINE

    try:
        await wait_for(offline, 5, "the agent to be set offline after the database came back")
    finally:
        await presence.close()


async def test_a_console_that_reconnects_while_the_database_is_down_stops_the_retries() -> None:
    service = _FlakyRouterService(failures=1000)
    presence = Presence(service, grace_s=0.01)  # type: ignore[arg-type]
    agent = uuid.uuid4()
    presence.disconnected(agent, still_connected=False)

    async def attempted() -> bool:
        return service.calls >= 1

    await wait_for(attempted, 5, "the grace period to end")
    timer = presence._timers[agent]
    presence.connected(agent)
    calls = service.calls
    await asyncio.wait_for(asyncio.gather(timer, return_exceptions=True), 5)  # the retrying ends, not sleeps on
    assert timer.cancelled()
    try:
        assert service.calls == calls
        assert service.router.state is r.AgentState.AVAILABLE
    finally:
        await presence.close()
