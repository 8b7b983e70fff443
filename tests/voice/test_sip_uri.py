"""SIP URIs, name-addr values, dialled numbers and caller IDs (channels/voice/sip/uri.py)."""

from __future__ import annotations

import pytest

from channels.voice.sip import caller_id, dialled_number, parse_name_addr, parse_uri
from channels.voice.sip.uri import UriError, phone_number


def test_full_sip_uri() -> None:
    uri = parse_uri("sips:alice:secret@Atlanta.COM:5061;transport=tcp;lr?subject=project")
    assert (uri.scheme, uri.user, uri.host, uri.port) == ("sips", "alice", "Atlanta.COM", 5061)
    assert uri.param("transport") == "tcp" and uri.has_param("lr") and uri.headers == "subject=project"
    assert uri.binding_key == ("sips", "alice", "atlanta.com", 5061, "tcp")


def test_ipv6_host_and_percent_encoded_user() -> None:
    uri = parse_uri("sip:%2B4930%231@[2001:db8::10]:5070")
    assert (uri.user, uri.host, uri.port) == ("+4930#1", "2001:db8::10", 5070)
    assert str(uri) == "sip:+4930#1@[2001:db8::10]:5070"


def test_tel_uri() -> None:
    uri = parse_uri("tel:+1-201-555-0123;phone-context=example.com")
    assert (uri.scheme, uri.user, uri.host) == ("tel", "+1-201-555-0123", "")
    assert phone_number(uri.user) == "+12015550123"


@pytest.mark.parametrize("text", ["", "sip:", "mailto:a@b", "sip:a@", "sip:a@b:0", "sip:a@b:x", "sip:a@[::1", "tel:"])
def test_bad_uris_raise(text: str) -> None:
    with pytest.raises(UriError):
        parse_uri(text)


@pytest.mark.parametrize(
    ("text", "display", "uri", "tag"),
    [
        ('"Al \\"X\\" S" <sip:al@a.com;user=phone>;tag=88', 'Al "X" S', "sip:al@a.com;user=phone", "88"),
        ("Bob <sip:bob@b.com>;tag=x;other", "Bob", "sip:bob@b.com", "x"),
        ("<sip:carol@c.com>", None, "sip:carol@c.com", None),
        ("sip:dave@d.com;tag=9", None, "sip:dave@d.com", "9"),
        ('"<weird>, name" <sip:e@e.com>', "<weird>, name", "sip:e@e.com", None),
    ],
)
def test_name_addr_forms(text: str, display: str | None, uri: str, tag: str | None) -> None:
    addr = parse_name_addr(text)
    assert (addr.display, addr.uri, addr.tag) == (display, uri, tag)


@pytest.mark.parametrize("text", ['"unterminated <sip:a@b>', "<sip:a@b", '"x" sip:a@b', "<sip:a@b> junk", "<>"])
def test_bad_name_addrs_raise(text: str) -> None:
    with pytest.raises(UriError):
        parse_name_addr(text)


@pytest.mark.parametrize(
    ("user", "number"),
    [
        ("+49 (30) 123-456", "+4930123456"),
        ("0049.30.1", "0049301"),
        ("4155550123;npdi", "4155550123"),
        ("anonymous", None),
        ("+", None),
        ("", None),
        ("1" * 21, None),
        ("١٢٣", None),
    ],
)
def test_phone_number_extraction(user: str, number: str | None) -> None:
    assert phone_number(user) == number


def test_dialled_number_prefers_request_uri_then_to() -> None:
    assert dialled_number("sip:+4930123;user=phone@gw", None) == "+4930123"
    assert dialled_number("sip:sales@cc.example.com") == "sales"
    assert dialled_number("sip:cc.example.com", "<sip:support@cc.example.com>") == "support"
    assert dialled_number("sip:cc.example.com", "garbage <") is None


def test_caller_id_prefers_asserted_identity_and_keeps_from_display() -> None:
    who = caller_id(
        '"Alice" <sip:anonymous@anonymous.invalid>;tag=1',
        ["<sip:+4915112345678@carrier.net;user=phone>, <tel:+4915112345678>"],
    )
    assert (who.number, who.display) == ("+4915112345678", "Alice")


def test_caller_id_from_from_and_anonymous_callers() -> None:
    assert caller_id('"Bob" <sip:+1 555 0100@gw>;tag=2').number == "+15550100"
    anonymous = caller_id('"Anonymous" <sip:anonymous@anonymous.invalid>;tag=3')
    assert (anonymous.number, anonymous.display) == (None, "Anonymous")
    assert caller_id(None).number is None
    assert caller_id("<broken", ["also <broken"]).uri is None
