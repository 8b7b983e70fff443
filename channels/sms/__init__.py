"""The SMS channel: customer texts in through gateway webhooks, agent replies out through the outbox.

``setup(app, context)`` is called once by the composition root. It adds the
webhook routes (``/sms/{gateway}/inbound`` and ``/status``) and the
console's ``/api/sms/segments``, registers the reply guard (no texts to a
number that opted out) and the after-reply hook (wake the sender), and, when
gateways are configured, a ``cleanup_ctx`` pair that runs the outbox worker
with its HTTP client session.

Pure parts live in ``segments``, ``keywords``, ``signatures``, ``parse``,
``outbound`` and ``gateways``; I/O in ``store``, ``inbound``, ``receipts``,
``sender`` and ``webhooks``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from channels.sms.gateways import GatewayDirectory
from channels.sms.inbound import SmsInbound
from channels.sms.receipts import ReceiptRecorder
from channels.sms.sender import DEFAULT_RETRY_BASE_S, SmsOutboxWorker, SmsSender
from channels.sms.store import SmsStore
from channels.sms.webhooks import SmsWebhooks
from contactcenter.channel_context import ChannelContext
from contactcenter.config.schema_channels import TwilioGateway
from contactcenter.hub.actions import ActionError
from contactcenter.model import Channel
from contactcenter.store import Tx
from contactcenter.store.records import Interaction, Touchpoint

log = logging.getLogger(__name__)

__all__ = ["SMS_CHANNEL", "SMS_RETRY_BASE_S", "SmsRuntime", "setup"]


class SmsRuntime:
    """What the running channel shares between its routes, hooks and worker."""

    def __init__(self, context: ChannelContext, directory: GatewayDirectory) -> None:
        self.context = context
        self.directory = directory
        self.worker: SmsOutboxWorker | None = None  # set while the app runs (and gateways exist)

    def wake(self) -> None:
        if self.worker is not None:
            self.worker.wake()

    async def after_reply(self, interaction: Interaction, touchpoint: Touchpoint) -> None:
        """An agent's reply committed its outbox row: send now rather than at the next poll."""
        self.wake()

    async def reply_guard(self, tx: Tx, interaction: Interaction) -> None:
        """Refuse, inside the reply's transaction, to text a number that opted out."""
        store = SmsStore(tx.conn)
        route = await store.route_for(interaction, self.directory)
        if route is not None and await store.opted_out(route.gateway, route.recipient):
            raise ActionError(
                "sms_opted_out",
                f"{route.recipient} has opted out of text messages (they texted STOP); "
                "no SMS can be sent until they text START",
            )

    async def run_sender(self, app: web.Application) -> AsyncIterator[None]:
        context = self.context
        sender = SmsSender(context.db, self.directory, context.settings.server.public_url)
        await sender.open()
        worker = SmsOutboxWorker(context.db, context.feed, sender.deliver,
                                 retry_base_s=app.get(SMS_RETRY_BASE_S, DEFAULT_RETRY_BASE_S))
        await worker.start()
        self.worker = worker
        try:
            yield
        finally:
            self.worker = None
            await worker.stop()
            await sender.close()


SMS_CHANNEL = web.AppKey("sms_channel", SmsRuntime)
# First retry delay of failed sends, in seconds (doubling, with jitter, up to 5 min). Tests set it small.
SMS_RETRY_BASE_S = web.AppKey("sms_retry_base_s", float)


def setup(app: web.Application, context: ChannelContext) -> None:
    """Register the SMS channel's routes, hooks and sender on ``app``."""
    gateways = context.settings.channels.sms.gateways
    directory = GatewayDirectory(gateways)
    runtime = SmsRuntime(context, directory)
    inbound = SmsInbound(context.db, context.feed, context.intake, runtime.wake)
    webhooks = SmsWebhooks(context.settings, directory, inbound, ReceiptRecorder(context.db, context.feed))
    app.add_routes(webhooks.routes())
    app[SMS_CHANNEL] = runtime
    context.actions.reply_guards[str(Channel.SMS)] = runtime.reply_guard
    context.actions.outbound_hooks[str(Channel.SMS)] = runtime.after_reply
    if not directory:
        return
    if context.settings.server.public_url is None and any(isinstance(g, TwilioGateway) for g in gateways):
        log.warning("sms: server.public_url is not set, so no delivery receipts are requested from Twilio "
                    "and signatures are checked against the URL as received")
    app.cleanup_ctx.append(runtime.run_sender)
