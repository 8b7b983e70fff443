"""What the router needs to queue a committed interaction.

Intake gets these facts back from the same statement that stores the message
(``cc_ingest``), so a new interaction is handed to the router without reading it
again; other channels load them with one query (``RouterService.interaction_created``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Arrival:
    interaction_id: uuid.UUID
    queue: str
    channel: str
    priority: float
    customer_id: uuid.UUID
    tier: str
    arrived: float  # epoch seconds of interactions.arrived_at
    last_agent_id: uuid.UUID | None  # who last handled this customer (sticky routing)
    keep_waiting: bool = False  # no max_wait (the KEEP_WAITING attribute)
