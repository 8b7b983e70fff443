"""Decisions: commands the router returns for the shell to carry out, in order.

Each decision carries everything needed to apply it (ids, queue, channel,
deadline) so the shell never has to ask the router again while applying a
batch.  Order inside one ``handle()`` result is meaningful: a ``RevokeOffer``
comes before the ``Requeued`` of the same interaction, and both before any new
``Offer`` that the freed capacity made possible.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from routing import checks
from routing.config import Channel


class RevokeReason(StrEnum):
    EXPIRED = "expired"
    ABANDONED = "abandoned"
    TRANSFERRED = "transferred"
    AGENT_UNAVAILABLE = "agent_unavailable"


class RequeueReason(StrEnum):
    REJECTED = "rejected"
    EXPIRED = "expired"
    AGENT_UNAVAILABLE = "agent_unavailable"


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def _enum(obj: object, name: str, enum: type[StrEnum]) -> None:
    # the router always passes members: only strings from elsewhere pay for the lookup
    value = getattr(obj, name)
    if type(value) is not enum:
        _set(obj, name, checks.member(name, enum, value))


@dataclass(frozen=True, slots=True)
class Decision:
    """Base class of everything ``Router.handle`` returns."""


@dataclass(frozen=True, slots=True)
class Offer(Decision):
    """Ring / push ``interaction_id`` to ``agent_id``; it is withdrawn at ``expires_at`` unless answered."""

    interaction_id: str
    agent_id: str
    expires_at: float
    queue: str
    channel: Channel
    waited_s: float

    def __post_init__(self) -> None:
        checks.number("expires_at", self.expires_at)
        checks.number("waited_s", self.waited_s, minimum=0)
        _enum(self, "channel", Channel)


@dataclass(frozen=True, slots=True)
class RevokeOffer(Decision):
    """Take back an outstanding offer (stop ringing, remove the popup)."""

    interaction_id: str
    agent_id: str
    reason: RevokeReason

    def __post_init__(self) -> None:
        _enum(self, "reason", RevokeReason)


@dataclass(frozen=True, slots=True)
class Requeued(Decision):
    """The interaction is waiting in ``queue`` again, keeping its original arrival time."""

    interaction_id: str
    queue: str
    reason: RequeueReason

    def __post_init__(self) -> None:
        _enum(self, "reason", RequeueReason)


@dataclass(frozen=True, slots=True)
class Assigned(Decision):
    """The agent accepted: connect them to the customer."""

    interaction_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class Escalated(Decision):
    """Escalation step ``step`` (1-based index into the queue's escalation) is now in force."""

    interaction_id: str
    queue: str
    step: int

    def __post_init__(self) -> None:
        checks.integer("step", self.step, minimum=1)


@dataclass(frozen=True, slots=True)
class NoAgent(Decision):
    """Max wait passed: the interaction has left the router; the channel performs ``action``."""

    interaction_id: str
    queue: str
    action: str | None
    waited_s: float


@dataclass(frozen=True, slots=True)
class AgentForcedAway(Decision):
    """The agent missed too many offers in a row and is now away."""

    agent_id: str
    reason: str = "missed_offers"


@dataclass(frozen=True, slots=True)
class WrapUpEnded(Decision):
    """The router released the agent's wrap-up slot on its own (timer elapsed, or
    a zero wrap-up time): close the interaction.  Not emitted for ``WrapUpCompleted``,
    which the shell itself reported."""

    interaction_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class Transferred(Decision):
    """The interaction now waits in ``to_queue``, reserved for ``to_agent`` if one was named."""

    interaction_id: str
    to_queue: str
    to_agent: str | None


AnyDecision = (
    Offer | RevokeOffer | Requeued | Assigned | Escalated | NoAgent | AgentForcedAway | WrapUpEnded | Transferred
)
