"""Property tests: hostile bytes never make the parser raise, and outputs keep their invariants."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.email import OUTBOUND_POLICY, MessageKind, ParsedEmail, compose_new, parse_message
from channels.email.headers import clean_text
from channels.email.markup import sanitise_html

from .corpus_gen import corpus_names, load

CORPUS = {name: load(name) for name in corpus_names()}
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Fragments that steer mutations towards the parser's interesting states.
SPICE = [
    b"\r\n\r\n",
    b"\r\n",
    b"\n",
    b"--",
    b"=?",
    b"?=",
    b"=?gb2312?B?",
    b"=?utf-8?Q?",
    b"boundary=",
    b"Content-Type: multipart/mixed; boundary=x\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"\xff\xfe",
    b"\x00",
    b"filename*0*=",
    b"charset=",
    b":",
    b"<",
    b">",
    b'"',
    b";",
    b"=\r\n",
    b"\t",
    b" ",
]


def strings_in(parsed: ParsedEmail) -> list[str]:
    """Every string a parsed message carries, for invariants that apply to all of them."""
    values = [parsed.text, parsed.subject, parsed.html_sanitised or "", parsed.from_address or ""]
    values += [parsed.from_name or "", parsed.message_id or "", parsed.auto_submitted or ""]
    values += [parsed.precedence or "", parsed.list_id or "", *parsed.problems]
    values += [*parsed.in_reply_to, *parsed.references, *parsed.to, *parsed.cc, *parsed.reply_to]
    for attachment in parsed.attachments:
        values += [attachment.filename or "", attachment.content_type, attachment.content_id or ""]
    if parsed.dsn is not None:
        values.append(parsed.dsn.original_message_id or "")
        for status in parsed.dsn.recipients:
            values += [status.recipient, status.action or "", status.status or "", status.diagnostic or ""]
    return values


def check_invariants(parsed: ParsedEmail) -> None:
    assert isinstance(parsed, ParsedEmail)
    assert parsed.kind in MessageKind
    assert parsed.malformed == (parsed.kind is MessageKind.MALFORMED)
    for value in strings_in(parsed):
        assert isinstance(value, str) and "\x00" not in value
        value.encode("utf-8")  # no lone surrogates: the database and the encoders must accept it
    assert "\n" not in parsed.subject
    for attachment in parsed.attachments:
        if attachment.data is not None:
            assert hashlib.sha256(attachment.data).hexdigest() == attachment.sha256
    if parsed.html_sanitised:
        assert "<script" not in parsed.html_sanitised.lower()
    if parsed.date is not None:
        assert parsed.date.tzinfo is not None


@FUZZ
@given(st.binary(max_size=4000))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    check_invariants(parse_message(raw, max_attachment_bytes=256))


@st.composite
def mutated_corpus(draw: st.DrawFn) -> bytes:
    data = bytearray(CORPUS[draw(st.sampled_from(sorted(CORPUS)))])
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        position = draw(st.integers(0, len(data) - 1))
        operation = draw(st.sampled_from(["flip", "delete", "insert", "spice", "truncate", "duplicate"]))
        if operation == "flip":
            data[position] = draw(st.integers(0, 255))
        elif operation == "delete":
            del data[position : position + draw(st.integers(1, 64))]
        elif operation == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=32))
        elif operation == "spice":
            data[position:position] = draw(st.sampled_from(SPICE))
        elif operation == "truncate":
            del data[position:]
        else:
            end = min(len(data), position + draw(st.integers(1, 200)))
            data[position:position] = data[position:end]
    return bytes(data)


@FUZZ
@given(mutated_corpus())
def test_mutated_corpus_messages_never_raise(raw: bytes) -> None:
    check_invariants(parse_message(raw, max_attachment_bytes=256))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>\"'=/ aimgscriptonerrorsvgjavascript:href()&;#x")), max_size=200))
def test_sanitiser_output_has_no_active_content(markup: str) -> None:
    cleaned = sanitise_html(markup).lower()
    assert "<script" not in cleaned and "<svg" not in cleaned
    assert "javascript:" not in cleaned.replace("&", "")
    assert " onerror=" not in cleaned and " on" + "load=" not in cleaned


printable = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Co", "Cn", "Zl", "Zp")), max_size=80)


@settings(max_examples=150, deadline=None)
@given(subject=printable, name=printable, body=printable)
def test_compose_round_trips_arbitrary_unicode(subject: str, name: str, body: str) -> None:
    message = compose_new(
        to=["customer@x.example"],
        subject=subject,
        from_address="support@shop.example.com",
        from_name=name,
        text=body,
        now=datetime(2025, 1, 1, tzinfo=UTC),
        reference_token="ABC123",
    )
    parsed = parse_message(message.as_bytes(policy=OUTBOUND_POLICY), max_attachment_bytes=1 << 20)
    expected_subject = clean_text(f"{clean_text(subject)} [#ABC123]")
    assert parsed.subject == expected_subject
    assert parsed.from_address == "support@shop.example.com"
    assert (parsed.from_name or "") == clean_text(name)
    assert parsed.text == body.strip("\n").rstrip()
