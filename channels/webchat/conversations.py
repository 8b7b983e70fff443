"""What a customer may see of their conversation, read from the store.

A visitor's conversations are the chat interactions with thread key
``visitor:<id>``. The customer sees the latest one while it is open and for
``RECENT_CLOSED_S`` after it closed (so a reload right after the agent said
goodbye still shows it). Of its touchpoints the customer sees only messages:
their own and the agents' replies, never notes, offers or transfers.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from contactcenter.model import ActorKind, InteractionState, TouchpointKind
from contactcenter.store import Tx
from contactcenter.store.interactions import _COLUMNS as INTERACTION_COLUMNS
from contactcenter.store.records import Interaction, Touchpoint, from_row

RECENT_CLOSED_S = 3600
MAX_REPLAY = 1000  # messages sent in one welcome; a chat longer than that replays its newest part

_MESSAGE_KINDS = [str(TouchpointKind.INBOUND_MESSAGE), str(TouchpointKind.OUTBOUND_MESSAGE)]
_WAITING = {InteractionState.QUEUED, InteractionState.OFFERED}
_ENDED = {InteractionState.WRAP_UP, InteractionState.CLOSED, InteractionState.ABANDONED}


def customer_state(interaction: Interaction | None) -> str:
    """The customer's view of a conversation: ``none``, ``waiting``, ``active`` or ``ended``."""
    if interaction is None:
        return "none"
    if interaction.state in _WAITING:
        return "waiting"
    if interaction.state in _ENDED:
        return "ended"
    return "active"


def message_json(touchpoint: Touchpoint) -> dict[str, Any]:
    """A touchpoint as the widget's ``message``: who said what, when, under which id."""
    from_agent = touchpoint.actor_kind == ActorKind.AGENT
    message: dict[str, Any] = {
        "type": "message",
        "id": touchpoint.id,
        "conversation_id": None if touchpoint.interaction_id is None else str(touchpoint.interaction_id),
        "from": "agent" if from_agent else "customer",
        "text": touchpoint.body or "",
        "at": touchpoint.created_at.isoformat(),
    }
    if from_agent:
        message["agent_name"] = touchpoint.payload.get("agent_name") or ""
    elif touchpoint.payload.get("client_msg_id"):
        message["client_msg_id"] = touchpoint.payload["client_msg_id"]
    return message


async def latest(tx: Tx, thread_key: str, *, now: datetime | None = None) -> Interaction | None:
    """The visitor's current conversation: open, or closed less than ``RECENT_CLOSED_S`` ago."""
    row = await tx.conn.fetchrow(
        f"SELECT {INTERACTION_COLUMNS} FROM interactions WHERE channel = 'chat' AND thread_key = $1 "
        "ORDER BY created_at DESC LIMIT 1",
        thread_key,
    )
    if row is None:
        return None
    interaction = from_row(Interaction, row)
    finished = interaction.closed_at
    if finished is not None and finished < (now or datetime.now(UTC)) - timedelta(seconds=RECENT_CLOSED_S):
        return None
    return interaction


async def messages(tx: Tx, interaction_id: uuid.UUID, *, after_id: int = 0) -> list[dict[str, Any]]:
    """The conversation's messages after touchpoint ``after_id``, oldest first (at most ``MAX_REPLAY``)."""
    rows = await tx.conn.fetch(
        """SELECT * FROM (
               SELECT id, customer_id, interaction_id, kind, channel, actor_kind, actor_id, body, payload, created_at
               FROM touchpoints WHERE interaction_id = $1 AND id > $2 AND kind = ANY($3::text[])
                 AND actor_kind IN ('customer', 'agent')
               ORDER BY id DESC LIMIT $4) newest ORDER BY id""",
        interaction_id,
        after_id,
        _MESSAGE_KINDS,
        MAX_REPLAY,
    )
    return [message_json(Touchpoint(**dict(row))) for row in rows]


async def agent_name(tx: Tx, interaction: Interaction) -> str | None:
    """The display name of the agent holding the conversation, if one does."""
    if interaction.agent_id is None or interaction.state not in (InteractionState.ASSIGNED, InteractionState.WRAP_UP):
        return None
    agent = await tx.agents.get(interaction.agent_id)
    return None if agent is None else agent.display_name


def empty_view() -> dict[str, Any]:
    """``welcome.conversation`` for a visitor without a current conversation (a new dict each call).

    ``snapshot`` starts from it, and the hub sends it as is to a visitor created
    by the same ``hello`` without reading the store: one shape, defined once.
    """
    return {"id": None, "state": customer_state(None), "messages": []}


async def snapshot(tx: Tx, thread_key: str, *, after_id: int = 0) -> tuple[dict[str, Any], Interaction | None]:
    """``welcome.conversation`` (id, customer-facing state, messages after ``after_id``, agent name) and its
    interaction."""
    interaction = await latest(tx, thread_key)
    view = empty_view()
    if interaction is not None:
        view["id"] = str(interaction.id)
        view["state"] = customer_state(interaction)
        view["messages"] = await messages(tx, interaction.id, after_id=after_id)
        name = await agent_name(tx, interaction)
        if name is not None:
            view["agent_name"] = name
    return view, interaction
