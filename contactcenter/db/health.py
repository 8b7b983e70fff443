"""Watch whether the database answers, and tell listeners when that changes.

Requests find out about an outage on their own (``StoreUnavailable`` → 503),
but people connected over websockets only learn of it if someone tells them:
an agent should see "the service is degraded" rather than wonder why nothing
arrives, and "recovered" when it is back, without reconnecting. This monitor
probes the pool with ``SELECT 1``: every ``healthy_every_s`` while all is well,
every ``degraded_every_s`` while it is not, so recovery is noticed within about
a second. ``poke()`` asks for a probe now (say, from a request that just got
``StoreUnavailable``).

One failed probe can be a blip (every pooled connection busy for a moment),
so it takes ``failures_to_degrade`` failures in a row, ``degraded_every_s``
apart, to call the database degraded; one good probe calls it healthy again.

Listeners are plain callables taking the new state (``True``: healthy). They
run on the event loop and must not block; a listener that raises is logged
and the others still run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from contactcenter.db.database import Database, StoreError

log = logging.getLogger(__name__)

HealthListener = Callable[[bool], None]


class DatabaseHealth:
    def __init__(
        self,
        db: Database,
        *,
        healthy_every_s: float = 5.0,
        degraded_every_s: float = 1.0,
        timeout_s: float = 3.0,
        failures_to_degrade: int = 2,
    ) -> None:
        self.db = db
        self.healthy_every_s = healthy_every_s
        self.degraded_every_s = degraded_every_s
        self.timeout_s = timeout_s
        self.failures_to_degrade = max(1, failures_to_degrade)
        self.healthy = True
        self.listeners: list[HealthListener] = []
        self.last_error: str | None = None
        self._failures = 0
        self._poked = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="database-health")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def running(self, _app: object) -> AsyncIterator[None]:
        """For ``app.cleanup_ctx``: probe while the app runs."""
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    def poke(self) -> None:
        """Probe now instead of at the next interval (cheap; safe to call on every failure)."""
        self._poked.set()

    # -- probing -------------------------------------------------------------------------------

    async def probe(self) -> bool:
        """One ``SELECT 1`` within ``timeout_s``; updates the state and tells listeners of a change."""
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.db.fetchval("SELECT 1")
        except (StoreError, TimeoutError) as exc:
            self._failures += 1
            self.last_error = str(exc) or type(exc).__name__
            if self.healthy and self._failures >= self.failures_to_degrade:
                log.warning("database degraded: %s", self.last_error)
                self._set(False)
            return False
        self._failures = 0
        self.last_error = None
        if not self.healthy:
            log.warning("database recovered")
            self._set(True)
        return True

    def _set(self, healthy: bool) -> None:
        self.healthy = healthy
        for listener in list(self.listeners):
            try:
                listener(healthy)
            except Exception:
                log.exception("database health listener failed")

    def _interval(self) -> float:
        suspect = not self.healthy or self._failures > 0
        return self.degraded_every_s if suspect else self.healthy_every_s

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await self.probe()
            except Exception:  # never let the monitor die: a dead monitor would say "healthy" forever
                log.exception("database health probe failed unexpectedly")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval()):
                    await self._poked.wait()
            self._poked.clear()
            # However often it is poked, probe at most once per degraded_every_s.
            gap = self.degraded_every_s - (loop.time() - started)
            if gap > 0:
                await asyncio.sleep(gap)
