"""Property tests: hostile input never escapes as anything but SipParseError, and never wedges the endpoint."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.voice.sip import (
    CallArrived,
    SipFramingError,
    SipParseError,
    SipRequest,
    SipResponse,
    SipStreamFramer,
    parse_message,
)

from .sip_samples import SIPP_INVITE, TRUNK_SOURCE, ack, cancel, invite, make_endpoint, register, statuses

CORPUS = [
    SIPP_INVITE,
    invite(),
    invite(extra="Subject: folded\r\n  line\r\nRequire: 100rel\r\n"),
    cancel(),
    ack(to_tag="abc"),
    register(),
    invite(method="OPTIONS", body=b""),
    SIPP_INVITE.replace(b"Via:", b"v:").replace(b"Call-ID:", b"i:").replace(b"Content-Length:", b"l:"),
    b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A real message with a few byte-level edits: deletions, insertions, overwrites, truncation."""
    data = bytearray(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["delete", "insert", "overwrite", "truncate", "duplicate", "token"]))
        at = draw(st.integers(0, len(data)))
        if kind == "delete":
            del data[at : at + draw(st.integers(1, 20))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=12))
        elif kind == "overwrite" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del data[at:]
        elif kind == "duplicate":
            data[at:at] = data[max(0, at - 40) : at]
        else:
            token = draw(
                st.sampled_from(
                    [
                        b"\r\n",
                        b":",
                        b";",
                        b",",
                        b"<",
                        b">",
                        b'"',
                        b" ",
                        b"\t",
                        b"\r\n ",
                        b"\r\n\r\n",
                        b"Content-Length: 99999\r\n",
                        b"\xff\xfe",
                        b"=",
                        b"@",
                    ]
                )
            )
            data[at:at] = token
    return bytes(data)


def check_parse(data: bytes) -> None:
    try:
        message = parse_message(data)
    except SipParseError as exc:
        assert exc.status_hint in (None, 400, 416, 505, 513)
        assert exc.partial is None or isinstance(exc.partial, SipRequest | SipResponse)
        return
    wire = message.serialize()
    assert parse_message(wire).serialize() == wire  # serialising a parsed message is stable


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_messages_only_raise_sip_parse_error(data: bytes) -> None:
    check_parse(data)


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_only_raise_sip_parse_error(data: bytes) -> None:
    check_parse(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(mutated(), st.binary(max_size=200)), min_size=1, max_size=8), st.floats(0, 100))
def test_endpoint_survives_hostile_traffic_and_still_answers_an_invite(datagrams: list[bytes], step: float) -> None:
    ep = make_endpoint(invite_auth=True)
    now = 0.0
    for data in datagrams:
        ep.datagram_received(data, TRUNK_SOURCE, now)
        ep.datagram_received(data, ("203.0.113.66", 5060), now)
        now += step / 10
        ep.tick(now)
        for event in ep.events_received():
            if isinstance(event, CallArrived):
                ep.mark_queued(event.call_key, now)
        ep.data_to_send()
    ep.datagram_received(invite(branch="z9hG4bKafter-the-storm", call_id="after@storm"), TRUNK_SOURCE, now)
    assert statuses(ep.data_to_send()) == [100]
    (arrived,) = ep.events_received()
    assert isinstance(arrived, CallArrived) and arrived.call_id == "after@storm"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(1, 200), min_size=1, max_size=30))
def test_framer_output_does_not_depend_on_chunking(cuts: list[int]) -> None:
    stream = b"\r\n".join(CORPUS[:7])
    framer = SipStreamFramer(max_size=65_535)
    out: list[bytes] = []
    position = 0
    for cut in cuts:
        out += framer.feed(stream[position : position + cut])
        position += cut
    out += framer.feed(stream[position:])
    assert out == list(CORPUS[:7])


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(mutated(), st.binary(max_size=100)), max_size=6))
def test_framer_only_raises_framing_errors(chunks: list[bytes]) -> None:
    framer = SipStreamFramer()
    try:
        for chunk in chunks:
            for message in framer.feed(chunk):
                check_parse(message)
    except SipFramingError:
        pass
