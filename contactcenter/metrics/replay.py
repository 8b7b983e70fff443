"""Metric facts read back from the store, for seeding "today" at start-up and for daily reports.

The routing effects already record every move as a touchpoint (offer, accept,
reject, revoke, transfer, wrap-up, close, abandon) and every presence change in
``agent_state_log``. One query streams those of a time range, in time order,
and they are replayed into a ``MetricsModel``: the numbers of a past day are
computed by the same code, with the same definitions, as the live ones.

The range ``[lo, hi)`` pulls in, besides its own facts, the earlier facts of
interactions still open at ``lo`` (so a wait or a talk that started before
midnight ends correctly) and each agent's last presence before ``lo``. Facts
before ``lo`` land in an earlier day, which the model drops.

Cost: one pass over the interactions table (there is no index on its times),
index lookups for their touchpoints; rows are streamed with a cursor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from contactcenter.db import Database
from contactcenter.metrics.model import MetricsModel

FACTS_SQL = """
WITH scope AS (
    SELECT i.id, i.channel, i.arrived_at,
           COALESCE((SELECT t.payload->>'from_queue' FROM touchpoints t
                      WHERE t.interaction_id = i.id AND t.kind = 'transfer' ORDER BY t.id LIMIT 1),
                    i.queue) AS first_queue
      FROM interactions i
     WHERE i.arrived_at < $2 AND (i.arrived_at >= $1 OR i.closed_at IS NULL OR i.closed_at >= $1)
)
SELECT s.arrived_at AS at, 0::bigint AS ord, 'arrived' AS kind, s.id::text AS interaction_id,
       NULL::text AS agent_id, s.first_queue AS queue, s.channel, NULL::text AS state, NULL::text AS reason
  FROM scope s
UNION ALL
SELECT t.created_at, t.id, t.kind, s.id::text, COALESCE(t.payload->>'agent_id', t.actor_id),
       t.payload->>'to_queue', s.channel, t.payload->>'state', t.payload->>'reason'
  FROM scope s JOIN touchpoints t ON t.interaction_id = s.id
 WHERE t.created_at < $2 AND t.kind IN ('offer', 'accept', 'reject', 'revoke', 'transfer', 'state_change')
UNION ALL
SELECT l.created_at, l.id, 'presence', NULL, l.agent_id::text, NULL, NULL, l.state, l.reason
  FROM agent_state_log l
 WHERE l.created_at >= $1 AND l.created_at < $2
UNION ALL
SELECT p.created_at, p.id, 'presence', NULL, a.id::text, NULL, NULL, p.state, p.reason
  FROM agents a CROSS JOIN LATERAL (
       SELECT created_at, id, state, reason FROM agent_state_log
        WHERE agent_id = a.id AND created_at < $1 ORDER BY created_at DESC LIMIT 1) p
ORDER BY at, ord
"""


@dataclass(frozen=True, slots=True)
class Fact:
    """One stored move, as the model needs it."""

    at: float
    kind: str  # "arrived", "presence", or a touchpoint kind
    interaction_id: str | None = None
    agent_id: str | None = None
    queue: str | None = None
    channel: str | None = None
    state: str | None = None
    reason: str | None = None


def apply_fact(model: MetricsModel, fact: Fact) -> None:
    """Feed one stored fact to the model (pure)."""
    iid, agent = fact.interaction_id or "", fact.agent_id or ""
    match fact.kind:
        case "arrived":
            model.queued(fact.at, iid, fact.queue or "", fact.channel or "", fact.at)
        case "presence":
            model.presence(fact.at, agent, fact.state or "offline", fact.reason)
        case "offer":
            model.offered(fact.at, iid, agent)
        case "reject" | "revoke":
            model.offer_ended(fact.at, iid, agent)
        case "accept":
            model.answered(fact.at, iid, agent)
        case "transfer":
            # a transfer to a named agent is stored without to_queue: it stays in its queue
            held = model.interactions.get(iid)
            queue = fact.queue or (held.queue if held is not None else None)
            if queue is not None:
                model.transferred(fact.at, iid, queue)
        case "state_change" if fact.state == "wrap_up":
            model.ended(fact.at, iid)
        case "state_change" if fact.state == "abandoned":
            model.abandoned(fact.at, iid)
        case "state_change" if fact.state == "closed" and fact.reason == "no_agent":
            model.timed_out(fact.at, iid)
        case "state_change" if fact.state == "closed":
            model.wrapup_ended(fact.at, iid)
        case _:
            pass  # requeues and escalations change no number


async def stored_facts(db: Database, lo: datetime, hi: datetime) -> AsyncIterator[Fact]:
    """The facts of ``[lo, hi)`` (and the context they need), in time order."""
    async with db.transaction(isolation="repeatable_read") as tx:
        async for row in tx.conn.cursor(FACTS_SQL, lo, hi, prefetch=2000):
            yield Fact(row["at"].timestamp(), row["kind"], row["interaction_id"], row["agent_id"], row["queue"],
                       row["channel"], row["state"], row["reason"])


async def replay(db: Database, model: MetricsModel, lo: datetime, hi: datetime) -> int:
    """Replay ``[lo, hi)`` into ``model``; return how many facts it read."""
    count = 0
    async for fact in stored_facts(db, lo, hi):
        apply_fact(model, fact)
        count += 1
    return count
