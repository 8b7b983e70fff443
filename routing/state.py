################################################################
# The routing state machines
################################################################
#
# Rule 1: every legal change of an agent's presence or of an interaction's
# lifecycle is listed in a table in this file.  The router asks these tables
# *before* it changes anything, so an illegal move raises RoutingError and leaves
# the router untouched.
#
# Rule 2: presence and lifecycle are separate machines.  Presence is what the
# agent (or the missed-offer rule) said: available, away or offline.  What the
# agent is *doing* -- idle or busy -- is not a state here: it is derived from the
# agent's load (offered + assigned + wrap-up slots), so it can never disagree
# with the load.
#
# Theory of operation
# ===================
#
# Agent presence (AGENT_TRANSITIONS).  The shell may move an agent between any
# two presences (including to the same one, which changes nothing).  The only
# transition the router makes on its own is MISSED_OFFERS: available -> away after
# `max_missed_offers` consecutive offer timeouts.  Leaving `available` revokes the
# agent's outstanding offers; work already assigned stays with them.
#
# Interaction lifecycle (INTERACTION_TRANSITIONS).  An interaction is born
# QUEUED (InteractionArrived) or ASSIGNED (InteractionRestored, after a restart)
# and dies CLOSED, at which point the router forgets it:
#
#   QUEUED --offer--> OFFERED --accept--> ASSIGNED --end--> WRAP_UP --wrap_done--> CLOSED
#      ^                 |                   |
#      +--reject/expire/revoke---------------+ (transfer: back to QUEUED)
#
#   QUEUED/OFFERED --abandon--> CLOSED         (the customer left)
#   QUEUED --max_wait--> CLOSED                 (NoAgent)
#   OFFERED --max_wait--> OFFERED               (marked overdue: the running offer
#                                                may still be accepted; if it fails
#                                                the interaction goes QUEUED and
#                                                then max_wait closes it at once)
#   QUEUED/OFFERED --escalate--> same state     (only the eligibility changes)
#
# An interaction ending with a zero wrap-up time passes through WRAP_UP and
# CLOSED in the same step.
################################################################

from __future__ import annotations

from enum import StrEnum

from routing.errors import ErrorCode, RoutingError


class AgentState(StrEnum):
    """Agent presence as set by the agent, a supervisor or the missed-offer rule."""

    AVAILABLE = "available"
    AWAY = "away"
    OFFLINE = "offline"


class AgentInput(StrEnum):
    SET_AVAILABLE = "set_available"
    SET_AWAY = "set_away"
    SET_OFFLINE = "set_offline"
    MISSED_OFFERS = "missed_offers"


class InteractionState(StrEnum):
    QUEUED = "queued"
    OFFERED = "offered"
    ASSIGNED = "assigned"
    WRAP_UP = "wrap_up"
    CLOSED = "closed"


class InteractionInput(StrEnum):
    OFFER = "offer"
    ACCEPT = "accept"
    REJECT = "reject"
    EXPIRE = "expire"
    REVOKE = "revoke"
    ABANDON = "abandon"
    TRANSFER = "transfer"
    ESCALATE = "escalate"
    MAX_WAIT = "max_wait"
    END = "end"
    WRAP_DONE = "wrap_done"


_A = AgentState
_AI = AgentInput
_S = InteractionState
_I = InteractionInput

AGENT_TRANSITIONS: dict[AgentState, dict[AgentInput, AgentState]] = {
    _A.OFFLINE: {_AI.SET_AVAILABLE: _A.AVAILABLE, _AI.SET_AWAY: _A.AWAY, _AI.SET_OFFLINE: _A.OFFLINE},
    _A.AVAILABLE: {
        _AI.SET_AVAILABLE: _A.AVAILABLE,
        _AI.SET_AWAY: _A.AWAY,
        _AI.SET_OFFLINE: _A.OFFLINE,
        _AI.MISSED_OFFERS: _A.AWAY,
    },
    _A.AWAY: {_AI.SET_AVAILABLE: _A.AVAILABLE, _AI.SET_AWAY: _A.AWAY, _AI.SET_OFFLINE: _A.OFFLINE},
}

INTERACTION_TRANSITIONS: dict[InteractionState, dict[InteractionInput, InteractionState]] = {
    _S.QUEUED: {
        _I.OFFER: _S.OFFERED,
        _I.ABANDON: _S.CLOSED,
        _I.TRANSFER: _S.QUEUED,
        _I.ESCALATE: _S.QUEUED,
        _I.MAX_WAIT: _S.CLOSED,
    },
    _S.OFFERED: {
        _I.ACCEPT: _S.ASSIGNED,
        _I.REJECT: _S.QUEUED,
        _I.EXPIRE: _S.QUEUED,
        _I.REVOKE: _S.QUEUED,
        _I.ABANDON: _S.CLOSED,
        _I.TRANSFER: _S.QUEUED,
        _I.ESCALATE: _S.OFFERED,
        _I.MAX_WAIT: _S.OFFERED,
    },
    _S.ASSIGNED: {_I.END: _S.WRAP_UP, _I.TRANSFER: _S.QUEUED},
    _S.WRAP_UP: {_I.WRAP_DONE: _S.CLOSED},
    _S.CLOSED: {},
}

SET_PRESENCE: dict[AgentState, AgentInput] = {
    _A.AVAILABLE: _AI.SET_AVAILABLE,
    _A.AWAY: _AI.SET_AWAY,
    _A.OFFLINE: _AI.SET_OFFLINE,
}


def agent_next(state: AgentState, event: AgentInput, agent_id: str) -> AgentState:
    """The presence after ``event``; raises ``bad_state`` if the table has no such move."""
    try:
        return AGENT_TRANSITIONS[state][event]
    except KeyError:
        raise RoutingError(ErrorCode.BAD_STATE, f"agent {agent_id!r} is {state}; cannot {event}") from None


def interaction_next(state: InteractionState, event: InteractionInput, interaction_id: str) -> InteractionState:
    """The lifecycle state after ``event``; raises ``bad_state`` if the table has no such move."""
    try:
        return INTERACTION_TRANSITIONS[state][event]
    except KeyError:
        raise RoutingError(
            ErrorCode.BAD_STATE, f"interaction {interaction_id!r} is {state}; cannot {event}"
        ) from None
