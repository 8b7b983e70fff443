"""The outbox worker that sends SMS (and e-mail) keeps going through outages and its own surprises.

A worker task that ends leaves every message of its channel waiting unsent, so nothing but
``stop()`` may end it: not hours of failed claims, not an error nobody foresaw.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import types
from collections.abc import AsyncIterator
from typing import Any

import pytest

import contactcenter.outbox_worker as outbox_worker
from contactcenter.db import StoreUnavailable
from contactcenter.outbox_worker import OutboxWorker, backoff_delay


class _DownDatabase:
    """Every transaction fails as ``error()`` says (a database that is down); counts the attempts."""

    def __init__(self, enough: int, error: type[Exception] = StoreUnavailable) -> None:
        self.calls = 0
        self.enough = enough
        self.error = error
        self.reached = asyncio.Event()

    @contextlib.asynccontextmanager
    async def transaction(self, **_: Any) -> AsyncIterator[None]:
        self.calls += 1
        if self.calls >= self.enough:
            self.reached.set()
        raise self.error("database unavailable: connection refused")
        yield  # pragma: no cover


@pytest.fixture
def no_backoff_sleeps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip the worker's own backoff sleeps (up to 30 s each), so hours of failed claims take a moment."""
    real_sleep = asyncio.sleep

    async def no_wait(_delay: float) -> None:
        await real_sleep(0)

    monkeypatch.setattr(outbox_worker, "asyncio", types.SimpleNamespace(**{**vars(asyncio), "sleep": no_wait}))


async def _survives(db: _DownDatabase) -> None:
    """Run a worker against ``db`` until it has failed ``db.enough`` claims; fail if its task ends first."""
    feed: Any = types.SimpleNamespace(publish=lambda events: None)

    async def deliver(item: Any) -> None:
        return None

    worker = OutboxWorker(db, feed, "sms", deliver)  # type: ignore[arg-type]
    await worker.start()
    task = worker._task
    assert task is not None
    reached = asyncio.ensure_future(db.reached.wait())
    try:
        await asyncio.wait({task, reached}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        died = task.done() and not task.cancelled()
        error = task.exception() if died else None
        assert not died, f"the outbox worker died after {db.calls} failed claims: {error!r}"
        assert db.reached.is_set()
    finally:
        reached.cancel()
        if not task.done():
            await worker.stop()


@pytest.mark.usefixtures("no_backoff_sleeps")
async def test_the_worker_outlives_a_long_database_outage() -> None:
    # ~1,100 failed claims: about seven hours of outage in production
    await _survives(_DownDatabase(enough=1100))


@pytest.mark.usefixtures("no_backoff_sleeps")
async def test_an_unexpected_error_does_not_end_the_worker() -> None:
    await _survives(_DownDatabase(enough=20, error=RuntimeError))


def test_the_backoff_stays_within_its_cap_after_any_number_of_failures() -> None:
    rng = random.Random(7)
    for attempts in (0, 1, 2, 9, 10, 1024, 1025, 10**6):
        delay = backoff_delay(attempts, base=2.0, cap=300.0, rng=rng)
        assert 0 < delay <= 300.0, (attempts, delay)
    assert 150.0 <= backoff_delay(10**6, rng=rng) <= 300.0  # capped, not overflowed or wrapped
    assert 1.0 <= backoff_delay(1, rng=rng) <= 2.0
