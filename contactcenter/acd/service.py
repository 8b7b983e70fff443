"""The one I/O shell around the router: serialise events, persist decisions, then notify.

Every routing event goes through one queue and one task, so the pure router is
never touched concurrently. The task takes whatever events are waiting as a
batch, runs them through the router, writes all their effects in ONE
statement (``cc_route_apply``: one round trip and one commit per batch, so
throughput hinges neither on commits nor on round trips per event), and only
after the commit notifies consoles and answers the callers.

If that transaction fails the router's memory is ahead of the store, so the
router is rebuilt from the store (retrying until the database is back); the
callers get the error and may retry. The same rebuild runs at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import routing as r
from contactcenter.acd.arrival import Arrival
from contactcenter.acd.effects import Effects
from contactcenter.acd.feed import AgentFeed
from contactcenter.acd.rebuild import rebuild_events
from contactcenter.db import Database, StoreError, retrying
from contactcenter.model import KEEP_WAITING, STANDARD_TIER

log = logging.getLogger(__name__)

NoAgentHandler = Callable[[uuid.UUID, str | None], Awaitable[None]]
# (change, interaction_id, details): "assigned" (agent_id, agent_name), "ended", "closed", "transferred"
# (to_queue, to_agent); details always carry queue, thread_key and, once answered, answered_after_s.
ChannelListener = Callable[[str, uuid.UUID, dict[str, Any]], Awaitable[None]]
# (at, event, decisions) after each committed batch, once per routed event, and (at, Rebuilt, decisions)
# after each committed rebuild; read-only (metrics)
RoutingObserver = Callable[[float, object, list[object]], None]
MAX_BATCH = 500


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """The event observers get after a rebuild: ``router`` now holds the state restored from the store.

    It comes with the decisions the new router made while replaying the store
    (``NoAgent`` for an interaction whose max wait passed while the server was
    down, escalations that fell due meanwhile, offers to the agents who are
    back). They are written to the store like any other, so the daily report
    counts them; an observer that only took the router's state would not (a
    closed interaction is not in it). They are decisions about the state
    before the rebuild: an observer applies them to what it knew, then takes
    the router's state as the truth.
    """

    router: r.Router


@dataclass(slots=True)
class _Job:
    make: Callable[[float], object]  # builds the routing event at the processing time
    actor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    future: asyncio.Future[list[object]] | None = None


class RouterService:
    def __init__(
        self,
        db: Database,
        feed: AgentFeed,
        config: r.RoutingConfig,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.feed = feed
        self.config = config
        self.clock = clock
        self.router = r.Router(config)
        self.no_agent_handlers: dict[str, NoAgentHandler] = {}
        self.channel_listeners: dict[str, ChannelListener] = {}
        self.observers: list[RoutingObserver] = []
        self._jobs: asyncio.Queue[_Job] = asyncio.Queue()
        self._timer_changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._side_tasks: set[asyncio.Task[None]] = set()
        self._last_at = 0.0
        self._stale = False
        self.decisions_total = 0

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        await self.rebuild()
        self._tasks = [
            asyncio.create_task(self._run(), name="router"),
            asyncio.create_task(self._timer(), name="router-timer"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def now(self) -> float:
        self._last_at = max(self._last_at, self.clock())
        return self._last_at

    async def rebuild(self) -> None:
        """Replace the router with one rebuilt from the store, and persist what it decides."""
        router = r.Router(self.config)
        effects = Effects()  # first the offers revoked by the rebuild, then what the new router decides
        decisions: list[object] = []
        async with self.db.transaction() as tx:
            events = await rebuild_events(tx, self.config, self.now(), effects)
            for event in events:
                decisions += router.handle(event)
            for decision in decisions:
                effects.decision(decision)
            await effects.apply(tx)
        self.router = router
        self._stale = False
        self.decisions_total += len(decisions)
        self.feed.publish(effects.agent_events)
        self._observe(self._last_at, Rebuilt(router), decisions)  # committed: observed once, like a batch
        self._tell_channels(effects)  # a rebuild decides too: no-agent closes, wrap-ups ended meanwhile
        self._timer_changed.set()
        log.info("router rebuilt from the store: %d events replayed", len(events))

    async def _apply(self, effects: Effects) -> None:
        async with self.db.connection() as tx:  # one statement: its own transaction
            await effects.apply(tx)

    # -- what callers ask for ------------------------------------------------------------------

    async def submit(
        self, make: Callable[[float], object], *, actor: str | None = None, **extra: Any
    ) -> list[object]:
        """Run one event through the router and the store; return the decisions it caused.

        Raises ``routing.RoutingError`` for a move the router refuses (nothing
        changed) and ``StoreError`` when the batch could not be committed.
        """
        future: asyncio.Future[list[object]] = asyncio.get_running_loop().create_future()
        self._jobs.put_nowait(_Job(make, actor, extra, future))
        return await future

    async def interaction_created(self, interaction_id: uuid.UUID) -> None:
        """Queue an interaction a channel has just committed (reads what routing needs of it)."""
        async with self.db.connection() as tx:
            row = await tx.conn.fetchrow(
                """SELECT i.queue, i.channel, i.priority, i.customer_id, c.tier,
                          extract(epoch FROM i.arrived_at) AS arrived,
                          coalesce((i.attributes->>$2)::boolean, false) AS keep_waiting,
                          (SELECT p.agent_id FROM interactions p
                            WHERE p.customer_id = i.customer_id AND p.agent_id IS NOT NULL
                              AND p.assigned_at IS NOT NULL ORDER BY p.assigned_at DESC LIMIT 1) AS last_agent
                   FROM interactions i JOIN customers c ON c.id = i.customer_id WHERE i.id = $1""",
                interaction_id, KEEP_WAITING,
            )
        await self.interaction_arrived(Arrival(
            interaction_id=interaction_id, queue=row["queue"], channel=row["channel"], priority=float(row["priority"]),
            customer_id=row["customer_id"], tier=row["tier"], arrived=float(row["arrived"]),
            last_agent_id=row["last_agent"], keep_waiting=row["keep_waiting"],
        ))

    async def interaction_arrived(self, arrival: Arrival) -> None:
        """Queue a committed interaction whose routing facts the caller already has.

        The router may hold it already: a rebuild from the store (after a batch
        failed to commit) runs before the next job and reads every committed
        interaction, this one included. That is the outcome the caller wanted,
        not an error to show the customer.
        """
        tier = arrival.tier if arrival.tier in self.config.tier_weights else STANDARD_TIER
        try:
            await self._submit_arrival(arrival, tier)
        except r.RoutingError as exc:
            if exc.code != r.ErrorCode.DUPLICATE_INTERACTION:
                raise
            log.info("interaction %s was already queued by the rebuild", arrival.interaction_id)

    async def _submit_arrival(self, arrival: Arrival, tier: str) -> None:
        await self.submit(
            lambda at: r.InteractionArrived(
                at=at,
                interaction_id=str(arrival.interaction_id),
                queue=arrival.queue,
                channel=r.Channel(arrival.channel),
                tier=tier,
                priority=arrival.priority,
                arrived_at=min(arrival.arrived, at),
                customer_id=str(arrival.customer_id),
                last_agent_id=None if arrival.last_agent_id is None else str(arrival.last_agent_id),
                keep_waiting=arrival.keep_waiting,
            )
        )

    # -- the loop ------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            batch = [await self._jobs.get()]
            while len(batch) < MAX_BATCH and not self._jobs.empty():
                batch.append(self._jobs.get_nowait())
            try:
                await self._process(batch)
            except Exception:  # never let the loop die; fail the callers and resynchronise
                log.exception("routing batch failed")
                self._fail(batch, StoreError("routing batch failed"))
                self._stale = True
            finally:
                self._timer_changed.set()

    def _fail(self, batch: list[_Job], exc: BaseException) -> None:
        for job in batch:
            if job.future is not None and not job.future.done():
                job.future.set_exception(exc)

    async def _process(self, batch: list[_Job]) -> None:
        if self._stale:
            try:
                await self.rebuild()
            except StoreError as exc:
                self._fail(batch, exc)
                return
        at = self.now()
        accepted: list[tuple[_Job, object, list[object]]] = []
        for job in batch:
            try:
                event = job.make(at)
                decisions = self.router.handle(event)
            except (r.RoutingError, ValueError) as exc:
                if job.future is not None and not job.future.done():
                    job.future.set_exception(exc)
                continue
            accepted.append((job, event, decisions))
        if not accepted:
            return
        effects = Effects()
        for job, event, decisions in accepted:
            effects.event(event, job.actor, job.extra)
            for decision in decisions:
                effects.decision(decision)
        try:
            if effects:
                await retrying(lambda: self._apply(effects))
        except StoreError as exc:
            log.warning("routing effects not committed (%s); the router will be rebuilt from the store", exc)
            self._stale = True
            self._fail([job for job, _, _ in accepted], exc)
            return
        self.feed.publish(effects.agent_events)
        for _, event, decisions in accepted:
            self._observe(at, event, decisions)
        for job, _, decisions in accepted:
            self.decisions_total += len(decisions)
            if job.future is not None and not job.future.done():
                job.future.set_result(decisions)
        self._tell_channels(effects)

    def _tell_channels(self, effects: Effects) -> None:
        """After commit: the channels' no-agent handlers and change listeners, each in its own task."""
        for interaction_id, channel, action in effects.no_agent:
            handler = self.no_agent_handlers.get(channel)
            if handler is not None:
                self._spawn(handler(interaction_id, action))
        for channel, change, interaction_id, details in effects.changes:
            listener = self.channel_listeners.get(channel)
            if listener is not None:
                self._spawn(listener(change, interaction_id, details))

    def _observe(self, at: float, event: object, decisions: list[object]) -> None:
        """Tell the observers what was committed; one failing never touches routing or the others."""
        for observer in self.observers:
            try:
                observer(at, event, decisions)
            except Exception:
                log.exception("routing observer failed")

    def _spawn(self, work: Awaitable[None]) -> None:
        """Run a channel's reaction after commit; its failure is logged, never the router's."""
        async def guarded() -> None:
            try:
                await work
            except Exception:
                log.exception("channel reaction failed")

        task = asyncio.create_task(guarded())
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def _timer(self) -> None:
        """Send a Tick when the router's next deadline comes (offer expiry, wrap-up, escalation)."""
        while True:
            self._timer_changed.clear()
            deadline = self.router.next_deadline()
            delay = None if deadline is None else max(0.0, deadline - self.clock())
            if self._stale:
                delay = 1.0 if delay is None else min(delay, 1.0)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._timer_changed.wait()
                    continue
            self._jobs.put_nowait(_Job(lambda at: r.Tick(at=at)))
            # wait for that tick to be processed before computing the next deadline
            await self._timer_changed.wait()
