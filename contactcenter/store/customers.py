"""Customers and their identities: atomic find-or-create, profile changes, merge.

Find-or-create takes a transaction-scoped advisory lock on the identity so that
fifty first contacts from one new address at once make exactly one customer,
without an orphan customer row from a lost race.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg

from contactcenter.store.records import Customer, Identity, from_row

_CUSTOMER_COLUMNS = (
    "id, display_name, tier, loyalty_points, attributes, merged_into, created_at, updated_at"
)


class CustomerNotFound(LookupError):
    pass


class IdentityTaken(Exception):
    """The identity already belongs to another customer (merge them instead)."""

    def __init__(self, owner: uuid.UUID) -> None:
        super().__init__(f"identity belongs to customer {owner}")
        self.owner = owner


class CustomerStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def _owner(self, kind: str, address: str) -> uuid.UUID | None:
        return await self.conn.fetchval(
            "SELECT customer_id FROM customer_identities WHERE kind = $1 AND address = $2", kind, address
        )

    async def find_or_create(
        self, kind: str, address: str, *, display_name: str = "", tier: str | None = None
    ) -> tuple[Customer, bool]:
        """The customer owning identity (kind, address), created if new; and whether it was created.

        ``address`` must already be normalised. Must run inside a transaction.
        """
        await self.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"{kind}:{address}")
        owner = await self._owner(kind, address)
        if owner is not None:
            return await self.get(await self._live(owner)), False
        row = await self.conn.fetchrow(
            f"INSERT INTO customers (display_name, tier) VALUES ($1, COALESCE($2, 'standard')) "
            f"RETURNING {_CUSTOMER_COLUMNS}",
            display_name,
            tier,
        )
        await self.conn.execute(
            "INSERT INTO customer_identities (kind, address, customer_id) VALUES ($1, $2, $3)",
            kind,
            address,
            row["id"],
        )
        return from_row(Customer, row), True

    async def _live(self, customer_id: uuid.UUID) -> uuid.UUID:
        """The customer, or its survivor, locked against a merge in flight (``cc_live_customer``).

        Without the lock a reader could take the customer a concurrent merge is moving away, then
        write under it once the merge commits: history the survivor never shows.
        """
        live: uuid.UUID = await self.conn.fetchval("SELECT cc_live_customer($1)", customer_id)
        return live

    async def find_by_identity(self, kind: str, address: str) -> Customer | None:
        owner = await self._owner(kind, address)
        return None if owner is None else await self.get(owner)

    async def get(self, customer_id: uuid.UUID, *, follow_merge: bool = True) -> Customer:
        """The customer, or the survivor it was merged into."""
        for _ in range(16):  # merge chains are short; the bound guards against a cycle
            row = await self.conn.fetchrow(
                f"SELECT {_CUSTOMER_COLUMNS} FROM customers WHERE id = $1", customer_id
            )
            if row is None:
                raise CustomerNotFound(str(customer_id))
            if row["merged_into"] is None or not follow_merge:
                return from_row(Customer, row)
            customer_id = row["merged_into"]
        raise CustomerNotFound(str(customer_id))

    async def identities(self, customer_id: uuid.UUID) -> list[Identity]:
        rows = await self.conn.fetch(
            "SELECT kind, address, customer_id, created_at FROM customer_identities "
            "WHERE customer_id = $1 ORDER BY kind, created_at",
            customer_id,
        )
        return [from_row(Identity, r) for r in rows]

    async def update(self, customer_id: uuid.UUID, changes: Mapping[str, Any]) -> Customer:
        """Change display_name, tier, loyalty_points and/or merge keys into attributes."""
        row = await self.conn.fetchrow(
            f"""UPDATE customers SET
                   display_name = COALESCE($2, display_name),
                   tier = COALESCE($3, tier),
                   loyalty_points = COALESCE($4, loyalty_points),
                   attributes = CASE WHEN $5::jsonb IS NULL THEN attributes ELSE attributes || $5::jsonb END,
                   updated_at = now()
               WHERE id = $1 AND merged_into IS NULL
               RETURNING {_CUSTOMER_COLUMNS}""",
            customer_id,
            changes.get("display_name"),
            changes.get("tier"),
            changes.get("loyalty_points"),
            changes.get("attributes"),
        )
        if row is None:
            raise CustomerNotFound(str(customer_id))
        return from_row(Customer, row)

    async def add_identity(self, customer_id: uuid.UUID, kind: str, address: str) -> Identity:
        """Attach an identity to the customer, or to its survivor if it was merged meanwhile.

        Raises ``IdentityTaken`` if another customer owns it. The returned identity names the
        customer it went to.
        """
        await self.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"{kind}:{address}")
        customer_id = await self._live(customer_id)
        owner = await self._owner(kind, address)
        if owner is not None and owner != customer_id:
            raise IdentityTaken(owner)
        row = await self.conn.fetchrow(
            """INSERT INTO customer_identities (kind, address, customer_id) VALUES ($1, $2, $3)
               ON CONFLICT (kind, address) DO UPDATE SET kind = EXCLUDED.kind
               RETURNING kind, address, customer_id, created_at""",
            kind,
            address,
            customer_id,
        )
        return from_row(Identity, row)

    async def merge(self, survivor_id: uuid.UUID, merged_id: uuid.UUID, *, tier: str) -> dict[str, int]:
        """Move everything of ``merged_id`` to ``survivor_id``; return counts moved.

        Both rows are locked in id order (no deadlock with a concurrent opposite
        merge). The survivor keeps its name unless it has none, gets ``tier``
        (the caller picks the higher of the two), the sum of loyalty points and
        attributes with its own values winning.
        """
        first, second = sorted([survivor_id, merged_id])
        rows = await self.conn.fetch(
            "SELECT id, merged_into FROM customers WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE",
            [first, second],
        )
        if len(rows) != 2 or any(r["merged_into"] is not None for r in rows):
            raise CustomerNotFound("both customers must exist and not be merged already")
        moved = {}
        for table in ("customer_identities", "interactions", "touchpoints"):
            status = await self.conn.execute(
                f"UPDATE {table} SET customer_id = $1 WHERE customer_id = $2", survivor_id, merged_id
            )
            moved[table] = int(status.split()[-1])
        await self.conn.execute(
            """UPDATE customers AS s SET
                   display_name = CASE WHEN s.display_name = '' THEN m.display_name ELSE s.display_name END,
                   tier = $3,
                   loyalty_points = s.loyalty_points + m.loyalty_points,
                   attributes = m.attributes || s.attributes,
                   updated_at = now()
               FROM customers AS m WHERE s.id = $1 AND m.id = $2""",
            survivor_id,
            merged_id,
            tier,
        )
        await self.conn.execute(
            "UPDATE customers SET merged_into = $1, updated_at = now() WHERE id = $2", survivor_id, merged_id
        )
        return moved
