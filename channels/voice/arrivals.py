"""Group commit of arriving calls: a whole batch of INVITEs becomes customers, interactions and
touchpoints in one transaction of a handful of set-based statements.

This is ``Intake.receive`` for many calls at once, with the same rules:
the Call-ID is claimed in ``inbound_dedupe`` (a call seen before is reported,
not stored twice), the customer is found or created under the same
per-identity advisory lock ``CustomerStore.find_or_create`` takes (so an SMS
from the same number at the same moment still makes one customer), and the
inbound touchpoint is linked to its dedupe key. The difference is the cost:
four to six round trips per *batch* instead of seven per call, which is what
lets one process queue thousands of calls a second. Ids are made by
PostgreSQL inside the statements and matched back by each input row's
ordinality, never by the order RETURNING happens to use.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from contactcenter.model import STANDARD_TIER, ActorKind, TouchpointKind
from contactcenter.store import Tx

CHANNEL = "voice"


@dataclass(frozen=True, slots=True)
class NewCall:
    """One call to store; ``dedupe_key`` is ``"sip:" + Call-ID`` and is also the thread key."""

    dedupe_key: str
    identity_kind: str
    address: str
    display_name: str
    queue: str
    body: str
    attributes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredCall:
    """Where a call was filed. ``created`` is False for a Call-ID seen before (nothing stored now)."""

    interaction_id: uuid.UUID
    customer_id: uuid.UUID
    created: bool
    tier: str = STANDARD_TIER
    arrived_at: float = 0.0
    last_agent_id: uuid.UUID | None = None


async def store_calls(tx: Tx, calls: Sequence[NewCall]) -> list[StoredCall]:
    """Store ``calls`` inside ``tx``; one result per call, in order. Dedupe keys must be distinct."""
    keys = [c.dedupe_key for c in calls]
    if len(set(keys)) != len(keys):
        raise ValueError("a batch must not hold the same call twice")
    conn = tx.conn
    claimed = {
        row[0]
        for row in await conn.fetch(
            "INSERT INTO inbound_dedupe (channel, external_id) SELECT $1, k FROM unnest($2::text[]) AS k "
            "ON CONFLICT DO NOTHING RETURNING external_id",
            CHANNEL, keys,
        )
    }
    results: dict[str, StoredCall] = await _seen_before(tx, [k for k in keys if k not in claimed])
    fresh = [c for c in calls if c.dedupe_key in claimed]
    if fresh:
        customers = await _customers(tx, fresh)
        results.update(await _interactions(tx, fresh, customers))
    return [results[k] for k in keys]


async def _seen_before(tx: Tx, keys: list[str]) -> dict[str, StoredCall]:
    if not keys:
        return {}
    rows = await tx.conn.fetch(
        """SELECT d.external_id, t.interaction_id, t.customer_id FROM inbound_dedupe d
           JOIN touchpoints t ON t.id = d.touchpoint_id
           WHERE d.channel = $1 AND d.external_id = ANY($2::text[])""",
        CHANNEL, keys,
    )
    found = {r["external_id"]: StoredCall(r["interaction_id"], r["customer_id"], created=False) for r in rows}
    missing = set(keys) - set(found)
    if missing:  # claimed by a transaction that stored no touchpoint: cannot happen, never guess
        raise RuntimeError(f"dedupe keys without a touchpoint: {sorted(missing)[:3]}")
    return found


async def _customers(tx: Tx, calls: list[NewCall]) -> dict[tuple[str, str], tuple[uuid.UUID, str, bool]]:
    """(kind, address) → (customer id, tier, existed), creating the customers that do not exist yet."""
    conn = tx.conn
    wanted: dict[tuple[str, str], str] = {}
    for call in calls:
        wanted.setdefault((call.identity_kind, call.address), call.display_name)
    kinds = [k for k, _ in wanted]
    addresses = [a for _, a in wanted]
    await conn.execute(
        """SELECT pg_advisory_xact_lock(h) FROM (
               SELECT DISTINCT hashtextextended(k || ':' || a, 0) AS h FROM unnest($1::text[], $2::text[]) AS u(k, a)
               ORDER BY h) AS locks""",
        kinds, addresses,
    )
    rows = await conn.fetch(
        """SELECT ci.kind, ci.address, c.id, c.tier, c.merged_into
           FROM unnest($1::text[], $2::text[]) AS u(kind, address)
           JOIN customer_identities ci ON ci.kind = u.kind AND ci.address = u.address
           JOIN customers c ON c.id = ci.customer_id""",
        kinds, addresses,
    )
    found: dict[tuple[str, str], tuple[uuid.UUID, str, bool]] = {}
    for row in rows:
        if row["merged_into"] is not None:  # identities move on merge; follow a straggler anyway
            survivor = await tx.customers.get(row["id"])
            found[(row["kind"], row["address"])] = (survivor.id, survivor.tier, True)
        else:
            found[(row["kind"], row["address"])] = (row["id"], row["tier"], True)
    new = [identity for identity in wanted if identity not in found]
    if new:
        # one statement for both tables: the identities' foreign key is checked at its end
        created = await conn.fetch(
            """WITH src AS (
                   SELECT u.n, gen_random_uuid() AS id, u.kind, u.address, u.name
                   FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(kind, address, name, n)),
               c AS (INSERT INTO customers (id, display_name) SELECT id, name FROM src),
               i AS (INSERT INTO customer_identities (kind, address, customer_id) SELECT kind, address, id FROM src)
               SELECT n, id FROM src""",
            [k for k, _ in new], [a for _, a in new], [wanted[identity] for identity in new],
        )
        ids = {row["n"]: row["id"] for row in created}
        found.update((identity, (ids[n], STANDARD_TIER, False)) for n, identity in enumerate(new, start=1))
    return found


async def _interactions(
    tx: Tx, calls: list[NewCall], customers: dict[tuple[str, str], tuple[uuid.UUID, str, bool]]
) -> dict[str, StoredCall]:
    """Interactions, their inbound touchpoints and the dedupe links in one statement."""
    conn = tx.conn
    owners = [customers[(c.identity_kind, c.address)] for c in calls]
    customer_ids = [cid for cid, _, _ in owners]
    rows = await conn.fetch(
        """WITH src AS (
               SELECT u.n, gen_random_uuid() AS id, u.customer_id, u.queue, u.thread_key, u.attributes, u.actor_id,
                      u.body
               FROM unnest($4::uuid[], $5::text[], $6::text[], $7::jsonb[], $8::text[], $9::text[]) WITH ORDINALITY
                    AS u(customer_id, queue, thread_key, attributes, actor_id, body, n)),
           ins AS (
               INSERT INTO interactions (id, channel, customer_id, queue, thread_key, attributes, created_at,
                                         arrived_at)
               SELECT id, $1, customer_id, queue, thread_key, attributes, clock_timestamp(), clock_timestamp()
               FROM src
               RETURNING id, arrived_at),
           tp AS (
               INSERT INTO touchpoints (customer_id, interaction_id, kind, channel, actor_kind, actor_id, body,
                                        payload, created_at)
               SELECT customer_id, id, $2, $1, $3, actor_id, body, attributes, clock_timestamp() FROM src
               RETURNING id, interaction_id),
           link AS (
               UPDATE inbound_dedupe d SET touchpoint_id = tp.id
               FROM tp JOIN src ON src.id = tp.interaction_id
               WHERE d.channel = $1 AND d.external_id = src.thread_key)
           SELECT src.n, src.id, extract(epoch FROM ins.arrived_at) AS arrived
           FROM src JOIN ins ON ins.id = src.id""",
        CHANNEL, str(TouchpointKind.INBOUND_MESSAGE), str(ActorKind.CUSTOMER), customer_ids,
        [c.queue for c in calls], [c.dedupe_key for c in calls], [c.attributes for c in calls],
        [c.address for c in calls], [c.body for c in calls],
    )
    made = {row["n"]: (row["id"], float(row["arrived"])) for row in rows}
    returning = list({cid for cid, _, existed in owners if existed})
    last_agents = {
        r["customer_id"]: r["agent_id"]
        for r in await conn.fetch(
            """SELECT DISTINCT ON (customer_id) customer_id, agent_id FROM interactions
               WHERE customer_id = ANY($1::uuid[]) AND agent_id IS NOT NULL AND assigned_at IS NOT NULL
               ORDER BY customer_id, assigned_at DESC""",
            returning,
        )
    } if returning else {}
    out: dict[str, StoredCall] = {}
    for n, (call, (cid, tier, _)) in enumerate(zip(calls, owners, strict=True), start=1):
        iid, arrived = made[n]
        out[call.dedupe_key] = StoredCall(iid, cid, True, tier, arrived, last_agents.get(cid))
    return out
