"""The HTTP face of the SMS channel: gateway webhooks in, and the segment counter for the console.

``POST /sms/{gateway}/inbound`` and ``POST /sms/{gateway}/status`` check the
gateway's signature before reading anything else (403), answer 400 for input
the gateway must fix and 404 for a gateway or number we do not have, and
answer 200 only after the text is committed; a database outage surfaces as
``StoreUnavailable``, which the error middleware turns into 503 so the
gateway retries. ``GET /api/sms/segments?text=`` is for logged-in agents.
"""

from __future__ import annotations

import logging

from aiohttp import web

from channels.sms.gateways import Gateway, GatewayDirectory
from channels.sms.inbound import InboundOutcome, SmsInbound
from channels.sms.parse import SmsInputError, form_pairs, twilio_inbound, twilio_status, webhook_inbound, webhook_status
from channels.sms.receipts import ReceiptRecorder
from channels.sms.segments import count_segments
from channels.sms.signatures import signed_url, valid_twilio_signature
from contactcenter.api.auth import current_agent
from contactcenter.api.errors import ApiError
from contactcenter.config import Settings
from contactcenter.config.schema_channels import TwilioGateway
from contactcenter.webhook_signatures import valid_webhook_signature

log = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
MAX_SEGMENT_TEXT = 20_000


class SmsWebhooks:
    def __init__(self, settings: Settings, directory: GatewayDirectory, inbound: SmsInbound,
                 receipts: ReceiptRecorder) -> None:
        self.public_url = settings.server.public_url
        self.region = settings.server.default_phone_region
        self.directory = directory
        self.inbound = inbound
        self.receipts = receipts

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/sms/{gateway}/inbound", self.handle_inbound),
            web.post("/sms/{gateway}/status", self.handle_status),
            web.get("/api/sms/segments", self.handle_segments),
        ]

    async def handle_inbound(self, request: web.Request) -> web.Response:
        gateway = self._gateway(request)
        raw, pairs = await self._verified_body(request, gateway)
        try:
            sms = twilio_inbound(pairs, region=self.region) if pairs is not None else webhook_inbound(
                raw, region=self.region)
        except SmsInputError as exc:
            raise ApiError(400, "invalid_sms", str(exc)) from None
        queue = self.directory.queue_for(gateway.name, sms.recipient)
        if queue is None:
            log.warning("sms %s: text to %s, which is not one of its numbers", gateway.name, sms.recipient)
            raise ApiError(404, "unknown_number", f"{sms.recipient} is not a number of gateway {gateway.name!r}")
        outcome = await self.inbound.receive(gateway, sms, queue)
        return _answer(gateway, _outcome_json(outcome))

    async def handle_status(self, request: web.Request) -> web.Response:
        gateway = self._gateway(request)
        raw, pairs = await self._verified_body(request, gateway)
        hint_text = request.query.get("outbox_id")
        if hint_text is not None and not hint_text.isdigit():
            raise ApiError(400, "invalid_status", "outbox_id must be a number")
        try:
            report = twilio_status(pairs) if pairs is not None else webhook_status(raw)
        except SmsInputError as exc:
            raise ApiError(400, "invalid_status", str(exc)) from None
        found = await self.receipts.record(gateway.name, report, None if hint_text is None else int(hint_text))
        if not found:
            raise ApiError(404, "unknown_message",
                           f"no message {report.provider_id!r} was sent through {gateway.name!r}")
        return _answer(gateway, {"ok": True, "status": report.status})

    async def handle_segments(self, request: web.Request) -> web.Response:
        await current_agent(request)
        text = request.query.get("text")
        if text is None:
            raise ApiError(400, "missing_text", "give the text to count as ?text=")
        if len(text) > MAX_SEGMENT_TEXT:
            raise ApiError(400, "text_too_long", f"at most {MAX_SEGMENT_TEXT} characters")
        return web.json_response(count_segments(text).to_json())

    def _gateway(self, request: web.Request) -> Gateway:
        name = request.match_info["gateway"]
        gateway = self.directory.get(name)
        if gateway is None:
            raise ApiError(404, "unknown_gateway", f"no SMS gateway named {name!r}")
        return gateway

    async def _verified_body(
        self, request: web.Request, gateway: Gateway
    ) -> tuple[bytes, list[tuple[str, str]] | None]:
        """The raw body, and its form fields for Twilio; 403 unless the gateway's signature matches."""
        raw = await request.read()
        if isinstance(gateway, TwilioGateway):
            header = request.headers.get("X-Twilio-Signature")
            if not header:
                raise _forbidden(request, gateway, "X-Twilio-Signature is missing")
            try:
                pairs = form_pairs(raw)
            except SmsInputError as exc:
                raise ApiError(400, "invalid_form", str(exc)) from None
            url = signed_url(self.public_url, scheme=request.scheme, host=request.host, raw_path=request.raw_path)
            if not valid_twilio_signature(gateway.auth_token, url, pairs, header):
                raise _forbidden(request, gateway, "X-Twilio-Signature does not match (check auth_token and "
                                                   "server.public_url)")
            return raw, pairs
        if not valid_webhook_signature(gateway.secret, raw, request.headers.get("X-Signature")):
            raise _forbidden(request, gateway, "X-Signature is missing or does not match the body")
        return raw, None


def _forbidden(request: web.Request, gateway: Gateway, message: str) -> ApiError:
    log.warning("sms %s: refused %s from %s: %s", gateway.name, request.path, request.remote, message)
    return ApiError(403, "bad_signature", message)


def _outcome_json(outcome: InboundOutcome) -> dict[str, object]:
    return {
        "ok": True,
        "action": outcome.action,
        "duplicate": outcome.duplicate,
        "interaction_id": None if outcome.interaction_id is None else str(outcome.interaction_id),
    }


def _answer(gateway: Gateway, body: dict[str, object]) -> web.Response:
    """Twilio wants TwiML (empty: we reply later, through the API); the generic gateway JSON."""
    if isinstance(gateway, TwilioGateway):
        return web.Response(text=EMPTY_TWIML, content_type="text/xml")
    return web.json_response(body)
