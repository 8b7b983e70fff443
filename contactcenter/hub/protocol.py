"""The agent websocket protocol, version 1: what a console may send.

Each message is a JSON object with ``type``; an optional ``ref`` (any string the
console picks) comes back in the ``error`` that answers a refused message.
The full protocol, both directions, is in docs/protocol.md.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

PROTOCOL_VERSION = 1
MAX_TEXT = 20_000


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    ref: str | None = Field(default=None, max_length=100)


class StateMessage(_Message):
    type: Literal["state"]
    state: Literal["available", "away", "offline"]
    reason: str | None = Field(default=None, max_length=100)


class AcceptMessage(_Message):
    type: Literal["accept"]
    interaction_id: uuid.UUID


class RejectMessage(_Message):
    type: Literal["reject"]
    interaction_id: uuid.UUID


class ReplyMessage(_Message):
    type: Literal["reply"]
    interaction_id: uuid.UUID
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    client_msg_id: str = Field(min_length=1, max_length=100)


class NoteMessage(_Message):
    type: Literal["note"]
    interaction_id: uuid.UUID
    text: str = Field(min_length=1, max_length=MAX_TEXT)


class TransferMessage(_Message):
    type: Literal["transfer"]
    interaction_id: uuid.UUID
    queue: str | None = None
    agent: str | None = Field(default=None, description="login or id of the agent")

    @model_validator(mode="after")
    def _one_target(self) -> TransferMessage:
        if (self.queue is None) == (self.agent is None):
            raise ValueError("give exactly one of queue or agent")
        return self


class WrapUpMessage(_Message):
    type: Literal["wrapup"]
    interaction_id: uuid.UUID
    disposition: str = Field(min_length=1, max_length=100)
    notes: str | None = Field(default=None, max_length=MAX_TEXT)


class CloseMessage(_Message):
    type: Literal["close"]
    interaction_id: uuid.UUID


class TypingMessage(_Message):
    type: Literal["typing"]
    interaction_id: uuid.UUID


class CallEventMessage(_Message):
    """A softphone button: the call after the redirect is between the caller and the agent's phone."""

    type: Literal["call_event"]
    interaction_id: uuid.UUID
    event: Literal["answered", "held", "resumed", "transferred", "ended"]
    talk_time_s: float | None = Field(default=None, ge=0)
    target: str | None = Field(default=None, max_length=200)


class PingMessage(_Message):
    type: Literal["ping"]


AgentMessage = Annotated[
    StateMessage | AcceptMessage | RejectMessage | ReplyMessage | NoteMessage | TransferMessage
    | WrapUpMessage | CloseMessage | TypingMessage | CallEventMessage | PingMessage,
    Field(discriminator="type"),
]
agent_message = TypeAdapter(AgentMessage)
