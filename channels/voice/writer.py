"""Write everything the SIP side produces, many items per transaction, a few transactions at a time.

Arrivals, call-event touchpoints and registration changes queue up here while
earlier transactions commit; the next transaction takes all of them (group
commit). A burst of INVITEs therefore costs a few commits, not one per call,
and batches grow by themselves exactly when the database is the bottleneck.
Up to ``CONCURRENT_BATCHES`` transactions are in flight at once, because on a
busy machine a batch's latency is mostly round trips waiting for the
scheduler, not work: a second and third batch fill those waits. Concurrent
batches cannot deadlock with each other: they take identity advisory locks in
one global order and never wait for an interaction row (see
``_write_touchpoints``). Registration changes are written by one batch at a
time, in the order they happened.

After a commit the arrivals go to ``on_filed`` (synchronously, so the 182s
leave in the same turn of the event loop) and touchpoint waiters are woken.
If a transaction fails, its arrivals are reported with ``None`` and its
waiters get the exception: nothing here retries on its own.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from channels.voice.arrivals import NewCall, StoredCall, store_calls
from channels.voice.store import VoiceStore
from contactcenter.db import Database, StoreUnavailable
from contactcenter.model import ActorKind, TouchpointKind
from contactcenter.store import Tx

log = logging.getLogger(__name__)

MAX_BATCH = 500  # arrivals per transaction; each takes one advisory lock from the shared lock table
CONCURRENT_BATCHES = 3  # transactions in flight (the pool's default size is 10)
RETRY_DELAY = 0.005  # seconds before touchpoints whose interaction was locked are tried again


@dataclass(slots=True)
class _Touchpoint:
    interaction_id: uuid.UUID
    event: str
    actor_kind: ActorKind
    details: dict[str, Any]
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass(slots=True)
class WriterCounters:
    batches: int = 0
    calls_written: int = 0
    touchpoints_written: int = 0
    touchpoints_deferred: int = 0
    failed_batches: int = 0
    largest_batch: int = 0


Filed = Callable[[Sequence[object], Sequence[StoredCall | None]], None]


class BatchWriter:
    """Group-commits arrivals (with an opaque tag each), call-event touchpoints and registrations."""

    def __init__(self, db: Database, on_filed: Filed) -> None:
        self.db = db
        self.on_filed = on_filed
        self.counters = WriterCounters()
        self._calls: list[tuple[object, NewCall]] = []
        self._touchpoints: list[_Touchpoint] = []
        self._registrations: list[tuple[str, str, int | None]] = []  # (user, contact, expires or None = gone)
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._retry: asyncio.TimerHandle | None = None
        self._batches: set[asyncio.Task[None]] = set()
        self._registrations_busy = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="voice-writer")

    async def stop(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        tasks = [t for t in (self._task, *self._batches) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None

    # -- what callers queue --------------------------------------------------------------------

    def add_call(self, tag: object, call: NewCall) -> None:
        self._calls.append((tag, call))
        self._kick()

    def touchpoint(
        self, interaction_id: uuid.UUID, event: str, actor_kind: ActorKind, details: dict[str, Any]
    ) -> asyncio.Future[None]:
        """Queue a ``call_event`` touchpoint; the future completes after its commit."""
        job = _Touchpoint(interaction_id, event, actor_kind, details)
        self._touchpoints.append(job)
        self._kick()
        return job.done

    def registration(self, user: str, contact: str, expires: int | None) -> None:
        self._registrations.append((user, contact, expires))
        self._kick()

    async def idle(self) -> None:
        """Wait until everything queued so far is written (or has failed)."""
        await self._idle.wait()

    def _kick(self) -> None:
        self._idle.clear()
        self._wake.set()

    def _retry_now(self) -> None:
        self._retry = None
        self._kick()

    # -- the loop ------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while len(self._batches) < CONCURRENT_BATCHES and self._has_work():
                calls, self._calls = self._calls[:MAX_BATCH], self._calls[MAX_BATCH:]
                touchpoints, self._touchpoints = self._touchpoints[:MAX_BATCH], self._touchpoints[MAX_BATCH:]
                registrations: list[tuple[str, str, int | None]] = []
                if not self._registrations_busy:
                    registrations, self._registrations = self._registrations, []
                    self._registrations_busy = bool(registrations)
                task = asyncio.create_task(self._batch(calls, touchpoints, registrations))
                self._batches.add(task)
            if not self._batches and not self._has_work() and self._retry is None:
                self._idle.set()

    def _has_work(self) -> bool:
        # deferred touchpoints alone wait for the retry timer rather than spin
        return bool(self._calls or (self._registrations and not self._registrations_busy)
                    or (self._touchpoints and self._retry is None))

    async def _batch(
        self,
        calls: list[tuple[object, NewCall]],
        touchpoints: list[_Touchpoint],
        registrations: list[tuple[str, str, int | None]],
    ) -> None:
        try:
            await self._write(calls, touchpoints, registrations)
        except StoreUnavailable as exc:
            self._failed(calls, touchpoints, exc)
        except Exception as exc:
            if len(calls) + len(touchpoints) + len(registrations) == 1:
                self._failed(calls, touchpoints, exc)
            else:  # one bad item (text the database refuses, say) must not sink the others: one by one
                log.warning("voice batch failed (%s); writing its items one by one", exc)
                await self._one_by_one(calls, touchpoints, registrations)
        finally:
            if registrations:
                self._registrations_busy = False
            task = asyncio.current_task()
            if task is not None:
                self._batches.discard(task)
            self._kick()  # a slot is free: take what queued meanwhile, or notice we are idle

    async def _write(
        self,
        calls: list[tuple[object, NewCall]],
        touchpoints: list[_Touchpoint],
        registrations: list[tuple[str, str, int | None]],
    ) -> None:
        """One transaction; raises (reporting nothing) when it fails, reports everything when it commits."""
        size = len(calls) + len(touchpoints) + len(registrations)
        async with self.db.transaction() as tx:
            for user, contact, expires in registrations:
                if expires is None:
                    await VoiceStore.delete_registration(tx, user, contact)
                else:
                    await VoiceStore.save_registration(tx, user, contact, expires)
            stored: list[StoredCall | None] = list(await store_calls(tx, [c for _, c in calls])) if calls else []
            written, deferred = await _write_touchpoints(tx, touchpoints) if touchpoints else ([], [])
        counters = self.counters
        counters.batches += 1
        counters.calls_written += len(calls)
        counters.touchpoints_written += len(written)
        counters.touchpoints_deferred += len(deferred)
        counters.largest_batch = max(counters.largest_batch, size)
        for job in written:
            if not job.done.done():
                job.done.set_result(None)
        if deferred:  # their rows were busy: try again shortly (not at once, or the loop would spin)
            self._touchpoints[:0] = deferred
            if self._retry is None:
                self._retry = asyncio.get_running_loop().call_later(RETRY_DELAY, self._retry_now)
        if calls:
            self.on_filed([tag for tag, _ in calls], stored)


    async def _one_by_one(
        self,
        calls: list[tuple[object, NewCall]],
        touchpoints: list[_Touchpoint],
        registrations: list[tuple[str, str, int | None]],
    ) -> None:
        for registration in registrations:
            try:
                await self._write([], [], [registration])
            except Exception as exc:
                log.warning("voice: registration %s not stored: %s", registration[:2], exc)
        for call in calls:
            try:
                await self._write([call], [], [])
            except Exception as exc:
                self._failed([call], [], exc)
        for job in touchpoints:
            try:
                await self._write([], [job], [])
            except Exception as exc:
                self._failed([], [job], exc)

    def _failed(self, calls: list[tuple[object, NewCall]], touchpoints: list[_Touchpoint], exc: Exception) -> None:
        """Tell the owners: arrivals are filed as ``None``, touchpoint waiters get ``exc``."""
        self.counters.failed_batches += 1
        log.warning("voice: %d calls and %d call events not written: %s", len(calls), len(touchpoints), exc)
        for job in touchpoints:
            if not job.done.done():
                job.done.set_exception(exc)
        if calls:
            self.on_filed([tag for tag, _ in calls], [None] * len(calls))


async def _write_touchpoints(tx: Tx, jobs: list[_Touchpoint]) -> tuple[list[_Touchpoint], list[_Touchpoint]]:
    """Write the touchpoints whose interactions can be locked without waiting; return (written, deferred).

    A touchpoint's foreign key share-locks its interaction, and the router's
    batches lock many interactions ``FOR UPDATE`` in their own order. Waiting
    for rows while holding others could deadlock with them, so the batch
    takes only the rows free right now (``SKIP LOCKED``) and leaves the rest
    for the next batch: this transaction never waits for a row lock.
    Touchpoints of interactions that do not exist are failed, not deferred.
    """
    ids = sorted({job.interaction_id for job in jobs})
    existing = {r[0] for r in await tx.conn.fetch("SELECT id FROM interactions WHERE id = ANY($1::uuid[])", ids)}
    free = {
        r[0]
        for r in await tx.conn.fetch(
            "SELECT id FROM interactions WHERE id = ANY($1::uuid[]) ORDER BY id FOR KEY SHARE SKIP LOCKED", ids)
    }
    for job in jobs:
        if job.interaction_id not in existing and not job.done.done():
            job.done.set_exception(LookupError(f"no interaction {job.interaction_id}"))
    ready = [job for job in jobs if job.interaction_id in free]
    deferred = [job for job in jobs if job.interaction_id in existing and job.interaction_id not in free]
    if ready:
        await tx.conn.execute(
            """INSERT INTO touchpoints (customer_id, interaction_id, kind, channel, actor_kind, payload, created_at)
               SELECT i.customer_id, u.interaction_id, $1, 'voice', u.actor_kind, u.payload, clock_timestamp()
               FROM unnest($2::uuid[], $3::text[], $4::jsonb[]) WITH ORDINALITY
                    AS u(interaction_id, actor_kind, payload, n)
               JOIN interactions i ON i.id = u.interaction_id
               ORDER BY u.n""",
            str(TouchpointKind.CALL_EVENT),
            [job.interaction_id for job in ready],
            [str(job.actor_kind) for job in ready],
            [{"event": job.event, **job.details} for job in ready],
        )
    return ready, deferred
