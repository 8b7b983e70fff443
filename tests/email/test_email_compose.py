"""Outbound messages: threading headers, encodings, and a round trip through our own parser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage

import pytest

from channels.email import (
    OUTBOUND_POLICY,
    MessageKind,
    OutboundAttachment,
    ParsedEmail,
    compose_new,
    compose_reply,
    parse_message,
    should_auto_ack,
)

from .corpus_gen import load

NOW = datetime(2025, 3, 5, 12, 0, tzinfo=timezone(timedelta(hours=8)))
SHOP = "support@shop.example.com"


def round_trip(message: EmailMessage) -> ParsedEmail:
    raw = message.as_bytes(policy=OUTBOUND_POLICY)
    assert raw.isascii(), "outbound mail must be 7-bit clean"
    return parse_message(raw, max_attachment_bytes=1 << 20)


def gbk_parent() -> ParsedEmail:
    return parse_message(load("03_gbk_subject_qp_body.eml"), max_attachment_bytes=1 << 20)


def test_reply_threading_headers() -> None:
    parent = parse_message(load("22_reply_with_references.eml"), max_attachment_bytes=0)
    reply = compose_reply(
        parent,
        from_address=SHOP,
        from_name="Shop Support",
        text="Glad to hear it.",
        now=NOW,
        reference_token="KQ3VB7MA",
        message_id="<reply-3@shop.example.com>",
    )
    assert reply["In-Reply-To"] == "<CAF9z8y7x6@mail.customer.example>"
    assert str(reply["References"]).split() == [*parent.references, "<CAF9z8y7x6@mail.customer.example>"]
    assert reply["Message-ID"] == "<reply-3@shop.example.com>"
    assert reply["Subject"] == "Re: Where is my order? [#KQ3VB7MA]"  # prefixes collapsed, token not doubled
    assert reply["To"] == "alice.smith@customer.example"
    assert reply["Date"] == "Wed, 05 Mar 2025 12:00:00 +0800"
    assert reply["Auto-Submitted"] is None


def test_reply_goes_to_reply_to_when_set() -> None:
    parent = ParsedEmail(message_id="<p@x>", from_address="alice@x.example", reply_to=("orders@x.example",))
    reply = compose_reply(parent, from_address=SHOP, from_name=None, text="hi", now=NOW)
    assert reply["To"] == "orders@x.example"


def test_reply_message_id_uses_sender_domain() -> None:
    reply = compose_reply(gbk_parent(), from_address=SHOP, from_name=None, text="hi", now=NOW)
    assert str(reply["Message-ID"]).endswith("@shop.example.com>")


def test_reply_round_trips_with_chinese_subject_and_display_name() -> None:
    reply = compose_reply(
        gbk_parent(),
        from_address=SHOP,
        from_name="客服 小李",
        text="您好，\n快递明天到。",
        now=NOW,
        reference_token="ABC123",
        reply_to="reply+abc123@shop.example.com",
    )
    parsed = round_trip(reply)
    assert parsed.subject == "Re: 关于订单发货的问题 [#ABC123]"
    assert (parsed.from_name, parsed.from_address) == ("客服 小李", SHOP)
    assert parsed.to == ("xiaoming.wang@qq.example",)
    assert parsed.reply_to == ("reply+abc123@shop.example.com",)
    assert parsed.in_reply_to == ("<tencent_0A1B2C3D4E5F@qq.example>",)
    assert parsed.references == ("<tencent_0A1B2C3D4E5F@qq.example>",)
    assert parsed.text == "您好，\n快递明天到。"
    assert parsed.date == NOW
    assert parsed.kind is MessageKind.NORMAL and parsed.problems == ()


def test_agent_text_is_escaped_in_the_html_part() -> None:
    reply = compose_reply(
        gbk_parent(),
        from_address=SHOP,
        from_name=None,
        now=NOW,
        text='<script>alert(1)</script>\n<b onclick="x">hi</b>',
    )
    html_part = reply.get_body(preferencelist=("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert "<script>" not in html and "<b " not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;<br>" in html
    assert reply.get_content_type() == "multipart/alternative"
    for part in reply.iter_parts():
        assert part.get_content_charset() == "utf-8"
        assert part["MIME-Version"] is None


def test_auto_ack_is_marked_and_never_acknowledged_back() -> None:
    ack = compose_reply(gbk_parent(), from_address=SHOP, from_name="客服", text="已收到", now=NOW, auto_ack=True)
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["X-Auto-Response-Suppress"] == "All"
    parsed = round_trip(ack)
    assert parsed.kind is MessageKind.AUTO_REPLY
    assert not should_auto_ack(parsed)


def test_reply_without_anyone_to_answer_is_refused() -> None:
    with pytest.raises(ValueError, match="nobody to reply to"):
        compose_reply(ParsedEmail(), from_address=SHOP, from_name=None, text="x", now=NOW)


def test_naive_time_and_bad_addresses_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        compose_new(
            to=["a@x.example"], subject="s", from_address=SHOP, from_name=None, text="x", now=datetime(2025, 1, 1)
        )  # naive on purpose
    with pytest.raises(ValueError, match="not an email address"):
        compose_new(to=["a@x.example, b@y.example"], subject="s", from_address=SHOP, from_name=None, text="x", now=NOW)
    with pytest.raises(TypeError):
        compose_new(to="a@x.example", subject="s", from_address=SHOP, from_name=None, text="x", now=NOW)


def test_header_injection_in_subject_and_name_is_neutralised() -> None:
    message = compose_new(
        to=["a@x.example"],
        subject="Hi\r\nBcc: victim@x.example",
        from_address=SHOP,
        from_name="Evil\r\nX-Injected: 1",
        text="x",
        now=NOW,
    )
    raw = message.as_bytes(policy=OUTBOUND_POLICY)
    assert b"\r\nBcc:" not in raw and b"\r\nX-Injected:" not in raw
    assert round_trip(message).subject == "Hi Bcc: victim@x.example"


def test_compose_new_transcript_with_token_and_attachment() -> None:
    transcript = OutboundAttachment("聊天记录.txt", "text/plain", "客户：你好\n客服：您好".encode())
    message = compose_new(
        to=["Customer@X.example"],
        subject="您的咨询记录",
        from_address=SHOP,
        from_name="客服中心",
        text="附件是本次聊天记录。",
        now=NOW.astimezone(UTC),
        reference_token="KQ3VB7MA",
        attachments=[transcript],
    )
    assert message["In-Reply-To"] is None and message["References"] is None
    parsed = round_trip(message)
    assert parsed.subject == "您的咨询记录 [#KQ3VB7MA]"
    assert parsed.text == "附件是本次聊天记录。"
    (attachment,) = parsed.attachments
    assert attachment.filename == "聊天记录.txt"
    assert attachment.data == transcript.data


def test_outbound_attachment_validates_itself() -> None:
    with pytest.raises(ValueError, match="type/subtype"):
        OutboundAttachment("a.pdf", "pdf", b"")
    with pytest.raises(ValueError, match="filename"):
        OutboundAttachment(" ", "application/pdf", b"")


@pytest.mark.parametrize(
    ("subject", "name"),
    [
        ("x", "0" + "\u0800" * 14 + " ¡"),  # the stdlib folder would drop this space between encoded words
        ("literal =?utf-8?q?x?= text", "=?utf-8?q?n?="),  # ASCII that looks like an encoded word
        ("a" * 200 + " 中文 " * 30, 'Shop, Inc. "Best"'),  # long folded subject; ASCII name with specials
    ],
)
def test_headers_survive_encoding_edge_cases(subject: str, name: str) -> None:
    message = compose_new(to=["a@x.example"], subject=subject, from_address=SHOP, from_name=name, text="x", now=NOW)
    parsed = round_trip(message)
    assert parsed.subject == " ".join(subject.split())
    assert parsed.from_name == name


def test_received_ids_that_look_encoded_or_are_not_ascii_do_not_break_the_reply() -> None:
    parent = ParsedEmail(
        message_id="<=?x?q?=FF_?=@odd.example>",
        references=("<root@x.example>", "<中文@x.example>"),
        from_address="a@x.example",
    )
    reply = compose_reply(parent, from_address=SHOP, from_name=None, text="x", now=NOW)
    parsed = round_trip(reply)
    assert parsed.in_reply_to == ("<=?x?q?=FF_?=@odd.example>",)
    assert parsed.references == ("<root@x.example>", "<=?x?q?=FF_?=@odd.example>")


def test_aiosmtplib_serialisation_keeps_our_encoded_headers() -> None:
    """aiosmtplib flattens with plain policy.SMTP; our headers must not give it a reason to refold them."""
    aiosmtplib_email = pytest.importorskip("aiosmtplib.email")
    name = "客服 小李 " * 12 + "0" + "\u0800" * 14 + " ¡"
    message = compose_new(
        to=["a@x.example"], subject="您的咨询 记录", from_address=SHOP, from_name=name, text="x", now=NOW
    )
    raw = aiosmtplib_email.flatten_message(message)
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 78
    parsed = parse_message(raw, max_attachment_bytes=0)
    assert (parsed.from_name, parsed.subject) == (name.strip(), "您的咨询 记录")


def _longest_line(message: EmailMessage) -> bytes:
    return max(message.as_bytes(policy=OUTBOUND_POLICY).split(b"\r\n"), key=len)


def test_a_reply_to_a_long_message_id_has_no_line_over_998_characters() -> None:
    """The parser accepts Message-IDs of any length (a folded id is unfolded, whitespace removed); the
    reply used to copy it verbatim into one In-Reply-To line and one References line. Over 998 characters
    a relay refuses the message with 5xx ("500 Line too long", aiosmtpd) or breaks the line inside
    the id (Postfix), so the agent's reply fails or no longer threads."""
    long_id = "<" + "a1b2c3d4" * 130 + "@mail.customer.example>"
    parent = ParsedEmail(message_id=long_id, subject="订单", from_address="li@163.example", kind=MessageKind.NORMAL)
    message = compose_reply(parent, from_address="support@shop.example.com", from_name="客服中心",
                            text="您好", now=NOW)
    longest = _longest_line(message)
    assert len(longest) <= 998, f"{len(longest)}-byte line: {longest[:40]!r}..."
    assert message["In-Reply-To"] is None and message["References"] is None  # left out, not cut


