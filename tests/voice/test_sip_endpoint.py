"""End-to-end call and registration flows through the sans-I/O endpoint (channels/voice/sip/endpoint.py)."""

from __future__ import annotations

import pytest

from channels.voice.sip import (
    CallArrived,
    CallCancelled,
    CallCompleted,
    Registered,
    SipEndpoint,
    SipResponse,
    Transport,
    Unregistered,
    make_authorization,
)
from channels.voice.sip.digest import parse_digest

from .sip_samples import (
    AGENT_SOURCE,
    SIPP_INVITE,
    TRUNK_SOURCE,
    ack,
    cancel,
    invite,
    make_config,
    make_endpoint,
    register,
    responses,
    statuses,
)

PAI = "P-Asserted-Identity: <sip:+4915199999999@carrier.net;user=phone>\r\n"


def arrive(ep: SipEndpoint, now: float = 0.0, **kwargs: object) -> CallArrived:
    ep.datagram_received(invite(**kwargs), TRUNK_SOURCE, now)  # type: ignore[arg-type]
    assert statuses(ep.data_to_send()) == [100]
    (event,) = ep.events_received()
    assert isinstance(event, CallArrived)
    return event


def test_queued_call_redirected_to_an_agent() -> None:
    ep = make_endpoint()
    ep.datagram_received(invite(extra=PAI), TRUNK_SOURCE, 0.0)
    (trying,) = responses(ep.data_to_send())
    assert trying.status == 100 and ";tag=" not in (trying.header("To") or "")
    (arrived,) = ep.events_received()
    assert isinstance(arrived, CallArrived)
    assert (arrived.dialled, arrived.caller) == ("+4930123456", "+4915199999999")
    assert arrived.caller_display == "Alice Caller"
    assert (arrived.gateway, arrived.user, arrived.call_id) == ("carrier", None, "a84b4c76e66710@pc33.example.com")

    assert ep.mark_queued(arrived.call_key, 0.05)
    (queued,) = responses(ep.data_to_send())
    assert (queued.status, queued.reason) == (182, "Queued")
    tag = (queued.header("To") or "").rpartition(";tag=")[2]
    assert tag
    assert ep.next_deadline() == 5.05
    ep.tick(5.05)
    (again,) = responses(ep.data_to_send())
    assert again.status == 182 and again.header("To") == queued.header("To")

    assert ep.redirect(arrived.call_key, "sip:1001@198.51.100.7:40123;transport=udp", 7.0)
    (moved,) = responses(ep.data_to_send())
    assert moved.status == 302 and moved.header("Contact") == "<sip:1001@198.51.100.7:40123;transport=udp>"
    assert moved.header("To") == queued.header("To")
    ep.tick(7.5)
    assert statuses(ep.data_to_send()) == [302]  # Timer G
    ep.datagram_received(ack(to_tag=tag), TRUNK_SOURCE, 7.6)
    assert ep.events_received() == [CallCompleted(arrived.call_key, 302, True)]
    ep.tick(20.0)
    assert ep.data_to_send() == [] and ep.active_calls == 0
    assert not ep.redirect(arrived.call_key, "sip:x@y", 21.0)


def test_retransmitted_invite_is_one_call() -> None:
    ep = make_endpoint()
    arrived = arrive(ep)
    ep.datagram_received(invite(), TRUNK_SOURCE, 0.5)
    assert statuses(ep.data_to_send()) == [100] and ep.events_received() == []
    ep.mark_queued(arrived.call_key, 0.6)
    ep.data_to_send()
    ep.datagram_received(invite(), TRUNK_SOURCE, 1.5)
    assert statuses(ep.data_to_send()) == [182] and ep.events_received() == []
    assert ep.retransmissions_absorbed == 2 and ep.counters.calls_arrived == 1


