"""The voice channel's own rows: softphone credentials and registrations, call lookups, restart cleanup.

Everything here is one short statement or one transaction; nothing decides
routing. Errors surface as the store's ``StoreError`` family (the ``Database``
boundary maps asyncpg's).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from channels.voice.numbering import db_key
from channels.voice.sip import Ha1
from contactcenter.acd.call_events import append_call_event
from contactcenter.db import Database
from contactcenter.model import ActorKind, InteractionState, TouchpointKind
from contactcenter.store import AgentEvent, Tx

CALL_KEY_PREFIX = "sip:"  # interactions.thread_key and inbound_dedupe.external_id of a call: "sip:" + Call-ID
CALLBACK_KEY_PREFIX = "callback:"


def call_key(call_id: str) -> str:
    """The thread and dedupe key of a call: the same for the INVITE's Call-ID and a webhook's copy of it."""
    return CALL_KEY_PREFIX + db_key(call_id)


@dataclass(frozen=True, slots=True)
class Registration:
    user: str
    contact: str
    remaining_s: float


@dataclass(frozen=True, slots=True)
class AgentPhone:
    login: str
    sip_uri: str | None


async def set_sip_password(db: Database, login: str, password: str, realm: str) -> bool:
    """Store the HA1 of an agent's softphone password (False when there is no such agent).

    For an admin command or API; the running channel picks it up on its next
    credentials refresh (``VoiceChannel.reload_credentials`` to apply at once).
    """
    ha1 = Ha1.compute(login, realm, password)
    async with db.connection() as tx:
        status = await tx.conn.execute(
            "UPDATE agents SET sip_realm = $2, sip_ha1_md5 = $3, sip_ha1_sha256 = $4, updated_at = now() "
            "WHERE login = $1",
            login, realm, ha1.md5, ha1.sha256,
        )
    return status.endswith(" 1")


class VoiceStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def credentials(self, realm: str) -> dict[str, Ha1]:
        """Every enabled agent with a softphone password for ``realm``: login → HA1."""
        async with self.db.connection() as tx:
            rows = await tx.conn.fetch(
                "SELECT login, sip_ha1_md5, sip_ha1_sha256 FROM agents WHERE NOT disabled AND sip_realm = $1 "
                "AND (sip_ha1_md5 IS NOT NULL OR sip_ha1_sha256 IS NOT NULL)",
                realm,
            )
        return {r["login"]: Ha1(r["sip_ha1_md5"], r["sip_ha1_sha256"]) for r in rows}

    async def agent_phone(self, agent_id: uuid.UUID) -> AgentPhone | None:
        async with self.db.connection() as tx:
            row = await tx.conn.fetchrow("SELECT login, sip_uri FROM agents WHERE id = $1", agent_id)
        return None if row is None else AgentPhone(row["login"], row["sip_uri"])

    # -- registrations -------------------------------------------------------------------------

    @staticmethod
    async def save_registration(tx: Tx, user: str, contact: str, expires_s: int) -> None:
        await tx.conn.execute(
            """INSERT INTO sip_registrations (username, contact, expires_at)
               VALUES ($1, $2, now() + make_interval(secs => $3))
               ON CONFLICT (username, contact) DO UPDATE SET expires_at = EXCLUDED.expires_at, updated_at = now()""",
            user, contact, float(expires_s),
        )

    @staticmethod
    async def delete_registration(tx: Tx, user: str, contact: str) -> None:
        await tx.conn.execute("DELETE FROM sip_registrations WHERE username = $1 AND contact = $2", user, contact)

    async def live_registrations(self) -> list[Registration]:
        """Bindings still valid (lapsed rows are deleted on the way)."""
        async with self.db.transaction() as tx:
            await tx.conn.execute("DELETE FROM sip_registrations WHERE expires_at <= now()")
            rows = await tx.conn.fetch(
                "SELECT username, contact, extract(epoch FROM expires_at - now()) AS remaining "
                "FROM sip_registrations ORDER BY updated_at"
            )
        return [Registration(r["username"], r["contact"], float(r["remaining"])) for r in rows]

    # -- calls ---------------------------------------------------------------------------------

    async def interaction_for_call(self, call_id: str) -> uuid.UUID | None:
        """The interaction a Call-ID made (the newest, should a carrier ever reuse one)."""
        async with self.db.connection() as tx:
            return await tx.conn.fetchval(
                "SELECT id FROM interactions WHERE channel = 'voice' AND thread_key = $1 "
                "ORDER BY created_at DESC LIMIT 1",
                call_key(call_id),
            )

    @staticmethod
    async def call_touchpoint(
        tx: Tx,
        interaction_id: uuid.UUID,
        event: str,
        *,
        actor_kind: ActorKind,
        details: dict[str, Any],
        notify_agent: bool = False,
    ) -> AgentEvent | None:
        """Append a ``call_event`` touchpoint; with ``notify_agent``, also the holder's console event.

        Locks the interaction first, then the agent's event counter: the order
        the router and ``record_call_event`` take them in.
        """
        interaction = await tx.interactions.get(interaction_id, for_update=True)
        return await append_call_event(tx, interaction, event, actor_kind=actor_kind, actor_id=None, details=details,
                                       notify_agent=notify_agent)

    async def abandon_unrouted(self, interaction_id: uuid.UUID, waited_s: float) -> bool:
        """Abandon a call the router was never given (the caller left before it was filed); False if not queued.

        The router's ``InteractionAbandoned`` cannot close what it does not
        hold, and left queued the interaction would be offered after the next
        rebuild. Written as the router's abandon is: state, closed_at, and a
        ``state_change`` touchpoint.
        """
        async with self.db.transaction() as tx:
            interaction = await tx.interactions.get(interaction_id, for_update=True)
            if interaction.state != InteractionState.QUEUED:
                return False
            await tx.interactions.set_state(interaction_id, InteractionState.ABANDONED, agent_id=None)
            await tx.touchpoints.append(
                customer_id=interaction.customer_id, interaction_id=interaction_id, kind=TouchpointKind.STATE_CHANGE,
                channel="voice", actor_kind=ActorKind.SYSTEM, payload={"state": "abandoned", "waited_s": waited_s},
            )
        return True

    async def close_calls_lost_in_restart(self) -> tuple[int, list[AgentEvent]]:
        """Abandon (reason ``restart``) every call still waiting in a queue from a previous run.

        Their SIP transactions died with that process, so no agent can ever be
        connected to them. Runs before the router's rebuild, which therefore
        never sees them; an agent holding an offer for one is told it is
        revoked. Callbacks (no Call-ID) and calls already with an agent stay.
        """
        async with self.db.transaction() as tx:
            rows = await tx.conn.fetch(
                """WITH lost AS (
                       SELECT id, agent_id FROM interactions
                       WHERE channel = 'voice' AND state IN ('queued', 'offered') AND attributes ? 'call_id'
                       FOR UPDATE)
                   UPDATE interactions i SET state = 'abandoned', closed_at = clock_timestamp(), agent_id = NULL
                   FROM lost WHERE i.id = lost.id
                   RETURNING i.id, i.customer_id, lost.agent_id"""
            )
            notices: list[AgentEvent] = []
            for row in rows:
                await tx.touchpoints.append(
                    customer_id=row["customer_id"], interaction_id=row["id"], kind=TouchpointKind.STATE_CHANGE,
                    channel="voice", actor_kind=ActorKind.SYSTEM, payload={"state": "abandoned", "reason": "restart"},
                )
                if row["agent_id"] is not None:
                    notices.append(await tx.agent_events.append(
                        row["agent_id"], "revoked", {"interaction_id": str(row["id"]), "reason": "restart"}))
        return len(rows), notices
