"""Visitor tokens and the link from a chat visitor to a customer profile.

A widget keeps one random token per site in ``localStorage``; the server
stores only its SHA-256, so the database holds nothing that can be replayed.
The visitor's customer identity is (``chat``, visitor_id). A pre-chat e-mail
(or phone) attaches that identity to the customer who already owns the e-mail,
so the agent sees the whole history of the person, not of the browser.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from contactcenter.model import ActorKind, IdentityKind, TouchpointKind
from contactcenter.store import IdentityTaken, Tx
from contactcenter.store.records import Customer

log = logging.getLogger(__name__)

THREAD_PREFIX = "visitor:"


def new_token() -> str:
    """256 random bits, URL-safe: unguessable, and safe to keep in localStorage."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def thread_key(visitor_id: str) -> str:
    """The interactions' thread key: intake joins the visitor's open conversation by it."""
    return THREAD_PREFIX + visitor_id


def visitor_of_thread(key: str | None) -> str | None:
    """The visitor whose conversation has thread key ``key`` (None for other interactions)."""
    if key is None or not key.startswith(THREAD_PREFIX):
        return None
    return key[len(THREAD_PREFIX) :]


@dataclass(frozen=True, slots=True)
class Visitor:
    visitor_id: str
    widget: str
    prechat: dict[str, Any] | None

    @property
    def thread_key(self) -> str:
        return thread_key(self.visitor_id)


class VisitorStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def by_token(self, token: str, widget: str) -> Visitor | None:
        """The visitor holding ``token`` on ``widget`` (a token never crosses widgets), marked as seen."""
        row = await self.conn.fetchrow(
            """UPDATE chat_visitors SET last_seen_at = now() WHERE token_hash = $1 AND widget = $2
               RETURNING visitor_id, widget, prechat""",
            hash_token(token),
            widget,
        )
        return None if row is None else Visitor(row["visitor_id"], row["widget"], row["prechat"])

    async def create(self, widget: str, prechat: dict[str, Any] | None = None) -> tuple[str, Visitor]:
        """A new visitor and its token, with its pre-chat answers if any: one INSERT, nothing read back.

        The pre-chat answers go into the same row rather than a following
        ``save_prechat`` UPDATE: one statement less for a first hello with the form.
        """
        token = new_token()
        visitor_id = uuid.uuid4().hex
        stored = dict(prechat) if prechat else None
        await self.conn.execute(
            "INSERT INTO chat_visitors (token_hash, visitor_id, widget, prechat) VALUES ($1, $2, $3, $4)",
            hash_token(token),
            visitor_id,
            widget,
            stored,
        )
        return token, Visitor(visitor_id, widget, stored)

    async def save_prechat(self, visitor: Visitor, prechat: dict[str, Any]) -> Visitor:
        """Merge new pre-chat answers into the stored ones (a later hello may add the e-mail).

        Merged in the database, not into ``visitor.prechat``: that is this
        connection's copy from its hello, and another tab of the same visitor
        may have saved answers since.
        """
        merged = await self.conn.fetchval(
            """UPDATE chat_visitors SET prechat = coalesce(prechat, '{}'::jsonb) || $2::jsonb
               WHERE visitor_id = $1 RETURNING prechat""", visitor.visitor_id, prechat)
        return Visitor(visitor.visitor_id, visitor.widget, merged if merged is not None else dict(prechat))


async def link_customer(
    tx: Tx, visitor: Visitor, claims: list[tuple[IdentityKind, str]], name: str | None
) -> Customer:
    """Attach the visitor's chat identity to the customer owning one of ``claims`` (normalised).

    Must run inside a transaction. Cases:

    * the visitor has not chatted yet: the chat identity joins the owner of the
      first claimed identity that has one, or a new customer created with it;
    * the visitor chatted anonymously (a customer with only this chat identity)
      and the e-mail belongs to someone: that throwaway customer is merged into
      the owner, so the earlier messages join the real history;
    * otherwise the claimed identities are added where free, and left alone
      where they belong to another customer (an unverified claim never moves an
      identity away from its owner).
    """
    chat = (IdentityKind.CHAT, visitor.visitor_id)
    current = await tx.customers.find_by_identity(*chat)
    owner: Customer | None = None
    for kind, address in claims:
        owner = await tx.customers.find_by_identity(kind, address)
        if owner is not None:
            break
    if current is None:
        if owner is None:
            first = claims[0] if claims else chat
            owner, _ = await tx.customers.find_or_create(str(first[0]), first[1], display_name=name or "")
        target = owner
        await _add_identity(tx, target, *chat)
    elif owner is not None and owner.id != current.id and await _only_chat(tx, current):
        tier = owner.tier if owner.tier != "standard" else current.tier
        moved = await tx.customers.merge(owner.id, current.id, tier=tier)
        await tx.touchpoints.append(
            customer_id=owner.id, kind=TouchpointKind.MERGE, actor_kind=ActorKind.CUSTOMER,
            actor_id=visitor.visitor_id,
            payload={"merged_customer_id": str(current.id), "via": "webchat_prechat", "moved": moved},
        )
        target = await tx.customers.get(owner.id)
    else:
        target = current
    for kind, address in claims:
        await _add_identity(tx, target, kind, address)
    if name and not target.display_name:
        target = await tx.customers.update(target.id, {"display_name": name})
    return target


async def _only_chat(tx: Tx, customer: Customer) -> bool:
    identities = await tx.customers.identities(customer.id)
    return all(i.kind == IdentityKind.CHAT for i in identities)


async def _add_identity(tx: Tx, customer: Customer, kind: IdentityKind | str, address: str) -> None:
    """Add an identity if it is free; record it in the customer's history. Taken ones are left alone."""
    existing = await tx.customers.find_by_identity(str(kind), address)
    if existing is not None:
        if existing.id != customer.id:
            log.info("visitor claims %s identity owned by customer %s; not moved", kind, existing.id)
        return
    try:
        await tx.customers.add_identity(customer.id, str(kind), address)
    except IdentityTaken:  # claimed concurrently; the advisory lock made that one win
        return
    await tx.touchpoints.append(
        customer_id=customer.id, kind=TouchpointKind.IDENTITY_ADDED, actor_kind=ActorKind.CUSTOMER,
        actor_id=address if kind == IdentityKind.CHAT else None,
        payload={"kind": str(kind), "address": address, "via": "webchat", "verified": False},
    )
