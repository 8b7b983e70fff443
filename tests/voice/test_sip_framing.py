"""Cutting a TCP byte stream into SIP messages (channels/voice/sip/framing.py)."""

from __future__ import annotations

import pytest

from channels.voice.sip import SipFramingError, SipRequest, SipStreamFramer, parse_message

from .sip_samples import SIPP_INVITE, invite, register


def test_messages_split_across_and_within_chunks() -> None:
    stream = SIPP_INVITE + register() + invite()
    framer = SipStreamFramer()
    out: list[bytes] = []
    for i in range(0, len(stream), 7):
        out += framer.feed(stream[i : i + 7])
    assert out == [SIPP_INVITE, register(), invite()]
    assert framer.buffered == 0


def test_whole_stream_in_one_feed() -> None:
    framer = SipStreamFramer()
    assert framer.feed(register() + register(cseq=2)) == [register(), register(cseq=2)]


def test_keepalive_crlfs_between_messages_are_skipped_and_counted() -> None:
    framer = SipStreamFramer()
    assert framer.feed(b"\r\n\r\n") == []
    assert framer.feed(b"\r\n" + register() + b"\r\n\r\n") == [register()]
    assert framer.keepalives == 3
    assert framer.buffered == 0


def test_compact_content_length_frames_the_body() -> None:
    data = SIPP_INVITE.replace(b"Content-Length:   129", b"l: 129")
    framer = SipStreamFramer()
    assert framer.feed(data + data[:50]) == [data]
    message = parse_message(framer.feed(data[50:])[0])
    assert isinstance(message, SipRequest) and len(message.body) == 129


def test_missing_content_length_means_no_body() -> None:
    data = register().replace(b"Content-Length: 0\r\n", b"")
    assert SipStreamFramer().feed(data) == [data]


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (register().replace(b"Content-Length: 0", b"Content-Length: zero"), 400),
        (register().replace(b"Content-Length: 0", b"Content-Length: 0\r\nl: 5"), 400),
        (register().replace(b"Content-Length: 0", b"Content-Length: 100000"), 513),
        (b"REGISTER sip:x SIP/2.0\r\nX: " + b"y" * 9000, 513),
    ],
)
def test_unframeable_streams_fail_once_and_for_good(data: bytes, status: int) -> None:
    framer = SipStreamFramer(max_size=8192)
    with pytest.raises(SipFramingError) as caught:
        framer.feed(register() + data)
    assert caught.value.status_hint == status
    assert caught.value.messages == [register()]
    with pytest.raises(SipFramingError):
        framer.feed(register())
