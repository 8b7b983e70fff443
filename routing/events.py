"""Events: facts in the past tense that the shell feeds to ``Router.handle``.

Every event carries ``at`` -- epoch seconds from the caller's clock -- because the
core never reads a clock.  Each event validates its own shape in
``__post_init__`` (raising ``ValueError``); whether it makes sense *now* (is the
offer outstanding? does the queue exist?) is the router's job and raises
``RoutingError``.  Strings are accepted for enum fields and normalised.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from routing import checks
from routing.config import Channel
from routing.state import AgentState


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def _check_at(event: Event) -> None:
    # Each check is a function that a subclass's __post_init__ calls explicitly:
    # zero-argument super() does not work in slotted dataclasses on Python 3.11.
    _set(event, "at", checks.number("at", event.at, minimum=0))


@dataclass(frozen=True, slots=True)
class Event:
    """Base class: something that happened at ``at`` (epoch seconds)."""

    at: float

    def __post_init__(self) -> None:
        _check_at(self)


@dataclass(frozen=True, slots=True)
class AgentUpdated(Event):
    """An agent profile was created or changed; new agents start offline.

    ``capacity`` lists per-channel slot limits; channels it omits (and ``None``)
    take the configured default.  Use 0 to keep an agent off a channel.
    """

    agent_id: str
    skills: Mapping[str, int]
    capacity: Mapping[Channel, int] | None = None

    def __post_init__(self) -> None:
        _check_at(self)
        checks.ident("agent_id", self.agent_id)
        _set(self, "skills", checks.skills("skills", self.skills))
        if self.capacity is not None:
            _set(self, "capacity", checks.per_channel("capacity", Channel, self.capacity, kind="int"))


@dataclass(frozen=True, slots=True)
class AgentStateChanged(Event):
    """The agent (or a supervisor) set their presence."""

    agent_id: str
    state: AgentState
    reason: str | None = None

    def __post_init__(self) -> None:
        _check_at(self)
        checks.ident("agent_id", self.agent_id)
        _set(self, "state", checks.member("state", AgentState, self.state))
        if self.reason is not None and not isinstance(self.reason, str):
            raise ValueError(f"reason must be a string or None, got {self.reason!r}")


def _check_interaction(event: _InteractionEvent) -> None:
    _check_at(event)
    checks.ident("interaction_id", event.interaction_id)


@dataclass(frozen=True, slots=True)
class _InteractionEvent(Event):
    """Base of the events about one interaction."""

    interaction_id: str

    def __post_init__(self) -> None:
        _check_interaction(self)


@dataclass(frozen=True, slots=True)
class _OfferAnswer(_InteractionEvent):
    """Base of an agent's answer to the offer of ``interaction_id``."""

    agent_id: str

    def __post_init__(self) -> None:
        _check_interaction(self)
        checks.ident("agent_id", self.agent_id)


def _past_time(event: object, name: str, default: float, not_before: float = 0.0) -> None:
    """Set ``event.name`` to a time no later than ``event.at`` and not before ``not_before`` (None: ``default``)."""
    value = getattr(event, name)
    if value is None:
        _set(event, name, default)
        return
    at = event.at  # type: ignore[attr-defined]
    value = checks.number(name, value, minimum=0)
    if value > at:
        raise ValueError(f"{name} ({value}) must not be later than at ({at})")
    if value < not_before:
        raise ValueError(f"{name} ({value}) must not be earlier than arrived_at ({not_before})")
    _set(event, name, value)


def _check_arrival(event: InteractionArrived | InteractionRestored) -> None:
    _check_interaction(event)
    checks.ident("queue", event.queue)
    _set(event, "channel", checks.member("channel", Channel, event.channel))
    checks.ident("tier", event.tier)
    _past_time(event, "arrived_at", event.at)


@dataclass(frozen=True, slots=True)
class InteractionArrived(_InteractionEvent):
    """A customer is waiting in ``queue``.

    ``arrived_at`` keeps the original arrival time when the shell re-feeds an
    interaction (after a restart); aging, FIFO order and the sticky wait count
    from it.  ``enqueued_at`` is when it entered ``queue`` (default:
    ``arrived_at``); escalation and max wait count from it.  A re-fed
    interaction that was transferred or moved before the restart entered its
    current queue after it arrived, and a new queue's clocks start at the
    transfer (as ``InteractionTransferred`` starts them live), so without it a
    restart would escalate or give up on it early.  ``last_agent_id`` asks for
    sticky routing; ``target_agent_id`` reserves the interaction for one named
    agent.  ``keep_waiting`` exempts it from its queues' ``max_wait``: it is a
    message left for whoever comes (an offline form), not a customer who gives
    up.
    """

    queue: str
    channel: Channel
    tier: str = "standard"
    priority: float = 0
    arrived_at: float | None = None
    customer_id: str | None = None
    last_agent_id: str | None = None
    target_agent_id: str | None = None
    keep_waiting: bool = False
    enqueued_at: float | None = None

    def __post_init__(self) -> None:
        _check_arrival(self)
        arrived: float = self.arrived_at  # type: ignore[assignment]  # set by _check_arrival
        _past_time(self, "enqueued_at", arrived, not_before=arrived)
        _set(self, "priority", checks.number("priority", self.priority))
        checks.optional_ident("customer_id", self.customer_id)
        checks.optional_ident("last_agent_id", self.last_agent_id)
        checks.optional_ident("target_agent_id", self.target_agent_id)


@dataclass(frozen=True, slots=True)
class InteractionRestored(_InteractionEvent):
    """After a restart: this interaction is already assigned to ``agent_id`` and holds a slot."""

    queue: str
    channel: Channel
    agent_id: str
    tier: str = "standard"
    arrived_at: float | None = None

    def __post_init__(self) -> None:
        _check_arrival(self)
        checks.ident("agent_id", self.agent_id)


@dataclass(frozen=True, slots=True)
class InteractionAbandoned(_InteractionEvent):
    """The customer left before being answered; an outstanding offer is revoked."""


@dataclass(frozen=True, slots=True)
class InteractionTransferred(_InteractionEvent):
    """Move to another queue or to a named agent (exactly one of the two)."""

    to_queue: str | None = None
    to_agent: str | None = None

    def __post_init__(self) -> None:
        _check_interaction(self)
        checks.optional_ident("to_queue", self.to_queue)
        checks.optional_ident("to_agent", self.to_agent)
        if (self.to_queue is None) == (self.to_agent is None):
            raise ValueError("exactly one of to_queue and to_agent must be given")


@dataclass(frozen=True, slots=True)
class OfferAccepted(_OfferAnswer):
    """The agent took the offer."""


@dataclass(frozen=True, slots=True)
class OfferRejected(_OfferAnswer):
    """The agent turned the offer down."""


@dataclass(frozen=True, slots=True)
class InteractionEnded(_InteractionEvent):
    """The conversation is over; the agent's slot goes into wrap-up."""


@dataclass(frozen=True, slots=True)
class WrapUpCompleted(_InteractionEvent):
    """The agent finished wrap-up early; the slot is free now."""


@dataclass(frozen=True, slots=True)
class Tick(Event):
    """Time passed: process every deadline at or before ``at``."""


AnyEvent = (
    AgentUpdated
    | AgentStateChanged
    | InteractionArrived
    | InteractionRestored
    | InteractionAbandoned
    | InteractionTransferred
    | OfferAccepted
    | OfferRejected
    | InteractionEnded
    | WrapUpCompleted
    | Tick
)