def test_cancel_while_queued_gives_200_and_487() -> None:
    ep = make_endpoint()
    arrived = arrive(ep)
    ep.mark_queued(arrived.call_key, 0.1)
    ep.data_to_send()
    ep.datagram_received(cancel(), TRUNK_SOURCE, 2.0)
    ok, terminated = responses(ep.data_to_send())
    assert (ok.status, ok.header("CSeq")) == (200, "1 CANCEL")
    assert (terminated.status, terminated.header("CSeq")) == (487, "1 INVITE")
    assert ok.header("To") == terminated.header("To")
    assert ep.events_received() == [CallCancelled(arrived.call_key)]
    ep.datagram_received(cancel(), TRUNK_SOURCE, 2.1)
    assert statuses(ep.data_to_send()) == [200] and ep.events_received() == []
    tag = (terminated.header("To") or "").rpartition(";tag=")[2]
    ep.datagram_received(ack(to_tag=tag), TRUNK_SOURCE, 2.2)
    assert ep.events_received() == []  # the call already ended with CallCancelled
    ep.tick(10.0)
    assert ep.data_to_send() == []  # no more 182s, no 487 retransmissions
    assert not ep.mark_queued(arrived.call_key, 10.0)


def bye(to_tag: str, *, branch: str = "z9hG4bKbye1", cseq: int = 2, **kwargs: object) -> bytes:
    """A BYE in the caller's (early) dialog: the INVITE's Call-ID and From tag, our To tag."""
    return ack(to_tag=to_tag, branch=branch, cseq=cseq, **kwargs).replace(  # type: ignore[arg-type]
        b"ACK ", b"BYE ", 1).replace(f"CSeq: {cseq} ACK".encode(), f"CSeq: {cseq} BYE".encode())


def test_bye_in_the_early_dialog_of_a_queued_call_ends_it_like_cancel() -> None:
    ep = make_endpoint()
    arrived = arrive(ep)
    ep.mark_queued(arrived.call_key, 0.1)
    (queued,) = responses(ep.data_to_send())
    tag = (queued.header("To") or "").rpartition(";tag=")[2]
    ep.datagram_received(bye(tag), TRUNK_SOURCE, 2.0)
    ok, terminated = responses(ep.data_to_send())
    assert (ok.status, ok.header("CSeq")) == (200, "2 BYE")
    assert (terminated.status, terminated.header("CSeq")) == (487, "1 INVITE")
    assert ep.events_received() == [CallCancelled(arrived.call_key)]
    assert ep.counters.calls_cancelled == 1 and ep.active_calls == 0
    ep.datagram_received(bye(tag), TRUNK_SOURCE, 2.1)  # a retransmission: the transaction's 200 again
    assert statuses(ep.data_to_send()) == [200] and ep.events_received() == []
    ep.datagram_received(ack(to_tag=tag), TRUNK_SOURCE, 2.2)
    assert ep.events_received() == []  # the call already ended with CallCancelled
    ep.datagram_received(bye(tag, branch="z9hG4bKbye2", cseq=3), TRUNK_SOURCE, 2.3)
    assert statuses(ep.data_to_send()) == [481]  # the dialog is gone


def test_bye_that_names_no_early_dialog_gets_481() -> None:
    ep = make_endpoint()
    arrived = arrive(ep)
    tag = ep._calls[arrived.call_key].to_tag
    ep.datagram_received(bye(tag), TRUNK_SOURCE, 0.5)  # no 182 yet: the caller cannot be in a dialog
    assert statuses(ep.data_to_send()) == [481]
    ep.mark_queued(arrived.call_key, 1.0)
    ep.data_to_send()
    wrong = [bye("0123456789abcdef", branch="z9hG4bKw1"), bye(tag, branch="z9hG4bKw2", call_id="other@x"),
             bye(tag, branch="z9hG4bKw3").replace(b";tag=", b";tag=x", 1)]  # another From tag
    for n, data in enumerate(wrong):
        ep.datagram_received(data, TRUNK_SOURCE, 2.0 + n)
        assert statuses(ep.data_to_send()) == [481]
    assert ep.events_received() == [] and ep.active_calls == 1
    assert ep.reject(arrived.call_key, 480, 5.0)
    ep.data_to_send()
    ep.datagram_received(bye(tag, branch="z9hG4bKw4"), TRUNK_SOURCE, 5.1)  # answered: no early dialog left
    assert statuses(ep.data_to_send()) == [481] and ep.events_received() == []


