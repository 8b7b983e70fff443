"""The customer history store: one class per table group, all over one connection.

``Tx`` bundles the stores over a single connection so that a unit of work
(an inbound message, an agent action) reads as one transaction::

    async with db.transaction() as conn:
        tx = Tx(conn)
        customer, _ = await tx.customers.find_or_create("email", address)
        await tx.touchpoints.append(...)
"""

from __future__ import annotations

import asyncpg

from contactcenter.store.agent_events import AgentEvent, AgentEventStore
from contactcenter.store.agents import AgentStore
from contactcenter.store.customers import CustomerNotFound, CustomerStore, IdentityTaken
from contactcenter.store.dedupe import DedupeStore
from contactcenter.store.interactions import InteractionNotFound, InteractionStore
from contactcenter.store.outbox import OutboxItem, OutboxStore
from contactcenter.store.touchpoints import BadCursor, TouchpointStore


class Tx:
    """Every store over one connection (usually inside one transaction)."""

    __slots__ = ("agent_events", "agents", "conn", "customers", "dedupe", "interactions", "outbox", "touchpoints")

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.customers = CustomerStore(conn)
        self.touchpoints = TouchpointStore(conn)
        self.interactions = InteractionStore(conn)
        self.agents = AgentStore(conn)
        self.outbox = OutboxStore(conn)
        self.dedupe = DedupeStore(conn)
        self.agent_events = AgentEventStore(conn)


__all__ = [
    "AgentEvent",
    "BadCursor",
    "CustomerNotFound",
    "IdentityTaken",
    "InteractionNotFound",
    "OutboxItem",
    "Tx",
]
