"""Threading keys: candidate Message-IDs, the subject token, reply prefixes, References capping."""

from __future__ import annotations

import uuid

import pytest

from channels.email import (
    ParsedEmail,
    format_subject_token,
    make_reference_token,
    parse_message,
    reply_references,
    strip_reply_prefixes,
    subject_token,
    thread_candidates,
)

from .corpus_gen import load


def test_candidates_in_reply_to_first_then_references_newest_first() -> None:
    parsed = parse_message(load("22_reply_with_references.eml"), max_attachment_bytes=0)
    assert thread_candidates(parsed) == [
        "<reply-2@shop.example.com>",
        "<CAF5e6f7@mail.customer.example>",
        "<reply-1@shop.example.com>",
        "<CAF1a2b3c4@mail.customer.example>",
    ]


def test_candidates_never_include_the_message_itself() -> None:
    parsed = ParsedEmail(message_id="<self@x>", in_reply_to=("<self@x>",), references=("<a@x>",))
    assert thread_candidates(parsed) == ["<a@x>"]


def test_token_only_reply_yields_the_token() -> None:
    parsed = parse_message(load("23_reply_token_only.eml"), max_attachment_bytes=0)
    assert thread_candidates(parsed) == []
    assert subject_token(parsed.subject) == "ABC123"


@pytest.mark.parametrize(
    ("subject", "token"),
    [
        ("Re: Help [#ABC123]", "ABC123"),
        ("[#KQ3VB7MA] at the start", "KQ3VB7MA"),
        ("two [#AAAAAA] and [#BBBBBB2]", "BBBBBB2"),
        ("too short [#ABC12]", None),
        ("too long [#ABCDEFGHIJK]", None),
        ("lower case [#abc123]", None),
        ("no brackets #ABC123", None),
        ("", None),
        (None, None),
    ],
)
def test_subject_token(subject: str | None, token: str | None) -> None:
    assert subject_token(subject) == token


def test_format_subject_token_round_trips_and_validates() -> None:
    assert subject_token(f"Re: x {format_subject_token('ABC123')}") == "ABC123"
    for bad in ("abc123", "AB12", "ABCDEFGHIJK", "ABC 12", "[#ABC123]"):
        with pytest.raises(ValueError, match="reference token"):
            format_subject_token(bad)


def test_reference_token_is_deterministic_and_distinct_for_time_ordered_uuids() -> None:
    """UUIDv1/v7 share leading timestamp bytes; hashing keeps their tokens apart."""
    interaction = uuid.UUID("0195a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
    token = make_reference_token(interaction)
    assert token == make_reference_token(str(interaction))
    assert len(token) == 8 and format_subject_token(token)
    siblings = {make_reference_token(uuid.UUID(int=interaction.int + step)) for step in range(1000)}
    assert len(siblings) == 1000
    assert len(make_reference_token(interaction, length=6)) == 6
    with pytest.raises(ValueError, match="length"):
        make_reference_token(interaction, length=11)


@pytest.mark.parametrize(
    ("subject", "stripped"),
    [
        ("Re: Order", "Order"),
        ("RE: Re: Fwd: FW: Order", "Order"),
        ("回复: 订单", "订单"),
        ("回复：订单", "订单"),
        ("答复: 转发: 订单", "订单"),
        ("AW: SV: Bestellung", "Bestellung"),
        ("Re[2]: Order", "Order"),
        ("Re: Re: Where is my order? [#KQ3VB7MA]", "Where is my order? [#KQ3VB7MA]"),
        ("Regarding: Order", "Regarding: Order"),
        ("Order re: shipping", "Order re: shipping"),
        ("", ""),
    ],
)
def test_strip_reply_prefixes(subject: str, stripped: str) -> None:
    assert strip_reply_prefixes(subject) == stripped


def test_reply_references_append_parent_and_keep_root_when_capped() -> None:
    chain = tuple(f"<m{i}@x>" for i in range(30))
    parent = ParsedEmail(message_id="<parent@x>", references=chain)
    references = reply_references(parent, limit=10)
    assert len(references) == 10
    assert references[0] == "<m0@x>"
    assert references[-1] == "<parent@x>"
    assert references[1:-1] == list(chain[-8:])


def test_reply_references_fall_back_to_single_in_reply_to() -> None:
    parent = ParsedEmail(message_id="<p@x>", in_reply_to=("<gp@x>",))
    assert reply_references(parent) == ["<gp@x>", "<p@x>"]
    ambiguous = ParsedEmail(message_id="<p@x>", in_reply_to=("<a@x>", "<b@x>"))
    assert reply_references(ambiguous) == ["<p@x>"]
