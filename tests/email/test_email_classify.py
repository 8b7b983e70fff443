"""Classification rules in precedence order, and when an automatic acknowledgement is allowed."""

from __future__ import annotations

import pytest

from channels.email import MessageKind, ParsedEmail, parse_message, should_auto_ack
from channels.email.classify import Signals, classify

from .corpus_gen import load

N, A, B, L, M = (
    MessageKind.NORMAL,
    MessageKind.AUTO_REPLY,
    MessageKind.BOUNCE,
    MessageKind.LIST,
    MessageKind.MALFORMED,
)
PERSON = "alice@customer.example"


@pytest.mark.parametrize(
    ("signals", "expected"),
    [
        (Signals(from_address=PERSON), N),
        (Signals(from_address=PERSON, auto_submitted="no"), N),
        (Signals(from_address=PERSON, auto_submitted="auto-replied"), A),
        (Signals(from_address=PERSON, auto_submitted="Auto-Generated; owner-email=x@y"), A),
        (Signals(from_address=PERSON, x_autoreply=True), A),
        (Signals(from_address=PERSON, auto_response_suppress=frozenset({"oof"})), A),
        (Signals(from_address=PERSON, auto_response_suppress=frozenset({"all"})), A),
        (Signals(from_address=PERSON, auto_response_suppress=frozenset({"dr", "rn"})), N),
        (Signals(from_address=PERSON, precedence="junk"), A),
        (Signals(from_address=PERSON, precedence="bulk"), L),
        (Signals(from_address=PERSON, precedence="List"), L),
        (Signals(from_address=PERSON, list_id="x.lists.example"), L),
        (Signals(from_address=PERSON, list_unsubscribe=True), L),
        (Signals(from_address="MAILER-DAEMON@mx.example"), B),
        (Signals(from_address="postmaster@mx.example"), B),
        (Signals(from_address=PERSON, failed_recipients=True), B),
        (Signals(content_type="multipart/report", report_type="delivery-status", from_address=PERSON), B),
        (Signals(content_type="multipart/report", report_type="disposition-notification"), A),
        # precedence between rules
        (Signals(from_address="mailer-daemon@x.example", auto_submitted="auto-replied"), B),
        (Signals(from_address=PERSON, auto_submitted="auto-generated", list_id="x"), A),
        (Signals(from_address="mailer-daemon@x.example", structurally_broken=True), M),
    ],
)
def test_rules_and_their_precedence(signals: Signals, expected: MessageKind) -> None:
    assert classify(signals) is expected


def _parsed(name: str) -> ParsedEmail:
    return parse_message(load(name), max_attachment_bytes=1 << 20)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("01_plain_ascii.eml", True),
        ("03_gbk_subject_qp_body.eml", True),
        ("14_auto_reply.eml", False),
        ("15_outlook_oof.eml", False),
        ("16_dsn_bounce.eml", False),
        ("17_mailing_list.eml", False),
        ("18_malformed_mime.eml", False),
        ("25_plain_bounce_qmail.eml", False),
        ("26_read_receipt_mdn.eml", False),
    ],
)
def test_auto_ack_on_corpus(name: str, expected: bool) -> None:
    assert should_auto_ack(_parsed(name)) is expected


@pytest.mark.parametrize(
    "sender", ["noreply@shop.example", "no-reply@x.example", "bounces+123@x.example", "mailer-daemon@x.example"]
)
def test_no_auto_ack_to_unattended_senders(sender: str) -> None:
    assert not should_auto_ack(ParsedEmail(from_address=sender))


def test_no_auto_ack_to_our_own_address_or_a_reply_to_pointing_at_it() -> None:
    ours = ["support@shop.example.com"]
    assert not should_auto_ack(ParsedEmail(from_address="support@shop.example.com"), own_addresses=ours)
    loop = ParsedEmail(from_address=PERSON, reply_to=("Support@Shop.example.com",))
    assert not should_auto_ack(loop, own_addresses=[" SUPPORT@shop.example.com "])
    assert not should_auto_ack(
        ParsedEmail(from_address=PERSON, reply_to=("support@shop.example.com",)), own_addresses=ours
    )


def test_no_auto_ack_without_a_sender() -> None:
    assert not should_auto_ack(ParsedEmail())
