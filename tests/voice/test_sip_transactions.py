"""Server transactions: matching, retransmission and timers (channels/voice/sip/transactions.py)."""

from __future__ import annotations

import itertools

import pytest

from channels.voice.sip import SendData, SipRequest, Transport, make_response, parse_message
from channels.voice.sip.headers import parse_via
from channels.voice.sip.transactions import (
    AckReceived,
    Action,
    CancelReceived,
    NewInvite,
    NewRequest,
    ServerTransactions,
    TransactionError,
    TransactionTimedOut,
    TxState,
    response_destination,
    stamp_received,
)

from .sip_samples import TRUNK_SOURCE, ack, cancel, invite, register, statuses


def req(data: bytes) -> SipRequest:
    message = parse_message(data)
    assert isinstance(message, SipRequest)
    return message


def sent(actions: list[Action]) -> list[SendData]:
    return [a for a in actions if isinstance(a, SendData)]


def start_invite(
    txs: ServerTransactions, now: float = 0.0, transport: Transport = Transport.UDP
) -> tuple[NewInvite, SipRequest]:
    request = req(invite())
    actions = txs.receive(request, TRUNK_SOURCE, now, transport)
    assert len(actions) == 1 and isinstance(actions[0], NewInvite)
    return actions[0], request


@pytest.fixture
def txs() -> ServerTransactions:
    return ServerTransactions(tag_secret=b"tag-secret-0123456789")


def test_new_invite_gets_a_key_and_a_stable_unique_to_tag(txs: ServerTransactions) -> None:
    new, request = start_invite(txs)
    assert new.call_key == "z9hG4bKabc1|192.0.2.10:5060|INVITE"
    other = ServerTransactions(tag_secret=b"tag-secret-0123456789").receive(request, TRUNK_SOURCE, 0.0)[0]
    assert isinstance(other, NewInvite) and other.to_tag == new.to_tag  # deterministic
    second = txs.receive(req(invite(branch="z9hG4bKother")), TRUNK_SOURCE, 0.0)[0]
    assert isinstance(second, NewInvite) and second.to_tag != new.to_tag
    assert txs.state(new.call_key) is TxState.PROCEEDING


def test_retransmitted_invite_is_absorbed_and_answered_with_the_last_provisional(txs: ServerTransactions) -> None:
    new, request = start_invite(txs)
    assert txs.receive(request, TRUNK_SOURCE, 0.1) == []  # nothing sent yet, nothing to repeat
    txs.send_response(new.call_key, make_response(request, 100), 0.2)
    txs.send_response(new.call_key, make_response(request, 182, to_tag=new.to_tag), 0.3)
    again = txs.receive(request, TRUNK_SOURCE, 0.5)
    assert statuses(sent(again)) == [182] and len(again) == 1
    assert txs.retransmissions_absorbed == 2


def test_final_response_is_retransmitted_with_timer_g_doubling_to_t2_until_timer_h(txs: ServerTransactions) -> None:
    new, request = start_invite(txs)
    first = txs.send_response(new.call_key, make_response(request, 486, to_tag=new.to_tag), 0.0)
    assert statuses(sent(first)) == [486]
    fire_times, timed_out = [], []
    while (deadline := txs.next_deadline()) is not None:
        for action in txs.tick(deadline):
            if isinstance(action, SendData):
                assert action.data == first[0].data  # type: ignore[union-attr]
                fire_times.append(deadline)
            else:
                timed_out.append((deadline, action))
    assert fire_times[:6] == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5]
    gaps = [b - a for a, b in itertools.pairwise(fire_times)]
    assert max(gaps) == 4.0
    assert all(t < 32.0 for t in fire_times)
    assert timed_out == [(32.0, TransactionTimedOut(new.call_key, 486))]
    assert len(txs) == 0


def test_retransmitted_invite_after_final_gets_the_final_again(txs: ServerTransactions) -> None:
    new, request = start_invite(txs)
    txs.send_response(new.call_key, make_response(request, 302, to_tag=new.to_tag), 0.0)
    assert statuses(sent(txs.receive(request, TRUNK_SOURCE, 0.2))) == [302]