def test_no_agent_480_and_timer_h_when_never_acknowledged() -> None:
    ep = make_endpoint()
    arrived = arrive(ep)
    assert ep.reject(arrived.call_key, 480, 1.0)
    assert statuses(ep.data_to_send()) == [480]
    ep.tick(1.0 + 32.0)
    assert ep.events_received() == [CallCompleted(arrived.call_key, 480, False)]
    assert ep.counters.calls_timed_out == 1
    with pytest.raises(ValueError):
        ep.reject(arrived.call_key, 200, 40.0)


def test_queue_give_up_answers_480() -> None:
    ep = make_endpoint(max_queue_seconds=60.0)
    arrived = arrive(ep)
    ep.mark_queued(arrived.call_key, 0.0)
    ep.tick(60.0)
    assert 480 in statuses(ep.data_to_send())


def register_agent(ep: SipEndpoint, now: float = 0.0, user: str = "1001") -> SipResponse:
    ep.datagram_received(register(user), AGENT_SOURCE, now)
    (challenge,) = responses(ep.data_to_send())
    assert challenge.status == 401
    auth = make_authorization(
        challenge.header("WWW-Authenticate") or "",
        username=user,
        password=f"s3cret-{user}",
        method="REGISTER",
        uri="sip:cc.example.com",
    )
    ep.datagram_received(register(user, authorization=auth, cseq=2, branch="z9hG4bKreg2"), AGENT_SOURCE, now)
    (ok,) = responses(ep.data_to_send())
    assert ok.status == 200, ok.reason
    return ok


def test_register_with_digest_then_redirect_to_that_agent() -> None:
    ep = make_endpoint()
    register_agent(ep)
    assert ep.events_received() == [Registered("1001", "sip:1001@198.51.100.7:40123;transport=udp", 300)]
    arrived = arrive(ep, 1.0)
    assert not ep.redirect_to_agent(arrived.call_key, "1002", 2.0)
    assert ep.redirect_to_agent(arrived.call_key, "1001", 2.0)
    (moved,) = responses(ep.data_to_send())
    assert moved.header("Contact") == "<sip:1001@198.51.100.7:40123;transport=udp>"


def test_register_response_lists_bindings_and_expiry_unregisters() -> None:
    ep = make_endpoint()
    ok = register_agent(ep, 0.0)
    assert ok.headers.get_all("Contact") == ["<sip:1001@198.51.100.7:40123;transport=udp>;expires=300"]
    ep.events_received()
    assert ep.next_deadline() == 32.0  # Timer J of the REGISTER transactions
    ep.tick(32.0)
    assert ep.next_deadline() == 300.0
    ep.tick(300.0)
    assert ep.events_received() == [Unregistered("1001", "sip:1001@198.51.100.7:40123;transport=udp")]


def test_register_refusals() -> None:
    ep = make_endpoint()
    ep.datagram_received(register(), AGENT_SOURCE, 0.0)
    challenge = responses(ep.data_to_send())[0].header("WWW-Authenticate") or ""
    wrong = make_authorization(challenge, username="1001", password="nope", method="REGISTER", uri="sip:cc.example.com")
    ep.datagram_received(register(authorization=wrong, cseq=2, branch="z9hG4bKr2"), AGENT_SOURCE, 1.0)
    assert statuses(ep.data_to_send()) == [403]
    other = make_authorization(
        challenge, username="1002", password="s3cret-1002", method="REGISTER", uri="sip:cc.example.com"
    )
    ep.datagram_received(register(authorization=other, cseq=3, branch="z9hG4bKr3"), AGENT_SOURCE, 1.0)
    assert statuses(ep.data_to_send()) == [403]  # 1002 may not register 1001
    good = make_authorization(
        challenge, username="1001", password="s3cret-1001", method="REGISTER", uri="sip:cc.example.com"
    )
    ep.datagram_received(register(authorization=good, cseq=4, branch="z9hG4bKr4"), AGENT_SOURCE, 1000.0)
    (stale,) = responses(ep.data_to_send())
    assert stale.status == 401 and parse_digest(stale.header("WWW-Authenticate") or "")["stale"] == "true"
    ep.datagram_received(register(authorization=good, cseq=5, branch="z9hG4bKr5", expires=10), AGENT_SOURCE, 2.0)
    (brief,) = responses(ep.data_to_send())
    assert (brief.status, brief.header("Min-Expires")) == (423, "60")
    assert make_endpoint(credentials=None) and ep.counters.forbidden == 2


