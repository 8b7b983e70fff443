"""Deliver outbox rows for one channel, with retries, exactly once as far as we can tell.

A worker claims due rows (``FOR UPDATE SKIP LOCKED`` with a lease), hands each
to the channel's ``deliver`` coroutine, and records the outcome: sent; a
``TransientDeliveryError`` (connection refused, 4xx SMTP, 5xx HTTP, timeout)
is retried with exponential backoff and jitter; a ``PermanentDeliveryError``
(5xx SMTP, 4xx HTTP) is marked failed and shown to the agent as a delivery
status, and so is an ``OutcomeUnknownError`` (the message may have gone out
and the provider cannot de-duplicate a resend). A row whose worker died
mid-delivery, or whose outcome could not be written, is retried after its lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import cast

from contactcenter.acd.feed import AgentFeed
from contactcenter.db import Database, StoreError, StoreUnavailable
from contactcenter.model import ActorKind, TouchpointKind
from contactcenter.storable import storable_json, storable_text
from contactcenter.store import OutboxItem, Tx

log = logging.getLogger(__name__)


class TransientDeliveryError(Exception):
    """Delivery failed in a way that may succeed later."""


class PermanentDeliveryError(Exception):
    """Delivery can never succeed (bad address, refused by the provider)."""


class OutcomeUnknownError(PermanentDeliveryError):
    """The message may or may not have reached the provider, which cannot tell a resend from a new message.

    Raised when the request went out but no answer came back (a timeout, a dropped connection) and
    the provider has no idempotency key: a retry could give the customer the message twice. The row
    is marked failed with ``unknown outcome: ...`` so the agent is told and can check (the
    provider's delivery receipts still arrive if it did take the message) rather than be resent.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(f"unknown outcome: {detail}")


Deliver = Callable[[OutboxItem], Awaitable[dict[str, object] | None]]

# 2 ** 32 times any sensible base is far past any cap. Without this bound the exponent grows with
# every failure and ``base * 2 ** n`` overflows a float after ~1,024 of them (a few hours of outage).
_MAX_EXPONENT = 32


def backoff_delay(attempts: int, *, base: float = 2.0, cap: float = 300.0, rng: random.Random | None = None) -> float:
    """Seconds before the next attempt: exponential with full jitter, capped, for any number of attempts."""
    ceiling = min(cap, base * 2.0 ** min(max(0, attempts - 1), _MAX_EXPONENT))
    return (rng or random).uniform(ceiling / 2, ceiling)


class OutboxWorker:
    def __init__(
        self,
        db: Database,
        feed: AgentFeed,
        channel: str,
        deliver: Deliver,
        *,
        batch: int = 20,
        concurrency: int = 8,
        lease: timedelta = timedelta(minutes=2),
        idle_poll_s: float = 1.0,
        max_attempts: int = 50,
        retry_base_s: float = 2.0,
        retry_cap_s: float = 300.0,
    ) -> None:
        self.db = db
        self.feed = feed
        self.channel = channel
        self.deliver = deliver
        self.batch = batch
        self.lease = lease
        self.idle_poll_s = idle_poll_s
        self.max_attempts = max_attempts
        self.retry_base_s = retry_base_s
        self.retry_cap_s = retry_cap_s
        # Called after each outcome is written (metrics, and tests that wait instead of sleeping).
        self.recorded_listeners: list[Callable[[OutboxItem, str | None], None]] = []
        self._wakeup = asyncio.Event()
        self._slots = asyncio.Semaphore(concurrency)
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Something was enqueued: look now instead of at the next poll."""
        self._wakeup.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox-{self.channel}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        """Claim due rows and deliver them until stopped.

        Only cancellation ends this loop: if the task died, every message of the channel would wait
        in the outbox unsent, with one log line to say why. A failed claim (the database is away) or
        anything unexpected is logged and tried again after a backoff of at most 30 s.
        """
        failures = 0
        while True:
            try:
                await self._round()
                failures = 0
            except Exception as exc:
                failures += 1
                if isinstance(exc, StoreError):
                    log.warning("outbox %s: cannot claim rows: %s", self.channel, exc)
                else:
                    log.exception("outbox %s: unexpected error in the worker loop; carrying on", self.channel)
                await asyncio.sleep(min(30.0, backoff_delay(failures)))

    async def _round(self) -> None:
        """Deliver one batch of due rows, or wait for a wake-up (or the next poll) when there are none."""
        async with self.db.transaction() as tx:
            items = await tx.outbox.claim_due(self.channel, limit=self.batch, lease=self.lease)
        if items:
            await asyncio.gather(*(self._one(item) for item in items))
            return
        self._wakeup.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.idle_poll_s):
                await self._wakeup.wait()

    async def _one(self, item: OutboxItem) -> None:
        """Deliver ``item`` and record what happened; never raises (a failure to record leaves it to the lease)."""
        async with self._slots:
            try:
                await self._deliver_and_record(item)
            except Exception:
                log.exception("outbox %s: handling %s failed unexpectedly; it is retried after its lease",
                              self.channel, item.id)

    async def _deliver_and_record(self, item: OutboxItem) -> None:
        try:
            receipt = await self.deliver(item)
        except PermanentDeliveryError as exc:  # including OutcomeUnknownError: never resent automatically
            await self._record(item, failed=str(exc))
        except Exception as exc:  # transient, or a bug in the adapter: retry, never drop
            if not isinstance(exc, TransientDeliveryError):
                log.exception("outbox %s: delivery of %s raised unexpectedly", self.channel, item.id)
            if item.attempts >= self.max_attempts:
                await self._record(item, failed=f"gave up after {item.attempts} attempts: {exc}")
            else:
                delay = backoff_delay(item.attempts, base=self.retry_base_s, cap=self.retry_cap_s)
                log.info("outbox %s: %s attempt %d failed (%s); retry in %.1fs",
                         self.channel, item.id, item.attempts, exc, delay)
                with contextlib.suppress(StoreError):
                    async with self.db.transaction() as tx:
                        await tx.outbox.retry_later(item.id, delay=timedelta(seconds=delay),
                                                    error=storable_text(str(exc)))
                asyncio.get_running_loop().call_later(delay, self.wake)
        else:
            await self._record(item, receipt=receipt or {})

    async def _record(self, item: OutboxItem, *, failed: str | None = None,
                      receipt: dict[str, object] | None = None) -> None:
        """Mark the row and add a delivery-status touchpoint (failures also reach the agent).

        An outcome that is not written leaves the row pending, and after its lease the message is
        delivered again: a second copy for the customer if it had gone out. So that happens as
        rarely as we simply can: provider text is made storable first; a database that is away is
        waited for (up to half the lease, after which another claim may be under way); and if the
        database refuses the outcome itself, the row's bare status is written without the details.
        """
        failed = None if failed is None else storable_text(failed)
        details = cast(dict[str, object], storable_json(receipt or {}))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lease.total_seconds() / 2
        tries = 0
        while True:
            tries += 1
            try:
                async with self.db.transaction() as tx:
                    await _mark(tx, item, failed)
                    events = await record_delivery(tx, item, "sent" if failed is None else "failed",
                                                   error=failed, details=details)
                break
            except StoreUnavailable as exc:
                delay = backoff_delay(tries, base=0.5, cap=10.0)
                if loop.time() + delay > deadline:
                    log.warning("outbox %s: could not record the outcome of %s: %s (lease will retry)",
                                self.channel, item.id, exc)
                    return
                await asyncio.sleep(delay)
            except StoreError as exc:  # the same write would fail again: keep at least the row's status
                log.warning("outbox %s: the outcome of %s was refused (%s); recording its status alone",
                            self.channel, item.id, exc)
                try:
                    async with self.db.transaction() as tx:
                        await _mark(tx, item, failed)
                except StoreError as again:
                    log.warning("outbox %s: could not record the outcome of %s: %s (lease will retry)",
                                self.channel, item.id, again)
                    return
                events = []
                break
        self.feed.publish(events)
        for listener in self.recorded_listeners:
            listener(item, failed)


async def _mark(tx: Tx, item: OutboxItem, failed: str | None) -> None:
    """Set the row's final status: sent, or failed with the error ``failed``."""
    if failed is None:
        await tx.outbox.mark_sent(item.id)
    else:
        await tx.outbox.mark_failed(item.id, failed)


async def record_delivery(tx: Tx, item: OutboxItem, status: str, *, error: str | None = None,
                          details: dict[str, object] | None = None) -> list:
    """A delivery_status touchpoint for ``item``; failures are sent to the interaction's agent."""
    if item.interaction_id is None:
        return []
    return await record_delivery_status(tx, item.interaction_id, touchpoint_id=item.touchpoint_id,
                                        outbox_id=item.id, status=status, error=error, details=details,
                                        tell_agent=status != "sent")


async def record_delivery_status(tx: Tx, interaction_id: uuid.UUID, *, touchpoint_id: int | None,
                                 outbox_id: int | None, status: str, error: str | None = None,
                                 details: dict[str, object] | None = None, tell_agent: bool) -> list:
    """What became of an outbound message: a delivery_status touchpoint, and if ``tell_agent``, a
    ``delivery`` event for the agent holding the interaction. Senders and gateway receipts share it."""
    interaction = await tx.interactions.get(interaction_id)
    payload = {"touchpoint_id": touchpoint_id, "outbox_id": outbox_id, "status": status, **(details or {})}
    if error:
        payload["error"] = error
    touchpoint = await tx.touchpoints.append(
        customer_id=interaction.customer_id, interaction_id=interaction.id, kind=TouchpointKind.DELIVERY_STATUS,
        channel=interaction.channel, actor_kind=ActorKind.SYSTEM, payload=payload,
    )
    if not tell_agent or interaction.agent_id is None:
        return []
    event = await tx.agent_events.append(interaction.agent_id, "delivery", {
        "interaction_id": str(interaction.id), "touchpoint_id": touchpoint_id, "status": status,
        "error": error, "status_touchpoint_id": touchpoint.id})
    return [event]
