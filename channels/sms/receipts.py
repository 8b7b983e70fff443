"""Delivery receipts from a gateway, recorded on the outbound message they are about.

Each distinct (message, status) is recorded once (gateways resend receipts),
as a ``delivery_status`` touchpoint with the segment count and encoding; a
``failed`` or ``undelivered`` receipt also tells the interaction's agent, in
the same ``delivery`` event shape the outbox worker uses. So does any receipt
for a message whose acceptance we never recorded: typically one marked failed
with "unknown outcome" because Twilio's answer was lost, which the agent was
told to check; the receipt shows them it did go out.
"""

from __future__ import annotations

from channels.sms.parse import StatusReport
from channels.sms.store import SmsStore
from contactcenter.acd.feed import AgentFeed
from contactcenter.db import Database
from contactcenter.outbox_worker import record_delivery_status
from contactcenter.store import AgentEvent, Tx

DEDUPE_CHANNEL = "sms_status"


class ReceiptRecorder:
    def __init__(self, db: Database, feed: AgentFeed) -> None:
        self.db = db
        self.feed = feed

    async def record(self, gateway: str, report: StatusReport, outbox_hint: int | None) -> bool:
        """Record ``report``; False if it names no message of ours (the caller answers 404)."""
        events: list[AgentEvent] = []
        async with self.db.transaction() as tx:
            found = await self._record(tx, gateway, report, outbox_hint, events)
        self.feed.publish(events)
        return found

    async def _record(self, tx: Tx, gateway: str, report: StatusReport, outbox_hint: int | None,
                      events: list[AgentEvent]) -> bool:
        store = SmsStore(tx.conn)
        ref = await store.outbound_ref(gateway, report.provider_id, outbox_hint)
        if ref is None:
            return False
        if not await tx.dedupe.claim(DEDUPE_CHANNEL, f"{gateway}:{report.provider_id}:{report.status}"):
            return True  # the same receipt again: recorded the first time
        if ref.message is not None:
            await store.set_status(gateway, report.provider_id, report.status)
        if ref.interaction_id is None:  # an automatic reply outside any conversation: nothing to show on
            return True
        details: dict[str, object] = {"provider_id": report.provider_id, "source": "gateway"}
        if ref.message is not None:
            details.update(segments=ref.message.segments, encoding=ref.message.encoding)
        if report.error_code is not None:
            details["error_code"] = report.error_code
        # the agent hears of failures, and of messages whose acceptance was not recorded (their outcome
        # may have been shown as unknown); otherwise "delivered" and the like are just history
        events += await record_delivery_status(
            tx, ref.interaction_id, touchpoint_id=ref.touchpoint_id, outbox_id=ref.outbox_id, status=report.status,
            error=report.error_text(), details=details, tell_agent=report.failed or ref.message is None)
        return True