def test_untrusted_invite_is_forbidden_without_invite_auth() -> None:
    ep = make_endpoint()
    ep.datagram_received(invite(host="203.0.113.50"), ("203.0.113.50", 5060), 0.0)
    assert statuses(ep.data_to_send()) == [403] and ep.events_received() == []


def test_untrusted_invite_is_challenged_with_407_and_pai_is_ignored() -> None:
    ep = make_endpoint(invite_auth=True, digest_algorithms=("SHA-256", "MD5"))
    source = ("203.0.113.50", 5060)
    ep.datagram_received(invite(host="203.0.113.50", extra=PAI), source, 0.0)
    (challenge,) = responses(ep.data_to_send())
    assert challenge.status == 407
    offered = challenge.headers.get_all("Proxy-Authenticate")
    assert [parse_digest(c)["algorithm"] for c in offered] == ["SHA-256", "MD5"]
    ep.datagram_received(ack(host="203.0.113.50", to_tag="x"), source, 0.1)
    auth = make_authorization(
        offered[0], username="1002", password="s3cret-1002", method="INVITE", uri="sip:+4930123456@cc.example.com"
    )
    ep.datagram_received(
        invite(host="203.0.113.50", branch="z9hG4bKauth2", cseq=2, extra=PAI + f"Proxy-Authorization: {auth}\r\n"),
        source,
        0.2,
    )
    assert statuses(ep.data_to_send()) == [100]
    (arrived,) = ep.events_received()
    assert isinstance(arrived, CallArrived)
    assert (arrived.user, arrived.gateway, arrived.caller) == ("1002", None, "+4915112345678")


@pytest.mark.parametrize(
    ("method", "status"), [("OPTIONS", 200), ("BYE", 481), ("SUBSCRIBE", 405), ("FROBNICATE", 501)]
)
def test_other_methods(method: str, status: int) -> None:
    ep = make_endpoint()
    ep.datagram_received(invite(method=method, body=b""), TRUNK_SOURCE, 0.0)
    (response,) = responses(ep.data_to_send())
    assert response.status == status
    if status in (200, 405, 501):
        assert response.header("Allow") == "INVITE, ACK, CANCEL, OPTIONS, REGISTER"


def test_require_is_refused_with_420_and_to_tag_invite_with_481() -> None:
    ep = make_endpoint()
    ep.datagram_received(invite(extra="Require: 100rel, timer\r\n"), TRUNK_SOURCE, 0.0)
    (refused,) = responses(ep.data_to_send())
    assert (refused.status, refused.header("Unsupported")) == (420, "100rel, timer")
    in_dialog = invite(branch="z9hG4bKre").replace(b"cc.example.com>\r\n", b"cc.example.com>;tag=ours\r\n")
    ep.datagram_received(in_dialog, TRUNK_SOURCE, 0.0)
    assert statuses(ep.data_to_send()) == [481] and ep.events_received() == []


def test_overload_answers_503() -> None:
    ep = make_endpoint(max_calls=1)
    arrive(ep)
    ep.datagram_received(invite(branch="z9hG4bKsecond", call_id="second"), TRUNK_SOURCE, 0.0)
    (busy,) = responses(ep.data_to_send())
    assert (busy.status, busy.header("Retry-After")) == (503, "5") and ep.counters.overloaded == 1


