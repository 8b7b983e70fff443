"""What the composition root hands each channel adapter.

Channels bring messages in through ``intake``, register delivery for their
outbound messages (``outbox_senders`` via ``OutboxWorker``, or an immediate
``actions.outbound_hooks`` entry), and may handle the router's no-agent action
for their interactions (``router.no_agent_handlers``). A channel never imports
another channel.
"""

from __future__ import annotations

from dataclasses import dataclass

from contactcenter.acd.feed import AgentFeed
from contactcenter.acd.intake import Intake
from contactcenter.acd.service import RouterService
from contactcenter.config import Settings
from contactcenter.db import Database
from contactcenter.hub.actions import AgentActions


@dataclass(frozen=True, slots=True)
class ChannelContext:
    settings: Settings
    db: Database
    intake: Intake
    router: RouterService
    feed: AgentFeed
    actions: AgentActions
