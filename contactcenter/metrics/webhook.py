"""POST supervisor alerts to ``alerts.webhook_url``, in the background, never holding anything up.

Alerts wait in a bounded queue (the oldest is dropped, and logged, if the
receiver is down long enough to fill it); one task sends them in order, each
with a timeout and a few retries with backoff for network errors, 5xx, 408 and
429. Any other answer is final: the receiver will not change its mind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

QUEUE_LIMIT = 100
TIMEOUT_S = 5.0
BACKOFF_S: tuple[float, ...] = (0.5, 2.0)  # waits before the 2nd and 3rd attempt


class AlertWebhook:
    def __init__(self, url: str, *, timeout_s: float = TIMEOUT_S, backoff_s: Sequence[float] = BACKOFF_S) -> None:
        self.url = url
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.backoff_s = tuple(backoff_s)
        self.sent = 0
        self.failed = 0
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_LIMIT)
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    def post(self, alert: dict[str, Any]) -> None:
        """Queue an alert for delivery; returns at once."""
        if self._queue.full():
            dropped = self._queue.get_nowait()
            log.warning("alert webhook backlog full; dropped %s", dropped.get("id"))
        self._queue.put_nowait(alert)

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self.timeout)
        self._task = asyncio.create_task(self._run(), name="alert-webhook")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        while True:
            alert = await self._queue.get()
            if await self._deliver(alert):
                self.sent += 1
            else:
                self.failed += 1

    async def _deliver(self, alert: dict[str, Any]) -> bool:
        assert self._session is not None
        for attempt in range(len(self.backoff_s) + 1):
            if attempt:
                await asyncio.sleep(self.backoff_s[attempt - 1])
            try:
                async with self._session.post(self.url, json=alert) as response:
                    if response.status < 300:
                        return True
                    if response.status < 500 and response.status not in (408, 429):
                        log.warning("alert webhook refused %s: HTTP %s", alert.get("id"), response.status)
                        return False
                    problem = f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = repr(exc)
            log.info("alert webhook attempt %d for %s failed: %s", attempt + 1, alert.get("id"), problem)
        log.warning("alert webhook gave up on %s", alert.get("id"))
        return False