def test_ack_stops_retransmission_and_timer_i_forgets(txs: ServerTransactions) -> None:
    new, request = start_invite(txs)
    txs.send_response(new.call_key, make_response(request, 302, to_tag=new.to_tag), 0.0)
    assert len(sent(txs.tick(0.5))) == 1
    ack_request = req(ack(to_tag=new.to_tag))
    assert txs.receive(ack_request, TRUNK_SOURCE, 0.7) == [AckReceived(new.call_key, 302)]
    assert txs.state(new.call_key) is TxState.CONFIRMED
    assert txs.receive(ack_request, TRUNK_SOURCE, 0.8) == []  # ACK retransmission absorbed
    assert txs.receive(request, TRUNK_SOURCE, 0.9) == []  # INVITE retransmission absorbed too
    assert txs.next_deadline() == 0.7 + 5.0
    assert txs.tick(1.5) == [] and txs.tick(5.7) == []
    assert len(txs) == 0


def test_stray_ack_is_ignored(txs: ServerTransactions) -> None:
    assert txs.receive(req(ack()), TRUNK_SOURCE, 0.0) == []
    start_invite(txs)
    assert txs.receive(req(ack()), TRUNK_SOURCE, 0.1) == []  # no final sent yet
    assert txs.stray_acks == 2


def test_cancel_gets_200_with_the_invite_to_tag_and_asks_for_487(txs: ServerTransactions) -> None:
    new, request = start_invite(txs)
    cancel_request = req(cancel())
    actions = txs.receive(cancel_request, TRUNK_SOURCE, 1.0)
    assert actions[-1] == CancelReceived(new.call_key)
    (ok,) = sent(actions)
    response = parse_message(ok.data)
    assert response.status == 200 and response.header("CSeq") == "1 CANCEL"  # type: ignore[union-attr]
    assert response.header("To").endswith(f";tag={new.to_tag}")  # type: ignore[union-attr]
    txs.send_response(new.call_key, make_response(request, 487, to_tag=new.to_tag), 1.0)
    again = txs.receive(cancel_request, TRUNK_SOURCE, 1.2)
    assert statuses(sent(again)) == [200] and len(again) == 1  # no second CancelReceived


def test_cancel_without_invite_is_481_and_after_final_is_200_only(txs: ServerTransactions) -> None:
    assert statuses(sent(txs.receive(req(cancel()), TRUNK_SOURCE, 0.0))) == [481]
    other = ServerTransactions(tag_secret=b"x" * 16)
    new, request = start_invite(other)
    other.send_response(new.call_key, make_response(request, 302, to_tag=new.to_tag), 0.0)
    actions = other.receive(req(cancel()), TRUNK_SOURCE, 0.1)
    assert statuses(sent(actions)) == [200] and len(actions) == 1


def test_reliable_transport_has_no_retransmissions(txs: ServerTransactions) -> None:
    new, request = start_invite(txs, transport=Transport.TCP)
    (data,) = txs.send_response(new.call_key, make_response(request, 480, to_tag=new.to_tag), 0.0)
    assert isinstance(data, SendData) and data.dest == TRUNK_SOURCE and data.transport is Transport.TCP
    assert txs.next_deadline() == 32.0  # only Timer H
    assert txs.receive(req(ack(to_tag=new.to_tag)), TRUNK_SOURCE, 0.1, Transport.TCP) == [
        AckReceived(new.call_key, 480)
    ]
    assert len(txs) == 0
    reg = req(register())
    (new_req,) = txs.receive(reg, TRUNK_SOURCE, 0.0, Transport.TCP)
    assert isinstance(new_req, NewRequest)
    txs.send_response(new_req.tx_key, make_response(reg, 200), 0.0)
    assert len(txs) == 0  # Timer J is zero on reliable transports


