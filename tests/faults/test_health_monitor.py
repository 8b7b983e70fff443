"""The database health monitor: when it calls the database degraded or ok, and whom it tells."""

from __future__ import annotations

from typing import Any

import pytest

from contactcenter.db import StoreUnavailable
from contactcenter.db.health import DatabaseHealth
from tests.support import wait_for


class SwitchableDb:
    """Stands in for ``Database``: ``fetchval`` answers while ``up``."""

    def __init__(self) -> None:
        self.up = True
        self.probes = 0

    async def fetchval(self, query: str, *args: Any) -> Any:
        self.probes += 1
        if not self.up:
            raise StoreUnavailable("database unavailable: connection refused")
        return 1


def _monitor(db: SwitchableDb) -> tuple[DatabaseHealth, list[bool]]:
    health = DatabaseHealth(db, failures_to_degrade=2)  # type: ignore[arg-type]
    changes: list[bool] = []

    def broken(_: bool) -> None:
        raise RuntimeError("a listener's bug")

    health.listeners.extend([broken, changes.append])  # one failing listener does not stop the next
    return health, changes


async def test_two_failed_probes_degrade_and_one_good_probe_recovers() -> None:
    db = SwitchableDb()
    health, changes = _monitor(db)
    assert await health.probe() and health.healthy and changes == []
    db.up = False
    assert not await health.probe()
    assert health.healthy and changes == []  # one failure may be a blip
    assert not await health.probe()
    assert not health.healthy and changes == [False]
    assert "connection refused" in (health.last_error or "")
    assert not await health.probe()
    assert changes == [False]  # told once per change
    db.up = True
    assert await health.probe()
    assert health.healthy and changes == [False, True]


async def test_it_runs_as_a_cleanup_ctx_pair_and_probes_when_poked() -> None:
    db = SwitchableDb()
    health = DatabaseHealth(db, healthy_every_s=60.0, degraded_every_s=0.01)  # type: ignore[arg-type]
    lifecycle = health.running(None)
    await anext(lifecycle)  # the app starts: a first probe right away

    async def probed(times: int) -> bool:
        return db.probes >= times

    await wait_for(lambda: probed(1), 5, "the start-up probe")
    health.poke()  # a request just met StoreUnavailable: look now, not in a minute
    await wait_for(lambda: probed(2), 5, "a probe after the poke")
    with pytest.raises(StopAsyncIteration):
        await anext(lifecycle)  # the app stops: so does the monitor
    assert health._task is None
