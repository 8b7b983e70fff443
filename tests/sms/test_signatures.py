"""Webhook signatures: Twilio's published example, URL variants, and the HMAC-SHA256 header."""

from __future__ import annotations

from channels.sms.signatures import (
    signed_url,
    twilio_signature,
    url_variants,
    valid_twilio_signature,
)
from contactcenter.webhook_signatures import valid_webhook_signature, webhook_signature

# The example in Twilio's documentation of request validation.
EXAMPLE_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
EXAMPLE_PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675310", "Digits": "1234",
                  "From": "+14158675310", "To": "+18005551212"}
EXAMPLE_SIGNATURE = "GvWf1cFY/Q7PnoempGyD5oXAezc="


def test_twilio_documentation_example() -> None:
    assert twilio_signature("12345", EXAMPLE_URL, EXAMPLE_PARAMS.items()) == EXAMPLE_SIGNATURE
    assert valid_twilio_signature("12345", EXAMPLE_URL, EXAMPLE_PARAMS.items(), EXAMPLE_SIGNATURE)


def test_any_change_breaks_the_twilio_signature() -> None:
    tampered = {**EXAMPLE_PARAMS, "Digits": "1235"}
    assert not valid_twilio_signature("12345", EXAMPLE_URL, tampered.items(), EXAMPLE_SIGNATURE)
    assert not valid_twilio_signature("54321", EXAMPLE_URL, EXAMPLE_PARAMS.items(), EXAMPLE_SIGNATURE)
    assert not valid_twilio_signature("12345", EXAMPLE_URL + "&x=1", EXAMPLE_PARAMS.items(), EXAMPLE_SIGNATURE)
    assert not valid_twilio_signature("12345", EXAMPLE_URL, EXAMPLE_PARAMS.items(), None)
    assert not valid_twilio_signature("12345", EXAMPLE_URL, EXAMPLE_PARAMS.items(), "")
    assert not valid_twilio_signature("12345", EXAMPLE_URL, EXAMPLE_PARAMS.items(), "不是签名")


def test_twilio_sorts_names_and_repeated_values() -> None:
    one = twilio_signature("t", "https://a.example/x", [("b", "2"), ("a", "z"), ("a", "y")])
    assert one == twilio_signature("t", "https://a.example/x", [("a", "y"), ("a", "z"), ("b", "2")])


def test_signature_with_or_without_the_default_port_is_accepted() -> None:
    with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
    signature = twilio_signature("12345", with_port, EXAMPLE_PARAMS.items())
    assert valid_twilio_signature("12345", EXAMPLE_URL, EXAMPLE_PARAMS.items(), signature)
    assert url_variants("http://a.example:80/p") == ("http://a.example:80/p", "http://a.example/p")
    assert url_variants("http://a.example:8080/p") == ("http://a.example:8080/p",)


def test_webhook_signature() -> None:
    body = '{"text": "你好"}'.encode()
    header = webhook_signature("s3cret", body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert valid_webhook_signature("s3cret", body, header)
    assert valid_webhook_signature("s3cret", body, header.upper().replace("SHA256", "sha256"))
    assert not valid_webhook_signature("s3cret", body + b" ", header)
    assert not valid_webhook_signature("other", body, header)
    assert not valid_webhook_signature("s3cret", body, header.removeprefix("sha256="))
    assert not valid_webhook_signature("s3cret", body, None)


def test_signed_url_prefers_the_public_url() -> None:
    assert signed_url("https://cc.example", scheme="http", host="10.0.0.5:8080",
                      raw_path="/sms/tw/inbound?a=%20") == "https://cc.example/sms/tw/inbound?a=%20"
    assert signed_url(None, scheme="http", host="127.0.0.1:9", raw_path="/x") == "http://127.0.0.1:9/x"