def test_malformed_request_is_answered_400_to_its_via_and_garbage_is_dropped() -> None:
    ep = make_endpoint()
    bad = invite(host="10.9.9.9").replace(b"CSeq: 1 INVITE", b"CSeq: 1 BYE")
    ep.datagram_received(bad, ("203.0.113.9", 40000), 0.0)
    (sent,) = ep.data_to_send()
    assert sent.dest == ("203.0.113.9", 40000)  # rport: back through the NAT
    (response,) = responses([sent])
    assert response.status == 400 and "CSeq method" in (response.header("Warning") or "")
    ep.datagram_received(b"\x16\x03\x01garbage", TRUNK_SOURCE, 0.0)
    ep.datagram_received(
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1 OPTIONS\r\n\r\n", TRUNK_SOURCE, 0.0
    )
    ep.datagram_received(b"\r\n\r\n", TRUNK_SOURCE, 0.0)
    ep.datagram_received(bad.replace(b"INVITE sip", b"ACK sip"), TRUNK_SOURCE, 0.0)
    assert ep.data_to_send() == []
    counters = ep.counters
    assert (counters.malformed, counters.malformed_answered, counters.responses_ignored, counters.keepalives) == (
        3,
        1,
        1,
        1,
    )


def test_oversized_invite_is_513() -> None:
    ep = make_endpoint(max_message_size=1024)
    ep.datagram_received(invite(body=b"v=0\r\n" * 400), TRUNK_SOURCE, 0.0)
    assert statuses(ep.data_to_send()) == [513]


def test_tcp_answers_on_the_connection_without_retransmissions() -> None:
    ep = make_endpoint()
    ep.datagram_received(SIPP_INVITE, ("192.0.2.20", 33333), 0.0, Transport.TCP)
    (trying,) = ep.data_to_send()
    assert (trying.dest, trying.transport) == (("192.0.2.20", 33333), Transport.TCP)
    (arrived,) = ep.events_received()
    assert isinstance(arrived, CallArrived) and arrived.dialled == "service"
    ep.reject(arrived.call_key, 486, 0.1)
    ep.data_to_send()
    ep.tick(10.0)
    assert ep.data_to_send() == []


def test_configuration_errors_name_the_key() -> None:
    with pytest.raises(ValueError, match=r"sip\.queued_interval"):
        make_config(queued_interval=0)
    with pytest.raises(ValueError, match=r"sip\.invite_auth"):
        make_config(invite_auth=True, credentials=None)
    with pytest.raises(ValueError, match=r"trunks\.pbx\.networks"):
        from channels.voice.sip import Trunk

        Trunk.from_strings("pbx", ["10.0.0.0/33"])


def test_events_validate_themselves() -> None:
    with pytest.raises(ValueError):
        CallCompleted("k", 200, True)


def test_ipv6_trunk_and_via() -> None:
    from channels.voice.sip import Trunk

    ep = make_endpoint(trunks=(Trunk.from_strings("v6", ["2001:db8::/32"]),))
    data = invite(host="[2001:db8::7]", port=5070)
    ep.datagram_received(data, ("2001:db8::7", 5070), 0.0)
    (trying,) = ep.data_to_send()
    assert trying.dest == ("2001:db8::7", 5070)
    (response,) = responses([trying])
    assert response.header("Via") == "SIP/2.0/UDP [2001:db8::7]:5070;branch=z9hG4bKabc1;rport=5070;received=2001:db8::7"
    (arrived,) = ep.events_received()
    assert isinstance(arrived, CallArrived) and arrived.gateway == "v6"


def test_finished_calls_do_not_leave_timers_behind() -> None:
    ep = make_endpoint(max_queue_seconds=3600.0)
    for n in range(3000):
        branch = f"z9hG4bKleak{n}"
        ep.datagram_received(invite(branch=branch, call_id=f"leak-{n}"), TRUNK_SOURCE, n * 0.01)
        (arrived,) = ep.events_received()
        ep.mark_queued(arrived.call_key, n * 0.01)  # type: ignore[union-attr]
        ep.reject(arrived.call_key, 480, n * 0.01)  # type: ignore[union-attr]
        ep.datagram_received(ack(branch=branch, call_id=f"leak-{n}", to_tag="t"), TRUNK_SOURCE, n * 0.01)
        ep.data_to_send()
        assert ep.events_received() == [CallCompleted(arrived.call_key, 480, True)]  # type: ignore[union-attr]
    assert ep.active_calls == 0
    assert len(ep._timers) <= 1024 + 4  # superseded give-up and 182 entries were purged
