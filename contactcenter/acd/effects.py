"""Write what routing did: a batch of events and decisions becomes rows in one round trip.

For every interaction move this writes the state columns, the touchpoint that
records it in the customer's history, and the numbered event for the agent's
console. It reads no clock and decides nothing: the router has decided.

``Effects`` only collects operations while the router runs; ``apply`` sends the
whole batch to ``cc_route_apply`` (migration 0007) in one statement. Row by row
this was six to ten round trips per decision on the router's one task, which
capped routing at a few hundred decisions a second whatever the batch size.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import routing as r
from contactcenter.model import ActorKind, InteractionState, TouchpointKind
from contactcenter.store import AgentEvent, Tx

_NOT_QUEUED = [str(s) for s in InteractionState if s != InteractionState.QUEUED]
_HELD = [str(InteractionState.ASSIGNED), str(InteractionState.WRAP_UP)]


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


def touchpoint(
    kind: TouchpointKind,
    *,
    actor_kind: ActorKind = ActorKind.SYSTEM,
    actor_id: str | None = None,
    body: str | None = None,
    add: tuple[str, ...] = (),
    **payload: Any,
) -> dict[str, Any]:
    """A touchpoint of the interaction; ``add`` names payload facts the store fills in from the row."""
    spec: dict[str, Any] = {"kind": str(kind), "actor_kind": str(actor_kind), "actor_id": actor_id, "body": body,
                            "payload": payload}
    if add:
        spec["add"] = list(add)
    return spec


def notify(agent_id: str | None, type_: str, *, summary: bool = False, before_in: list[str] | None = None,
           **payload: Any) -> dict[str, Any]:
    """A numbered console event for ``agent_id`` (None: the agent the interaction had before this move).

    ``before_in``: only if the interaction was in one of these states before the move.
    """
    spec = {"agent": agent_id, "type": type_, "payload": payload, "summary": summary}
    if before_in is not None:
        spec["before_in"] = before_in
    return spec


@dataclass(slots=True)
class _Op:
    spec: dict[str, Any]
    change: str | None = None  # what to tell the interaction's channel after commit
    details: dict[str, Any] = field(default_factory=dict)
    no_agent: r.NoAgent | None = None  # tell the channel's no-agent handler after commit


class Effects:
    """Collects what one batch of events and decisions writes; ``apply`` writes it."""

    def __init__(self) -> None:
        self._ops: list[_Op] = []
        self.agent_events: list[AgentEvent] = []
        self.no_agent: list[tuple[uuid.UUID, str, str | None]] = []  # (interaction, channel, action), after commit
        # (channel, change, interaction, details) for channel listeners, after commit
        self.changes: list[tuple[str, str, uuid.UUID, dict[str, Any]]] = []

    def __bool__(self) -> bool:
        return bool(self._ops)

    def _interaction(
        self,
        interaction_id: str,
        *,
        state: InteractionState | None = None,
        touchpoints: list[dict[str, Any]] | None = None,
        event: dict[str, Any] | None = None,
        change: str | None = None,
        details: dict[str, Any] | None = None,
        no_agent: r.NoAgent | None = None,
        **spec: Any,
    ) -> None:
        body: dict[str, Any] = {"id": interaction_id, **spec}
        if state is not None:
            body["state"] = str(state)
        if touchpoints:
            body["touchpoints"] = touchpoints
        if event is not None:
            body["notify"] = event
        self._ops.append(_Op(body, change, details or {}, no_agent))

    def revoke_offer(self, interaction_id: str, agent_id: str | None, reason: str) -> None:
        """Take back the offer of ``interaction_id`` to ``agent_id`` (a no-op move unless it is still offered)."""
        self._interaction(
            interaction_id, state=InteractionState.QUEUED, move_if=[str(InteractionState.OFFERED)], agent=None,
            touchpoints=[touchpoint(TouchpointKind.REVOKE, agent_id=agent_id, reason=reason)],
            event=notify(agent_id, "revoked", interaction_id=interaction_id, reason=reason))

    def agent_state(self, agent_id: str, state: str, reason: str | None) -> None:
        self._ops.append(_Op({"agent_state": agent_id, "state": state, "reason": reason}))

    async def apply(self, tx: Tx) -> None:
        """Write the batch in one statement (inside ``tx``'s transaction, if it has one)."""
        if not self._ops:
            return
        rows = await tx.conn.fetch("SELECT n, result FROM cc_route_apply($1::jsonb) ORDER BY n",
                                   [op.spec for op in self._ops])
        for op, row in zip(self._ops, rows, strict=True):
            result = row["result"]
            for e in result["events"]:
                self.agent_events.append(AgentEvent(uuid.UUID(e["agent"]), int(e["seq"]), e["type"], e["payload"]))
            if not result["applied"]:
                continue
            if op.change is not None:
                # what the channel needs of the interaction, so that it need not read it
                details = {**op.details, "queue": result["queue"], "thread_key": result["thread_key"]}
                if result["answered_after_s"] is not None:
                    details["answered_after_s"] = float(result["answered_after_s"])
                if "agent_name" in op.spec:
                    details["agent_name"] = result["agent_name"]
                self.changes.append((result["channel"], op.change, uuid.UUID(result["id"]), details))
            if op.no_agent is not None:
                self.no_agent.append((uuid.UUID(result["id"]), result["channel"], op.no_agent.action))
        self._ops = []

    # -- events: what an actor did -------------------------------------------------------------

    def event(self, event: object, actor: str | None, extra: dict[str, Any]) -> None:
        actor_kind = ActorKind.AGENT if actor else ActorKind.SYSTEM
        match event:
            case r.AgentStateChanged(agent_id=agent_id, state=state, reason=reason):
                self.agent_state(agent_id, str(state), reason)
            case r.OfferRejected(interaction_id=iid, agent_id=agent_id):
                self._interaction(
                    iid, state=InteractionState.QUEUED, agent=None,
                    touchpoints=[touchpoint(TouchpointKind.REJECT, actor_kind=actor_kind, actor_id=agent_id,
                                            agent_id=agent_id)],
                    event=notify(agent_id, "revoked", interaction_id=iid, reason="rejected"))
            case r.InteractionEnded(interaction_id=iid):
                disposition = extra.get("disposition")
                touchpoints = [touchpoint(TouchpointKind.STATE_CHANGE, actor_kind=actor_kind, actor_id=actor,
                                          state="wrap_up", disposition=disposition)]
                if extra.get("notes"):
                    touchpoints.append(touchpoint(TouchpointKind.NOTE, actor_kind=actor_kind, actor_id=actor,
                                                  body=extra["notes"]))
                self._interaction(
                    iid, state=InteractionState.WRAP_UP, disposition=disposition, touchpoints=touchpoints,
                    event=notify(None, "wrap_up", interaction_id=iid, disposition=disposition), change="ended")
            case r.WrapUpCompleted(interaction_id=iid):
                self._interaction(
                    iid, state=InteractionState.CLOSED,
                    touchpoints=[touchpoint(TouchpointKind.STATE_CHANGE, actor_kind=actor_kind, actor_id=actor,
                                            state="closed")],
                    event=notify(None, "closed", interaction_id=iid, reason="closed"), change="closed")
            case r.InteractionAbandoned(interaction_id=iid):
                self._interaction(  # the customer left before an answer: no agent had it, even if offered
                    iid, state=InteractionState.ABANDONED, agent=None,
                    touchpoints=[touchpoint(TouchpointKind.STATE_CHANGE, state="abandoned",
                                            waited_s=extra.get("waited_s"))])
            case r.InteractionTransferred(interaction_id=iid, to_queue=to_queue, to_agent=to_agent):
                self._interaction(
                    iid, state=InteractionState.QUEUED, agent=None, queue=to_queue,
                    touchpoints=[touchpoint(TouchpointKind.TRANSFER, actor_kind=actor_kind, actor_id=actor,
                                            add=("from_agent", "from_queue"), to_queue=to_queue, to_agent=to_agent)],
                    # only the agent holding it; an agent it was merely offered to is told by the RevokeOffer
                    event=notify(None, "revoked", before_in=_HELD, interaction_id=iid, reason="transferred"),
                    change="transferred", details={"to_queue": to_queue, "to_agent": to_agent})
            case _:
                pass  # arrivals are stored by intake; accepts are written by their Assigned decision

    # -- decisions: what the router decided ----------------------------------------------------

    def decision(self, decision: object) -> None:
        match decision:
            case r.Offer(interaction_id=iid, agent_id=agent_id, expires_at=expires_at, waited_s=waited_s):
                self._interaction(
                    iid, state=InteractionState.OFFERED, agent=agent_id,
                    touchpoints=[touchpoint(TouchpointKind.OFFER, agent_id=agent_id, expires_at=iso(expires_at))],
                    event=notify(agent_id, "offer", summary=True, expires_at=iso(expires_at),
                                 waited_ms=int(waited_s * 1000)))
            case r.RevokeOffer(interaction_id=iid, agent_id=agent_id, reason=reason):
                self.revoke_offer(iid, agent_id, reason)
            case r.Assigned(interaction_id=iid, agent_id=agent_id):
                self._interaction(
                    iid, state=InteractionState.ASSIGNED, agent=agent_id, agent_name=agent_id,
                    touchpoints=[touchpoint(TouchpointKind.ACCEPT, actor_kind=ActorKind.AGENT, actor_id=agent_id,
                                            agent_id=agent_id)],
                    event=notify(agent_id, "assigned", summary=True),
                    change="assigned", details={"agent_id": agent_id})
            case r.Requeued(interaction_id=iid, reason=reason):
                self._interaction(
                    iid, state=InteractionState.QUEUED, move_if=_NOT_QUEUED, agent=None,
                    touchpoints=[touchpoint(TouchpointKind.STATE_CHANGE, state="queued", reason=reason)])
            case r.Escalated(interaction_id=iid, step=step):
                self._interaction(
                    iid, touchpoints=[touchpoint(TouchpointKind.STATE_CHANGE, add=("state",), escalation_step=step)])
            case r.NoAgent(interaction_id=iid, action=action, waited_s=waited_s):
                self._interaction(
                    iid, state=InteractionState.CLOSED, agent=None, disposition="no_agent",
                    touchpoints=[touchpoint(TouchpointKind.STATE_CHANGE, state="closed", reason="no_agent",
                                            action=action, waited_s=waited_s)],
                    no_agent=decision)
            case r.AgentForcedAway(agent_id=agent_id, reason=reason):
                self.agent_state(agent_id, "away", reason)
            case r.WrapUpEnded(interaction_id=iid, agent_id=agent_id):
                self._interaction(
                    iid, only_in=[str(InteractionState.WRAP_UP)], state=InteractionState.CLOSED,
                    touchpoints=[touchpoint(TouchpointKind.STATE_CHANGE, state="closed", reason="wrapup_elapsed")],
                    event=notify(agent_id, "closed", interaction_id=iid, reason="wrapup_elapsed"), change="closed")
            case r.Transferred():
                pass  # written with the InteractionTransferred event that caused it
            case _:
                raise TypeError(f"unknown routing decision: {decision!r}")