def test_an_over_long_id_is_left_out_of_references_and_the_rest_kept() -> None:
    """Incoming mail still keeps the long id (threading of what the customer sends is unchanged)."""
    long_id = "<" + "x" * 950 + "@odd.example>"
    incoming = (f"From: li@163.example\r\nTo: {SHOP}\r\nSubject: x\r\nMessage-ID: <p@163.example>\r\n"
                f"References: <root@163.example>\r\n {long_id}\r\n\r\nbody\r\n").encode()
    parent = parse_message(incoming, max_attachment_bytes=0)
    assert parent.references == ("<root@163.example>", long_id)
    reply = round_trip(compose_reply(parent, from_address=SHOP, from_name=None, text="x", now=NOW))
    assert reply.in_reply_to == ("<p@163.example>",)
    assert reply.references == ("<root@163.example>", "<p@163.example>")


def test_many_long_references_are_folded_between_ids() -> None:
    """Twenty ids of 800 characters: each on its own folded line, none over 998, all kept in order."""
    ids = tuple(f"<{n:02d}{'r' * 780}@mail.customer.example>" for n in range(20))
    parent = ParsedEmail(message_id=ids[-1], references=ids[:-1], from_address="li@163.example")
    message = compose_reply(parent, from_address=SHOP, from_name=None, text="x", now=NOW)
    assert len(_longest_line(message)) <= 998
    assert round_trip(message).references == ids
