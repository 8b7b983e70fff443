"""Real-world-shaped SIP messages and small helpers shared by the voice tests."""

from __future__ import annotations

from channels.voice.sip import (
    EndpointConfig,
    SendData,
    SipEndpoint,
    SipResponse,
    Trunk,
    parse_message,
)

SDP = (
    b"v=0\r\n"
    b"o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n"
    b"s=-\r\n"
    b"c=IN IP4 127.0.0.1\r\n"
    b"t=0 0\r\n"
    b"m=audio 6000 RTP/AVP 0\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
)

# What SIPp's built-in "uac" scenario sends (Content-Length is space-padded there too).
SIPP_INVITE = (
    b"INVITE sip:service@127.0.0.1:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-12345-1-0\r\n"
    b"From: sipp <sip:sipp@127.0.0.1:5061>;tag=12345SIPpTag001\r\n"
    b"To: service <sip:service@127.0.0.1:5060>\r\n"
    b"Call-ID: 1-12345@127.0.0.1\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Contact: sip:sipp@127.0.0.1:5061\r\n"
    b"Max-Forwards: 70\r\n"
    b"Subject: Performance Test\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length:   129\r\n"
    b"\r\n" + SDP
)

TRUNK_SOURCE = ("192.0.2.10", 5060)
AGENT_SOURCE = ("198.51.100.7", 40123)
PASSWORDS = {"1001": "s3cret-1001", "1002": "s3cret-1002"}


def invite(
    *,
    branch: str = "z9hG4bKabc1",
    call_id: str = "a84b4c76e66710@pc33.example.com",
    host: str = "192.0.2.10",
    port: int = 5060,
    dialled: str = "+4930123456",
    caller: str = "+4915112345678",
    cseq: int = 1,
    extra: str = "",
    method: str = "INVITE",
    cseq_method: str | None = None,
    body: bytes = SDP,
) -> bytes:
    """An INVITE as a carrier trunk sends it (or ACK/CANCEL of it, via ``method``)."""
    head = (
        f"{method} sip:{dialled}@cc.example.com SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {host}:{port};branch={branch};rport\r\n"
        f"Max-Forwards: 69\r\n"
        f'From: "Alice Caller" <sip:{caller}@{host}>;tag=1928301774\r\n'
        f"To: <sip:{dialled}@cc.example.com>\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: {cseq} {cseq_method or method}\r\n"
        f"Contact: <sip:{caller}@{host}:{port}>\r\n"
        f"{extra}"
        f"Content-Type: application/sdp\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def ack(**kwargs: object) -> bytes:
    """The ACK a UAC sends for a non-2xx final: same branch, To tag taken from our response."""
    to_tag = kwargs.pop("to_tag", None)
    data = invite(method="ACK", body=b"", **kwargs)  # type: ignore[arg-type]
    if to_tag:
        dialled = kwargs.get("dialled", "+4930123456")
        data = data.replace(
            f"To: <sip:{dialled}@cc.example.com>".encode(),
            f"To: <sip:{dialled}@cc.example.com>;tag={to_tag}".encode(),
        )
    return data


def cancel(**kwargs: object) -> bytes:
    return invite(method="CANCEL", body=b"", **kwargs)  # type: ignore[arg-type]


def register(
    user: str = "1001",
    *,
    contact: str | None = None,
    expires: int | None = 300,
    authorization: str | None = None,
    cseq: int = 1,
    call_id: str = "reg-1001@198.51.100.7",
    branch: str = "z9hG4bKreg1",
) -> bytes:
    contact_value = contact if contact is not None else f"<sip:{user}@198.51.100.7:40123;transport=udp>"
    lines = [
        "REGISTER sip:cc.example.com SIP/2.0",
        f"Via: SIP/2.0/UDP 10.1.1.7:5060;branch={branch};rport",
        "Max-Forwards: 70",
        f"From: <sip:{user}@cc.example.com>;tag=reg{user}",
        f"To: <sip:{user}@cc.example.com>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} REGISTER",
        f"Contact: {contact_value}",
    ]
    if expires is not None:
        lines.append(f"Expires: {expires}")
    if authorization is not None:
        lines.append(f"Authorization: {authorization}")
    lines += ["User-Agent: Linphone/5.2", "Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()


def make_config(**overrides: object) -> EndpointConfig:
    values: dict[str, object] = {
        "realm": "cc.example.com",
        "nonce_secret": b"nonce-secret-0123456789",
        "tag_secret": b"tag-secret-0123456789",
        "trunks": (Trunk.from_strings("carrier", ["192.0.2.0/24"]),),
        "credentials": PASSWORDS.get,
        "queued_interval": 5.0,
    }
    values.update(overrides)
    return EndpointConfig(**values)  # type: ignore[arg-type]


def make_endpoint(**overrides: object) -> SipEndpoint:
    return SipEndpoint(make_config(**overrides))


def responses(sent: list[SendData]) -> list[SipResponse]:
    out = []
    for item in sent:
        message = parse_message(item.data)
        assert isinstance(message, SipResponse)
        out.append(message)
    return out


def statuses(sent: list[SendData]) -> list[int]:
    return [r.status for r in responses(sent)]
