"""Parsing, serialising and building SIP messages (channels/voice/sip/message.py)."""

from __future__ import annotations

import pytest

from channels.voice.sip import SipParseError, SipRequest, SipResponse, make_response, parse_message
from channels.voice.sip.headers import SipHeaders, parse_via, split_list

from .sip_samples import SDP, SIPP_INVITE, invite


def parse_request(data: bytes) -> SipRequest:
    message = parse_message(data)
    assert isinstance(message, SipRequest)
    return message


def test_sipp_uac_invite_parses_with_its_sdp_body() -> None:
    request = parse_request(SIPP_INVITE)
    assert (request.method, request.uri) == ("INVITE", "sip:service@127.0.0.1:5060")
    assert request.header("call-id") == "1-12345@127.0.0.1"
    assert request.header("CSEQ") == "1 INVITE"
    assert request.header("Content-Length") == "129"
    assert request.body == SDP


def test_serialize_round_trips_and_normalises_content_length() -> None:
    request = parse_request(SIPP_INVITE)
    wire = request.serialize()
    assert wire == SIPP_INVITE.replace(b"Content-Length:   129", b"Content-Length: 129")
    assert parse_message(wire) == request


def test_round_trip_of_a_response_with_a_multi_word_reason() -> None:
    data = (
        b"SIP/2.0 486 Busy Here Right Now\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
        b"To: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
    response = parse_message(data)
    assert isinstance(response, SipResponse)
    assert (response.status, response.reason) == (486, "Busy Here Right Now")
    assert response.serialize() == data


def test_compact_header_forms_are_expanded() -> None:
    data = (
        b"INVITE sip:bob@biloxi.com SIP/2.0\r\n"
        b"v: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8\r\n"
        b"f: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
        b"t: Bob <sip:bob@biloxi.com>\r\n"
        b"i: a84b4c76e66710\r\n"
        b"CSeq: 314159 INVITE\r\n"
        b"m: <sip:alice@pc33.atlanta.com>\r\n"
        b"k: timer, 100rel\r\n"
        b"s: Need more boxes\r\n"
        b"c: application/sdp\r\n"
        b"l: 129\r\n\r\n" + SDP
    )
    request = parse_request(data)
    names = [name for name, _ in request.headers]
    assert names == [
        "Via",
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "Contact",
        "Supported",
        "Subject",
        "Content-Type",
        "Content-Length",
    ]
    assert request.header("i") == request.header("Call-ID") == "a84b4c76e66710"
    assert request.headers.get_list("supported") == ["timer", "100rel"]
    assert request.body == SDP


def test_folded_header_lines_are_joined_with_one_space() -> None:
    data = invite(extra="Subject: I know you're there,\r\n        pay attention\r\n\tplease\r\n")
    assert parse_request(data).header("Subject") == "I know you're there, pay attention please"


def test_whitespace_around_colons_and_in_via_protocol_is_tolerated() -> None:
    data = invite().replace(b"Via: SIP/2.0/UDP", b"Via  :  SIP / 2.0 / UDP").replace(b"CSeq: ", b"CSeq\t:  ")
    request = parse_request(data)
    via = parse_via(split_list(request.header("Via") or "")[0])
    assert (via.transport, via.host, via.port, via.branch) == ("UDP", "192.0.2.10", 5060, "z9hG4bKabc1")


def test_multiple_vias_in_lines_and_comma_lists_keep_their_order() -> None:
    data = invite(extra="").replace(
        b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKabc1;rport\r\n",
        b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKabc1;rport\r\n"
        b"Via: SIP/2.0/TCP proxy1.example.net;branch=z9hG4bKp1, SIP/2.0/UDP [2001:db8::9]:5070;branch=z9hG4bKp2\r\n",
    )
    request = parse_request(data)
    vias = [parse_via(v) for v in request.headers.get_list("via")]
    assert [v.sent_by for v in vias] == ["192.0.2.10:5060", "proxy1.example.net:5060", "[2001:db8::9]:5070"]
    response = make_response(request, 180)
    assert response.headers.get_all("via") == request.headers.get_all("via")


def test_non_utf8_bytes_survive_a_round_trip() -> None:
    data = invite(extra="Subject: caf\xe9\r\n".encode("latin-1").decode("latin-1"))
    data = data.replace("caf\xe9".encode(), b"caf\xe9\xff")
    request = parse_request(data)
    assert request.serialize() == data


def test_bare_lf_line_endings_and_leading_crlfs_are_tolerated() -> None:
    data = b"\r\n\r\n" + invite(body=b"").replace(b"\r\n", b"\n")
    request = parse_request(data)
    assert request.method == "INVITE" and request.body == b""


def test_body_longer_than_content_length_is_truncated() -> None:
    request = parse_request(invite() + b"trailing garbage")
    assert request.body == SDP


def test_missing_content_length_on_a_datagram_means_rest_of_datagram() -> None:
    data = invite().replace(f"Content-Length: {len(SDP)}\r\n".encode(), b"")
    assert parse_request(data).body == SDP


def replace(old: bytes, new: bytes) -> bytes:
    data = invite()
    assert old in data
    return data.replace(old, new)


MALFORMED = {
    "missing Call-ID": (replace(b"Call-ID: a84b4c76e66710@pc33.example.com\r\n", b""), 400),
    "missing Via": (replace(b"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKabc1;rport\r\n", b""), 400),
    "missing From": (replace(b'From: "Alice Caller" <sip:+4915112345678@192.0.2.10>;tag=1928301774\r\n', b""), 400),
    "missing To": (replace(b"To: <sip:+4930123456@cc.example.com>\r\n", b""), 400),
    "missing CSeq": (replace(b"CSeq: 1 INVITE\r\n", b""), 400),
    "CSeq method mismatch": (replace(b"CSeq: 1 INVITE", b"CSeq: 1 OPTIONS"), 400),
    "CSeq not a number": (replace(b"CSeq: 1 INVITE", b"CSeq: one INVITE"), 400),
    "CSeq too large": (replace(b"CSeq: 1 INVITE", b"CSeq: 4294967296 INVITE"), 400),
    "duplicate Call-ID": (replace(b"CSeq: 1 INVITE\r\n", b"CSeq: 1 INVITE\r\nCall-ID: other\r\n"), 400),
    "body shorter than Content-Length": (replace(b"Content-Length: 129", b"Content-Length: 500"), 400),
    "Content-Length not a number": (replace(b"Content-Length: 129", b"Content-Length: 12x"), 400),
    "negative Content-Length": (replace(b"Content-Length: 129", b"Content-Length: -1"), 400),
    "conflicting Content-Length": (replace(b"Content-Length: 129", b"Content-Length: 129\r\nl: 12"), 400),
    "line without colon": (replace(b"Max-Forwards: 69", b"Max-Forwards 69"), 400),
    "space in header name": (replace(b"Max-Forwards: 69", b"Max Forwards: 69"), 400),
    "bad Max-Forwards": (replace(b"Max-Forwards: 69", b"Max-Forwards: many"), 400),
    "bad Via": (replace(b"SIP/2.0/UDP 192.0.2.10:5060", b"SIP/2.0/UDP 192.0.2.10:99999"), 400),
    "Via without host": (replace(b"SIP/2.0/UDP 192.0.2.10:5060", b"SIP/2.0/UDP"), 400),
    "SIP/3.0": (replace(b"cc.example.com SIP/2.0\r\n", b"cc.example.com SIP/3.0\r\n"), 505),
    "HTTP version": (replace(b"cc.example.com SIP/2.0\r\n", b"cc.example.com HTTP/1.1\r\n"), 400),
    "http Request-URI": (replace(b"INVITE sip:+4930123456@cc", b"INVITE http://cc"), 416),
    "Request-URI without scheme": (replace(b"INVITE sip:+4930123456@cc", b"INVITE cc"), 400),
    "fold before any header": (replace(b"Via:", b" Via:").replace(b"SIP/2.0\r\n Via", b"SIP/2.0\r\n  Via"), 400),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_requests_carry_a_status_and_a_partial_request(name: str) -> None:
    data, status = MALFORMED[name]
    with pytest.raises(SipParseError) as caught:
        parse_message(data)
    assert caught.value.status_hint == status
    assert isinstance(caught.value.partial, SipRequest)
    assert caught.value.partial.method == "INVITE"


UNANSWERABLE = {
    "empty": b"",
    "keep-alive": b"\r\n\r\n",
    "one word": b"HELLO\r\n\r\n",
    "two words": b"INVITE sip:x@y\r\n\r\n",
    "bad method token": b"INV<ITE sip:x@y SIP/2.0\r\n\r\n",
    "status code out of range": b"SIP/2.0 999 What\r\nVia: SIP/2.0/UDP h\r\n\r\n",
    "status code not digits": b"SIP/2.0 2OO OK\r\n\r\n",
    "response without Via": b"SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\n\r\n",
    "binary": b"\x00\x01\x02\xff\xfe",
}


@pytest.mark.parametrize("name", sorted(UNANSWERABLE))
def test_unanswerable_input_is_marked_for_dropping(name: str) -> None:
    with pytest.raises(SipParseError) as caught:
        parse_message(UNANSWERABLE[name])
    assert caught.value.status_hint is None


def test_message_over_the_configured_size_is_513_with_a_partial() -> None:
    data = invite(body=b"x" * 9000)
    with pytest.raises(SipParseError) as caught:
        parse_message(data, max_size=8192)
    assert caught.value.status_hint == 513
    assert isinstance(caught.value.partial, SipRequest)
    assert len(parse_request_limit(data, 16_384).body) == 9000


def parse_request_limit(data: bytes, max_size: int) -> SipRequest:
    message = parse_message(data, max_size=max_size)
    assert isinstance(message, SipRequest)
    return message


def test_oversized_datagram_is_rejected_even_with_a_large_limit() -> None:
    with pytest.raises(SipParseError) as caught:
        parse_message(invite(body=b"x" * 70_000), max_size=1_000_000)
    assert caught.value.status_hint == 513


def test_header_block_larger_than_the_limit_is_dropped() -> None:
    data = invite(extra="X-Padding: " + "p" * 10_000 + "\r\n")
    with pytest.raises(SipParseError) as caught:
        parse_message(data, max_size=8192)
    assert caught.value.status_hint is None


def test_make_response_copies_dialog_headers_and_adds_the_to_tag() -> None:
    request = parse_request(invite(extra="Timestamp: 54\r\n"))
    response = make_response(request, 302, to_tag="abc", headers=[("Contact", "<sip:agent@10.0.0.5>")])
    assert (response.status, response.reason) == (302, "Moved Temporarily")
    assert response.header("To") == "<sip:+4930123456@cc.example.com>;tag=abc"
    for name in ("Via", "From", "Call-ID", "CSeq"):
        assert response.header(name) == request.header(name)
    assert response.header("Contact") == "<sip:agent@10.0.0.5>"
    assert response.header("Timestamp") is None
    assert response.body == b"" and response.header("Content-Type") is None


def test_make_response_keeps_an_existing_to_tag_and_never_tags_100() -> None:
    tagged = parse_request(invite().replace(b"cc.example.com>\r\n", b"cc.example.com>;tag=theirs\r\n", 1))
    assert make_response(tagged, 200, to_tag="ours").header("To") == "<sip:+4930123456@cc.example.com>;tag=theirs"
    trying = make_response(parse_request(invite(extra="Timestamp: 54 0.2\r\n")), 100, to_tag="ours")
    assert trying.header("To") == "<sip:+4930123456@cc.example.com>"
    assert trying.header("Timestamp") == "54 0.2"
    assert trying.serialize().startswith(b"SIP/2.0 100 Trying\r\n")


def test_headers_replace_keeps_position_and_canonical_names() -> None:
    headers = SipHeaders([("v", "SIP/2.0/UDP a"), ("call-id", "x"), ("Via", "SIP/2.0/UDP b")])
    assert [n for n, _ in headers] == ["Via", "Call-ID", "Via"]
    replaced = headers.replace("VIA", ["SIP/2.0/UDP c"])
    assert list(replaced) == [("Via", "SIP/2.0/UDP c"), ("Call-ID", "x")]
    assert "i" in replaced and "Route" not in replaced


def test_response_constructor_validates_itself() -> None:
    with pytest.raises(ValueError):
        SipResponse(700, "Nope")
    with pytest.raises(ValueError):
        SipResponse(200, "OK\r\nInjected: yes")
