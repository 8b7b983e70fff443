"""Outbound requests for both gateway types, and what each provider answer means."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qsl

from channels.sms.outbound import Accepted, Refused, build_request, interpret, status_url
from contactcenter.config.schema_channels import TwilioGateway, WebhookGateway
from contactcenter.webhook_signatures import valid_webhook_signature

TWILIO = TwilioGateway.model_validate({
    "name": "tw", "type": "twilio", "account_sid": "AC1", "auth_token": "tok", "api_base": "http://fake:1",
    "numbers": [{"number": "+8613800138000", "queue": "sales"}]})
WEBHOOK = WebhookGateway.model_validate({
    "name": "local", "type": "webhook", "secret": "sec", "send_url": "http://fake:1/send",
    "numbers": [{"number": "+8613900139000", "queue": "support"}]})


def test_twilio_request() -> None:
    callback = status_url("https://cc.example/", "tw", 7)
    assert callback == "https://cc.example/sms/tw/status?outbox_id=7"
    request = build_request(TWILIO, outbox_id=7, sender="+8613800138000", recipient="+8613912345678",
                            text="您好，已为您查询", callback=callback)
    assert request.url == "http://fake:1/2010-04-01/Accounts/AC1/Messages.json"
    assert dict(parse_qsl(request.body.decode())) == {
        "To": "+8613912345678", "From": "+8613800138000", "Body": "您好，已为您查询", "StatusCallback": callback}
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"AC1:tok").decode()


def test_no_status_callback_without_a_public_url() -> None:
    assert status_url(None, "tw", 7) is None
    request = build_request(TWILIO, outbox_id=7, sender="a", recipient="b", text="x", callback=None)
    assert "StatusCallback" not in dict(parse_qsl(request.body.decode()))


def test_webhook_request_is_signed_and_idempotent() -> None:
    request = build_request(WEBHOOK, outbox_id=9, sender="+8613900139000", recipient="+8613912345678",
                            text="收到", callback=None)
    assert request.url == "http://fake:1/send"
    assert json.loads(request.body) == {"id": "9", "from": "+8613900139000", "to": "+8613912345678",
                                        "text": "收到", "status_url": None}
    assert request.headers["Idempotency-Key"] == "9"
    assert valid_webhook_signature("sec", request.body, request.headers["X-Signature"])


def test_interpreting_answers() -> None:
    assert interpret(201, b'{"sid": "SMabc", "status": "queued"}', fallback_id="o1") == Accepted("SMabc")
    assert interpret(200, b'{"id": "g7"}', fallback_id="o1") == Accepted("g7")
    assert interpret(202, b"", fallback_id="o1") == Accepted("o1")
    assert interpret(500, b"oops", fallback_id="o1") == Refused("HTTP 500: oops", retry=True)
    assert interpret(429, b"{}", fallback_id="o1").retry  # type: ignore[union-attr]
    refused = interpret(400, b'{"code": 21211, "message": "The \'To\' number is not valid."}', fallback_id="o1")
    assert refused == Refused("The 'To' number is not valid. (code 21211)", retry=False)
    assert interpret(401, b"", fallback_id="o1") == Refused("HTTP 401", retry=False)