def test_non_invite_retransmissions_get_the_cached_response_until_timer_j(txs: ServerTransactions) -> None:
    reg = req(register())
    (new,) = txs.receive(reg, TRUNK_SOURCE, 0.0)
    assert isinstance(new, NewRequest) and new.tx_key.endswith("|REGISTER")
    assert txs.receive(reg, TRUNK_SOURCE, 0.1) == []  # still Trying: nothing to repeat
    (first,) = txs.send_response(new.tx_key, make_response(reg, 401), 0.2)
    (repeat,) = txs.receive(reg, TRUNK_SOURCE, 0.4)
    assert repeat == first
    assert txs.next_deadline() == pytest.approx(32.2)
    txs.tick(32.2)
    assert isinstance(txs.receive(reg, TRUNK_SOURCE, 33.0)[0], NewRequest)


def test_unanswered_non_invite_is_forgotten_after_64_t1(txs: ServerTransactions) -> None:
    txs.receive(req(register()), TRUNK_SOURCE, 0.0)
    assert txs.tick(32.0) == [] and len(txs) == 0


def test_illegal_moves_raise_and_change_nothing(txs: ServerTransactions) -> None:
    new, request = start_invite(txs)
    with pytest.raises(TransactionError):
        txs.send_response("nope", make_response(request, 200), 0.0)
    txs.send_response(new.call_key, make_response(request, 404, to_tag=new.to_tag), 0.0)
    with pytest.raises(TransactionError):
        txs.send_response(new.call_key, make_response(request, 302, to_tag=new.to_tag), 0.1)
    assert txs.state(new.call_key) is TxState.COMPLETED


def test_2xx_ends_an_invite_transaction_at_once(txs: ServerTransactions) -> None:
    new, request = start_invite(txs)
    txs.send_response(new.call_key, make_response(request, 200, to_tag=new.to_tag), 0.0)
    assert len(txs) == 0 and txs.next_deadline() is None


def test_same_branch_from_another_sent_by_is_another_transaction(txs: ServerTransactions) -> None:
    start_invite(txs)
    other = txs.receive(req(invite(host="192.0.2.11")), ("192.0.2.11", 5060), 0.0)
    assert isinstance(other[0], NewInvite)


def test_rfc_2543_peers_without_magic_cookie_still_match_ack_and_cancel(txs: ServerTransactions) -> None:
    request = req(invite(branch="old1"))
    (new,) = txs.receive(request, TRUNK_SOURCE, 0.0)
    assert isinstance(new, NewInvite) and new.call_key.startswith("2543|")
    assert txs.receive(request, TRUNK_SOURCE, 0.1) == []
    assert txs.receive(req(cancel(branch="old1")), TRUNK_SOURCE, 0.2)[-1] == CancelReceived(new.call_key)
    txs.send_response(new.call_key, make_response(request, 487, to_tag=new.to_tag), 0.2)
    assert txs.receive(req(ack(branch="old1", to_tag=new.to_tag)), TRUNK_SOURCE, 0.3) == [
        AckReceived(new.call_key, 487)
    ]


def test_response_destination_follows_rport_received_and_connections() -> None:
    via = parse_via("SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK1;received=203.0.113.9;rport=40000")
    assert response_destination(via, ("203.0.113.9", 40000), Transport.UDP) == ("203.0.113.9", 40000)
    via = parse_via("SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK1;received=203.0.113.9")
    assert response_destination(via, ("203.0.113.9", 1234), Transport.UDP) == ("203.0.113.9", 5062)
    via = parse_via("SIP/2.0/UDP gw.example.com;branch=z9hG4bK1")
    assert response_destination(via, ("203.0.113.9", 1234), Transport.UDP) == ("gw.example.com", 5060)
    assert response_destination(via, ("203.0.113.9", 1234), Transport.TCP) == ("203.0.113.9", 1234)


def test_stamp_received_adds_received_and_fills_rport_on_the_top_via_only() -> None:
    request = req(invite().replace(b"Via:", b"Via: SIP/2.0/UDP 10.9.9.9;branch=z9hG4bKnat;rport,", 1))
    stamped = stamp_received(request, ("203.0.113.9", 40000))
    top, second = stamped.headers.get_list("via")[:2]
    assert top == "SIP/2.0/UDP 10.9.9.9;branch=z9hG4bKnat;rport=40000;received=203.0.113.9"
    assert second == request.headers.get_list("via")[1]
    plain = req(invite().replace(b";rport", b""))
    assert stamp_received(plain, TRUNK_SOURCE) is plain
