"""Parsing gateway webhooks: Twilio forms, the generic JSON, receipts; numbers come out in E.164."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from channels.sms.parse import (
    Media,
    SmsInputError,
    form_pairs,
    twilio_inbound,
    twilio_status,
    webhook_inbound,
    webhook_status,
)


def _form(**fields: str) -> list[tuple[str, str]]:
    return form_pairs(urlencode(fields).encode())


def test_twilio_text_with_local_numbers_and_media() -> None:
    sms = twilio_inbound(_form(MessageSid="SM1", From="139 1234 5678", To="+86 138-0013-8000", Body="你好 ",
                               NumMedia="2", MediaUrl0="https://m/0", MediaContentType0="image/jpeg",
                               MediaUrl1="https://m/1"), region="CN")
    assert (sms.provider_id, sms.sender, sms.recipient, sms.text) == ("SM1", "+8613912345678", "+8613800138000",
                                                                      "你好 ")
    assert sms.media == (Media("https://m/0", "image/jpeg"), Media("https://m/1", None))


def test_twilio_older_smssid_and_blank_body() -> None:
    sms = twilio_inbound(_form(SmsSid="SM2", From="+14155550100", To="+14155550123", Body=""), region="CN")
    assert (sms.provider_id, sms.text, sms.media) == ("SM2", "", ())


@pytest.mark.parametrize(("fields", "problem"), [
    ({"From": "+14155550100", "To": "+14155550123"}, "MessageSid"),
    ({"MessageSid": "SM3", "To": "+14155550123"}, "From"),
    ({"MessageSid": "SM3", "From": "call me", "To": "+14155550123"}, "From"),
    ({"MessageSid": "SM3", "From": "+14155550100", "To": "+14155550123", "NumMedia": "x"}, "NumMedia"),
    ({"MessageSid": "SM3", "From": "+14155550100", "To": "+14155550123", "NumMedia": "1"}, "MediaUrl0"),
])
def test_twilio_bad_input_names_the_field(fields: dict[str, str], problem: str) -> None:
    with pytest.raises(SmsInputError, match=problem):
        twilio_inbound(_form(**fields), region="CN")


def test_form_body_must_be_utf8() -> None:
    with pytest.raises(SmsInputError):
        form_pairs(b"Body=%FF%FE")
    with pytest.raises(SmsInputError):
        form_pairs(b"\xff")


def test_webhook_json() -> None:
    raw = json.dumps({"id": 42, "from": "13912345678", "to": "13900139000", "text": "在吗",
                      "media": ["https://m/a", {"url": "https://m/b", "content_type": "image/png"}]}).encode()
    sms = webhook_inbound(raw, region="CN")
    assert (sms.provider_id, sms.sender, sms.recipient, sms.text) == ("42", "+8613912345678", "+8613900139000",
                                                                      "在吗")
    assert sms.media_json() == [{"url": "https://m/a", "content_type": None},
                                {"url": "https://m/b", "content_type": "image/png"}]


@pytest.mark.parametrize("raw", [b"not json", b"[1]", b'{"from": "+8613912345678", "to": "+8613900139000"}',
                                 b'{"id": "1", "from": 5, "to": "+8613900139000"}',
                                 b'{"id": "1", "from": "+8613912345678", "to": "+8613900139000", "media": 3}'])
def test_webhook_bad_input(raw: bytes) -> None:
    with pytest.raises(SmsInputError):
        webhook_inbound(raw, region="CN")


def test_status_reports() -> None:
    ok = twilio_status(_form(MessageSid="SM9", MessageStatus="Delivered"))
    assert (ok.status, ok.failed, ok.error_text()) == ("delivered", False, None)
    bad = twilio_status(_form(MessageSid="SM9", MessageStatus="undelivered", ErrorCode="30003"))
    assert bad.failed and bad.error_text() == "undelivered: (error 30003)"
    generic = webhook_status(b'{"id": "g1", "status": "failed", "error": "handset off", "error_code": 7}')
    assert generic.error_text() == "failed: handset off (error 7)"
    with pytest.raises(SmsInputError):
        twilio_status(_form(MessageSid="SM9", MessageStatus="<script>"))
