"""Call events after the redirect: the call now runs between the caller and the softphone.

They arrive from the agent console (softphone buttons over the agent websocket)
or from the PBX (a signed webhook of the voice channel), become ``call_event``
touchpoints, and ``ended`` ends the interaction so wrap-up follows.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

import routing as r
from contactcenter.acd.feed import AgentFeed
from contactcenter.acd.service import RouterService
from contactcenter.db import Database, retrying
from contactcenter.model import ActorKind, InteractionState, TouchpointKind
from contactcenter.store import AgentEvent, InteractionNotFound, Tx
from contactcenter.store.records import Interaction, to_json

CallEventName = Literal["answered", "held", "resumed", "transferred", "ended"]
CALL_EVENTS: frozenset[str] = frozenset({"answered", "held", "resumed", "transferred", "ended"})
DEDUPE_CHANNEL = "call_event"  # the inbound_dedupe namespace of the gateways' event ids


class CallEventRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


async def record_call_event(
    db: Database,
    feed: AgentFeed,
    router: RouterService,
    interaction_id: uuid.UUID,
    event: str,
    *,
    actor_kind: ActorKind,
    actor_id: str | None,
    details: dict[str, Any],
    agent_id: uuid.UUID | None = None,
    dedupe_key: str | None = None,
) -> bool:
    """Record one call event; ``agent_id`` (from the console) must hold the call.

    ``dedupe_key`` (a gateway's id for the event) makes a redelivery a no-op:
    False is returned and nothing is written. It is claimed before the state
    checks, so a retry of an ``ended`` that went through is not refused because
    the call has since moved on; a refused event rolls its claim back. An ``ended``
    the router refuses (the call ended meanwhile) is recorded but raises
    ``CallEventRefused("bad_state")``.
    """
    if event not in CALL_EVENTS:
        raise CallEventRefused("bad_call_event", f"unknown call event {event!r}; use one of {sorted(CALL_EVENTS)}")
    async def write() -> tuple[Interaction, AgentEvent | None] | None:
        async with db.transaction() as tx:
            if dedupe_key is not None and not await tx.dedupe.claim(DEDUPE_CHANNEL, dedupe_key):
                return None
            try:
                interaction = await tx.interactions.get(interaction_id, for_update=True)
            except InteractionNotFound:
                raise CallEventRefused("unknown_interaction", f"no such interaction: {interaction_id}") from None
            if interaction.channel != "voice":
                raise CallEventRefused("not_a_call", "call events are for voice interactions")
            if interaction.state not in (InteractionState.ASSIGNED, InteractionState.WRAP_UP):
                raise CallEventRefused("bad_state", f"the call is {interaction.state}, not connected to an agent")
            if agent_id is not None and interaction.agent_id != agent_id:
                raise CallEventRefused("not_assigned", "this call is not assigned to you")
            notice = await append_call_event(tx, interaction, event, actor_kind=actor_kind, actor_id=actor_id,
                                             details=details)
        return interaction, notice

    # it locks the interaction, then its agent's event counter: a routing batch may hold them the
    # other way round, and PostgreSQL then breaks the deadlock by rolling one back
    written = await retrying(write)
    if written is None:
        return False
    interaction, notice = written
    feed.publish([] if notice is None else [notice])
    if event == "ended" and interaction.state == InteractionState.ASSIGNED:
        try:
            await router.submit(lambda at: r.InteractionEnded(at=at, interaction_id=str(interaction_id)),
                                actor=actor_id if actor_kind == ActorKind.AGENT else None)
        except r.RoutingError as exc:
            # Two "ended" for one call (both of an agent's consoles, or console and PBX) both read it
            # assigned: the router, which ends it once, refuses the second. The event stays recorded
            # (it did happen); the caller is told the call had already moved on.
            raise CallEventRefused("bad_state", f"the call was not ended: {exc.message}") from None
    return True


async def append_call_event(
    tx: Tx,
    interaction: Interaction,
    event: str,
    *,
    actor_kind: ActorKind,
    actor_id: str | None,
    details: dict[str, Any],
    notify_agent: bool = True,
) -> AgentEvent | None:
    """Write a ``call_event`` touchpoint (the caller has locked ``interaction``) and, with ``notify_agent``,
    the holder's console event; the one writer for the console's, the PBX's and the SIP endpoint's events."""
    touchpoint = await tx.touchpoints.append(
        customer_id=interaction.customer_id, interaction_id=interaction.id, kind=TouchpointKind.CALL_EVENT,
        channel="voice", actor_kind=actor_kind, actor_id=actor_id, payload={"event": event, **details},
    )
    if not notify_agent or interaction.agent_id is None:
        return None
    return await tx.agent_events.append(
        interaction.agent_id, "message", {"interaction_id": str(interaction.id), "touchpoint": to_json(touchpoint)})
