"""The live metrics service: the model fed by the router, alerts, the chart history, and pushes.

``LiveMetrics`` registers itself as a ``RouterService`` observer, seeds today's
numbers from the store once at start-up, and runs one loop that wakes on a
routing change (or every ``heartbeat_s``), evaluates the alerts, takes a chart
sample when one is due and hands the supervisor hub at most one ``update`` per
``min_interval_s``: changes within that second are coalesced into one message,
serialised once for every connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from contactcenter.acd.service import RouterService
from contactcenter.config import Settings
from contactcenter.db import Database, StoreError
from contactcenter.metrics.alerts import AlertRules
from contactcenter.metrics.history import QueueHistory
from contactcenter.metrics.model import MetricsModel
from contactcenter.metrics.observer import RoutingMetrics, queue_targets
from contactcenter.metrics.prometheus import registry_for
from contactcenter.metrics.replay import replay
from contactcenter.metrics.views import agent_rows, channel_rows, queue_rows, waiting_rows
from contactcenter.metrics.webhook import AlertWebhook

log = logging.getLogger(__name__)

# (kind, JSON text): "alert" messages must each arrive; of "update" messages only the latest matters
Subscriber = Callable[[str, str], None]
OUTBOX_CACHE_S = 5.0


class LiveMetrics:
    def __init__(self, settings: Settings, router: RouterService, db: Database, *,
                 clock: Callable[[], float] = time.time, min_interval_s: float = 1.0,
                 heartbeat_s: float = 5.0) -> None:
        self.settings = settings
        self.router = router
        self.db = db
        self.clock = clock
        self.min_interval_s = min_interval_s
        self.heartbeat_s = heartbeat_s
        self.tz = ZoneInfo(settings.server.timezone)
        self.model = MetricsModel(queue_targets(router.config, settings.queues), self.tz)
        self._wake = asyncio.Event()
        self.routing = RoutingMetrics(self.model, router.config, on_change=self._wake.set)
        router.observers.append(self.routing)
        self.alerts = AlertRules()
        self.history = QueueHistory()
        url = settings.alerts.webhook_url
        self.webhook = AlertWebhook(str(url)) if url is not None else None
        self.subscribers: list[Subscriber] = []
        # whether anyone would read an update now (the supervisor hub: any connection open)
        self.audience: Callable[[], bool] = lambda: bool(self.subscribers)
        self.outbox_pending: dict[str, int] = {}
        self.registry = registry_for(self)
        self._outbox_at = -math.inf
        self._pushed_version = -1
        self._pushed_at = -math.inf
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        await self.seed()
        if self.webhook is not None:
            await self.webhook.start()
        self._task = asyncio.create_task(self._run(), name="live-metrics")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.webhook is not None:
            await self.webhook.stop()

    async def seed(self) -> None:
        """Today's numbers from the store: one query, replayed through the model (docs/metrics.md)."""
        now = self.clock()
        midnight = datetime.fromtimestamp(now, self.tz).replace(hour=0, minute=0, second=0, microsecond=0)
        try:
            count = await replay(self.db, self.model, midnight, datetime.fromtimestamp(now, self.tz) + timedelta(1))
        except StoreError as exc:
            log.warning("metrics start without today's history: %s", exc)
            return
        if self.router.router.now > 0:  # the router was rebuilt before us: its state is the truth
            self.routing.restore(now, self.router.router)
        self._wake.set()
        log.info("metrics seeded from %d stored facts since %s", count, midnight.isoformat())

    # -- what readers get ----------------------------------------------------------------------

    def labels(self) -> dict[str, str]:
        return {name: q.label or name for name, q in self.settings.queues.items()}

    def state(self, now: float, queues: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Everything the supervisor view shows, as of ``now``."""
        labels = self.labels()
        rows = queue_rows(self.model, now) if queues is None else queues
        return {
            "at": now,
            "queues": [{**row, "label": labels.get(row["queue"], row["queue"])} for row in rows],
            "channels": channel_rows(self.model, now),
            "agents": agent_rows(self.model, now),
            "waiting": waiting_rows(self.model, now),
            "alerts": [a.to_json() for a in self.alerts.active.values()],
        }

    def snapshot(self) -> dict[str, Any]:
        """The first message of a supervisor connection: the state and the last hour of samples."""
        return {"type": "snapshot", **self.state(self.clock()), "history": list(self.history.samples)}

    async def refresh_outbox(self) -> dict[str, int]:
        """Pending outbox rows by channel, read at most every ``OUTBOX_CACHE_S`` (for /metrics)."""
        now = self.clock()
        if now - self._outbox_at >= OUTBOX_CACHE_S:
            async with self.db.connection() as tx:
                self.outbox_pending = await tx.outbox.backlog()
            self._outbox_at = now
        return self.outbox_pending

    # -- the push loop -------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Evaluate alerts, sample the charts, and publish what is due."""
        queues = queue_rows(self.model, now)
        changes = self.alerts.evaluate(now, queues)
        sample = self.history.sample(now, queues)
        for alert in changes:
            body = alert.to_json()
            log.info("alert %s %s (value %s, threshold %s)", body["id"], body["status"], body["value"],
                     body["threshold"])
            if self.webhook is not None:
                self.webhook.post(body)
            self._publish("alert", {"type": "alert", "alert": body})
        due = (self.model.version != self._pushed_version or changes or sample is not None
               or now - self._pushed_at >= self.heartbeat_s)
        if due and self.audience():  # the full state is built only for someone to read it
            self._pushed_version, self._pushed_at = self.model.version, now
            self._publish("update", {"type": "update", **self.state(now, queues), "sample": sample})

    def _publish(self, kind: str, message: dict[str, Any]) -> None:
        if not self.subscribers:
            return
        text = json.dumps(message, ensure_ascii=False)
        for subscriber in self.subscribers:
            subscriber(kind, text)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.heartbeat_s):
                    await self._wake.wait()
            self._wake.clear()
            try:
                self.tick(self.clock())
            except Exception:
                log.exception("metrics tick failed")
            await asyncio.sleep(self.min_interval_s)  # what changes meanwhile goes out together


METRICS: web.AppKey[LiveMetrics] = web.AppKey("metrics", LiveMetrics)


async def metrics_context(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx`` pair: seed and start before the router starts (its rebuild then restores the model)."""
    live = app[METRICS]
    await live.start()
    yield
    await live.stop()
