"""The one exception the routing core raises for an event its state does not allow.

A :class:`RoutingError` means "your event is wrong for the state I am in" (an offer
that was never made, an unknown id, a move the lifecycle table forbids).  The
router checks everything before it changes anything, so after the error its state
is exactly as if the offending event had never been sent -- except that time has
moved on: deadlines due at or before ``event.at`` were processed first.  Their
decisions are not lost with the error: the router keeps them and returns them at
the head of the next ``handle()`` result (and ``next_deadline()`` reports "now"
until then), so a shell that only logs refused events still applies them.
Malformed events (a negative time, a skill level of 11) never get this far: they
raise ``ValueError`` from their own constructor.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Stable machine-readable reasons; compare with plain strings (``err.code == "not_offered"``)."""

    NOT_OFFERED = "not_offered"
    UNKNOWN_INTERACTION = "unknown_interaction"
    UNKNOWN_AGENT = "unknown_agent"
    UNKNOWN_QUEUE = "unknown_queue"
    UNKNOWN_TIER = "unknown_tier"
    DUPLICATE_INTERACTION = "duplicate_interaction"
    BAD_CHANNEL = "bad_channel"
    BAD_STATE = "bad_state"


class RoutingError(Exception):
    """An illegal move; the router's state is unchanged by the event that caused it."""

    code: ErrorCode
    message: str

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
