"""Pure routing core: skill- and tier-based routing of interactions to agents.

Standard library only; no I/O, no clock, no randomness.  Feed ``Router.handle``
events (facts with a caller-supplied ``at``) and apply the decisions it returns,
in order.  The rules, in one place:

* **Priority.** effective = tier weight + queue priority + explicit priority +
  ``aging_per_minute`` x minutes since ``arrived_at``; higher first, then earlier
  ``arrived_at``, then arrival order.
* **Eligibility.** available; a free slot on the channel (offered + assigned +
  wrap-up count); with ``voice_exclusive`` voice and other channels never mix;
  meets the current escalation step's skills or the base skills of an overflow
  queue named so far (overflow is cumulative).  A transfer to a named agent
  needs no skills.
* **Matching.** after every event nothing that could be offered is left
  unoffered; a freed agent takes the best interaction it may take; a new
  interaction goes to the agent its queue's strategy prefers.  When several
  agents free up at once, the longest idle chooses first.
* **Offers.** one agent at a time, expiring after ``offer_timeout_s``.  After a
  reject, a timeout or passing it on by transfer, that agent is not offered the
  same interaction again until it was offered to someone else or
  ``reject_cooldown_s`` passed.  ``max_missed_offers`` timeouts in a row force
  the agent away.
* **Reservations.** sticky (``last_agent_id``, while the agent is eligible and
  not offline, until ``arrived_at + sticky_wait_s``) and named targets (no
  expiry) compete on priority like any interaction but only their agent may
  take them; the first offer, or the agent going offline, ends them.  An offline
  agent holds no reservation.
* **Clocks.** escalation and max wait count from the time the interaction
  entered its current queue: ``arrived_at`` on arrival, the transfer time after
  a transfer, ``enqueued_at`` when the shell re-feeds an interaction that had
  been transferred or moved (after a restart).  Priority always ages from
  ``arrived_at``.
"""

from routing.config import (
    CHANNELS,
    Channel,
    EscalationStep,
    NoAgentAction,
    QueueSpec,
    RoutingConfig,
    Strategy,
)
from routing.decisions import (
    AgentForcedAway,
    AnyDecision,
    Assigned,
    Decision,
    Escalated,
    NoAgent,
    Offer,
    Requeued,
    RequeueReason,
    RevokeOffer,
    RevokeReason,
    Transferred,
    WrapUpEnded,
)
from routing.errors import ErrorCode, RoutingError
from routing.events import (
    AgentStateChanged,
    AgentUpdated,
    AnyEvent,
    Event,
    InteractionAbandoned,
    InteractionArrived,
    InteractionEnded,
    InteractionRestored,
    InteractionTransferred,
    OfferAccepted,
    OfferRejected,
    Tick,
    WrapUpCompleted,
)
from routing.router import Router
from routing.state import AgentState, InteractionState

__all__ = [
    "CHANNELS",
    "AgentForcedAway",
    "AgentState",
    "AgentStateChanged",
    "AgentUpdated",
    "AnyDecision",
    "AnyEvent",
    "Assigned",
    "Channel",
    "Decision",
    "ErrorCode",
    "Escalated",
    "EscalationStep",
    "Event",
    "InteractionAbandoned",
    "InteractionArrived",
    "InteractionEnded",
    "InteractionRestored",
    "InteractionState",
    "InteractionTransferred",
    "NoAgent",
    "NoAgentAction",
    "Offer",
    "OfferAccepted",
    "OfferRejected",
    "QueueSpec",
    "RequeueReason",
    "Requeued",
    "RevokeOffer",
    "RevokeReason",
    "Router",
    "RoutingConfig",
    "RoutingError",
    "Strategy",
    "Tick",
    "Transferred",
    "WrapUpCompleted",
    "WrapUpEnded",
]
