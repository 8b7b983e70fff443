"""Write what routing did: each event and decision becomes rows in one transaction.

For every interaction move this writes the state columns, the touchpoint that
records it in the customer's history, and the numbered event for the agent's
console. It reads no clock and decides nothing: the router has decided.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import routing as r
from contactcenter.model import ActorKind, InteractionState, TouchpointKind
from contactcenter.store import AgentEvent, Tx
from contactcenter.store.records import Interaction


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


class Effects:
    """Applies one batch of events and decisions inside transaction ``tx``."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self.agent_events: list[AgentEvent] = []
        self.no_agent: list[tuple[uuid.UUID, str, str | None]] = []  # (interaction, channel, action)
        # (channel, change, interaction, details) for channel listeners, after commit
        self.changes: list[tuple[str, str, uuid.UUID, dict[str, Any]]] = []

    def _changed(self, interaction: Interaction, change: str, **details: Any) -> None:
        """Tell the channel after commit, with what it needs of the interaction (so it need not read it)."""
        details.update(queue=interaction.queue, thread_key=interaction.thread_key)
        if interaction.assigned_at is not None:
            details["answered_after_s"] = (interaction.assigned_at - interaction.arrived_at).total_seconds()
        self.changes.append((interaction.channel, change, interaction.id, details))

    # -- helpers -------------------------------------------------------------------------------

    async def _notify(self, agent_id: uuid.UUID | str | None, type_: str, payload: dict[str, Any]) -> None:
        if agent_id is None:
            return
        event = await self.tx.agent_events.append(uuid.UUID(str(agent_id)), type_, payload)
        self.agent_events.append(event)

    async def _record(
        self,
        interaction: Interaction,
        kind: TouchpointKind,
        *,
        actor_kind: ActorKind = ActorKind.SYSTEM,
        actor_id: str | None = None,
        body: str | None = None,
        **payload: Any,
    ) -> None:
        await self.tx.touchpoints.append(
            customer_id=interaction.customer_id,
            interaction_id=interaction.id,
            kind=kind,
            channel=interaction.channel,
            actor_kind=actor_kind,
            actor_id=actor_id,
            body=body,
            payload=payload,
        )

    async def _summary(self, interaction_id: uuid.UUID) -> dict[str, Any]:
        return (await self.tx.interactions.summaries([interaction_id]))[interaction_id]

    async def _move(
        self, interaction_id: str, state: InteractionState, **changes: Any
    ) -> tuple[Interaction, Interaction]:
        """(before, after) of moving the interaction to ``state``."""
        iid = uuid.UUID(interaction_id)
        before = await self.tx.interactions.get(iid, for_update=True)
        after = await self.tx.interactions.set_state(iid, state, **changes)
        return before, after

    async def agent_state(self, agent_id: str, state: str, reason: str | None) -> None:
        aid = uuid.UUID(agent_id)
        await self.tx.agents.set_state(aid, state, reason)
        await self.tx.conn.execute(
            "INSERT INTO agent_state_log (agent_id, state, reason) VALUES ($1, $2, $3)", aid, state, reason
        )
        await self._notify(aid, "state", {"state": state, "reason": reason})

    # -- events: what an actor did -------------------------------------------------------------

    async def event(self, event: object, actor: str | None, extra: dict[str, Any]) -> None:
        actor_kind = ActorKind.AGENT if actor else ActorKind.SYSTEM
        match event:
            case r.AgentStateChanged(agent_id=agent_id, state=state, reason=reason):
                await self.agent_state(agent_id, str(state), reason)
            case r.OfferRejected(interaction_id=iid, agent_id=agent_id):
                before, _ = await self._move(iid, InteractionState.QUEUED, agent_id=None)
                await self._record(before, TouchpointKind.REJECT, actor_kind=actor_kind, actor_id=agent_id,
                                   agent_id=agent_id)
                await self._notify(agent_id, "revoked", {"interaction_id": iid, "reason": "rejected"})
            case r.InteractionEnded(interaction_id=iid):
                before, after = await self._move(iid, InteractionState.WRAP_UP,
                                                 disposition=extra.get("disposition"))
                await self._record(after, TouchpointKind.STATE_CHANGE, actor_kind=actor_kind, actor_id=actor,
                                   state="wrap_up", disposition=extra.get("disposition"))
                if extra.get("notes"):
                    await self._record(after, TouchpointKind.NOTE, actor_kind=actor_kind, actor_id=actor,
                                       body=extra["notes"])
                await self._notify(before.agent_id, "wrap_up",
                                   {"interaction_id": iid, "disposition": extra.get("disposition")})
                self._changed(after, "ended")
            case r.WrapUpCompleted(interaction_id=iid):
                before, after = await self._move(iid, InteractionState.CLOSED)
                await self._record(after, TouchpointKind.STATE_CHANGE, actor_kind=actor_kind, actor_id=actor,
                                   state="closed")
                await self._notify(before.agent_id, "closed", {"interaction_id": iid, "reason": "closed"})
                self._changed(after, "closed")
            case r.InteractionAbandoned(interaction_id=iid):
                before, after = await self._move(iid, InteractionState.ABANDONED)
                await self._record(after, TouchpointKind.STATE_CHANGE, state="abandoned",
                                   waited_s=extra.get("waited_s"))
            case r.InteractionTransferred(interaction_id=iid, to_queue=to_queue, to_agent=to_agent):
                before, after = await self._move(iid, InteractionState.QUEUED, agent_id=None, queue=to_queue)
                await self._record(after, TouchpointKind.TRANSFER, actor_kind=actor_kind, actor_id=actor,
                                   from_agent=None if before.agent_id is None else str(before.agent_id),
                                   from_queue=before.queue, to_queue=to_queue, to_agent=to_agent)
                await self._notify(before.agent_id, "revoked", {"interaction_id": iid, "reason": "transferred"})
                self._changed(after, "transferred", to_queue=to_queue, to_agent=to_agent)
            case _:
                pass  # arrivals are stored by intake; accepts are written by their Assigned decision

    # -- decisions: what the router decided ----------------------------------------------------

    async def decision(self, decision: object) -> None:
        match decision:
            case r.Offer(interaction_id=iid, agent_id=agent_id, expires_at=expires_at, waited_s=waited_s):
                _, after = await self._move(iid, InteractionState.OFFERED, agent_id=uuid.UUID(agent_id))
                await self._record(after, TouchpointKind.OFFER, agent_id=agent_id, expires_at=iso(expires_at))
                await self._notify(agent_id, "offer", {
                    "interaction": await self._summary(after.id),
                    "expires_at": iso(expires_at),
                    "waited_ms": int(waited_s * 1000),
                })
            case r.RevokeOffer(interaction_id=iid, agent_id=agent_id, reason=reason):
                current = await self.tx.interactions.get(uuid.UUID(iid), for_update=True)
                if current.state == InteractionState.OFFERED:
                    await self.tx.interactions.set_state(current.id, InteractionState.QUEUED, agent_id=None)
                await self._record(current, TouchpointKind.REVOKE, agent_id=agent_id, reason=reason)
                await self._notify(agent_id, "revoked", {"interaction_id": iid, "reason": reason})
            case r.Assigned(interaction_id=iid, agent_id=agent_id):
                _, after = await self._move(iid, InteractionState.ASSIGNED, agent_id=uuid.UUID(agent_id))
                await self._record(after, TouchpointKind.ACCEPT, actor_kind=ActorKind.AGENT, actor_id=agent_id,
                                   agent_id=agent_id)
                await self._notify(agent_id, "assigned", {"interaction": await self._summary(after.id)})
                agent = await self.tx.agents.get(uuid.UUID(agent_id))
                self._changed(after, "assigned", agent_id=agent_id,
                              agent_name=None if agent is None else agent.display_name)
            case r.Requeued(interaction_id=iid, reason=reason):
                current = await self.tx.interactions.get(uuid.UUID(iid), for_update=True)
                if current.state != InteractionState.QUEUED:
                    await self.tx.interactions.set_state(current.id, InteractionState.QUEUED, agent_id=None)
                await self._record(current, TouchpointKind.STATE_CHANGE, state="queued", reason=reason)
            case r.Escalated(interaction_id=iid, step=step):
                current = await self.tx.interactions.get(uuid.UUID(iid))
                await self._record(current, TouchpointKind.STATE_CHANGE, state=current.state, escalation_step=step)
            case r.NoAgent(interaction_id=iid, action=action, waited_s=waited_s):
                _, after = await self._move(iid, InteractionState.CLOSED, agent_id=None, disposition="no_agent")
                await self._record(after, TouchpointKind.STATE_CHANGE, state="closed", reason="no_agent",
                                   action=action, waited_s=waited_s)
                self.no_agent.append((after.id, after.channel, action))
            case r.AgentForcedAway(agent_id=agent_id, reason=reason):
                await self.agent_state(agent_id, "away", reason)
            case r.WrapUpEnded(interaction_id=iid, agent_id=agent_id):
                current = await self.tx.interactions.get(uuid.UUID(iid), for_update=True)
                if current.state == InteractionState.WRAP_UP:
                    await self.tx.interactions.set_state(current.id, InteractionState.CLOSED)
                    await self._record(current, TouchpointKind.STATE_CHANGE, state="closed",
                                       reason="wrapup_elapsed")
                    await self._notify(agent_id, "closed", {"interaction_id": iid, "reason": "wrapup_elapsed"})
                    self._changed(current, "closed")
            case r.Transferred():
                pass  # written with the InteractionTransferred event that caused it
            case _:
                raise TypeError(f"unknown routing decision: {decision!r}")
