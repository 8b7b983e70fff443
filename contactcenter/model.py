"""Domain vocabulary shared by the store, the API and the channels.

Enum values are stable lowercase strings: they are written to the database and
sent over the wire. Display labels live only in the UI.
"""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    VOICE = "voice"
    CHAT = "chat"
    SMS = "sms"
    EMAIL = "email"


class InteractionState(StrEnum):
    """Lifecycle: queued → offered → assigned → wrap_up → closed, or abandoned."""

    QUEUED = "queued"
    OFFERED = "offered"
    ASSIGNED = "assigned"
    WRAP_UP = "wrap_up"
    CLOSED = "closed"
    ABANDONED = "abandoned"


OPEN_STATES = frozenset(
    {InteractionState.QUEUED, InteractionState.OFFERED, InteractionState.ASSIGNED, InteractionState.WRAP_UP}
)


class TouchpointKind(StrEnum):
    """Everything that can happen to a customer or an interaction."""

    INBOUND_MESSAGE = "inbound_message"
    OUTBOUND_MESSAGE = "outbound_message"
    OFFER = "offer"
    ACCEPT = "accept"
    REJECT = "reject"
    REVOKE = "revoke"
    TRANSFER = "transfer"
    STATE_CHANGE = "state_change"
    NOTE = "note"
    CALL_EVENT = "call_event"
    DELIVERY_STATUS = "delivery_status"
    MERGE = "merge"
    IDENTITY_ADDED = "identity_added"
    PROFILE_CHANGE = "profile_change"


class ActorKind(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    SYSTEM = "system"


class IdentityKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    CHAT = "chat"
    SIP = "sip"


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    def at_least(self, other: Role) -> bool:
        """Roles are ordered: an admin may do what a supervisor may, and so on."""
        return _ROLE_RANK[self] >= _ROLE_RANK[other]


_ROLE_RANK = {Role.AGENT: 0, Role.SUPERVISOR: 1, Role.ADMIN: 2}

STANDARD_TIER = "standard"
# An interaction attribute: true exempts it from its queues' max_wait (routing's keep_waiting), for
# messages left for whoever comes, such as a chat offline form kept in the chat queue.
KEEP_WAITING = "keep_waiting"
