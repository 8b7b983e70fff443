"""Every corpus message parses to what its README row promises, plus the details that matter most."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest

from channels.email import MessageKind, ParsedEmail, parse_message

from .corpus_gen import CORPUS_DIR, LARGE_FILENAME, corpus_names, large_payload, load, make_large_attachment_message

LIMIT = 5 * 1024 * 1024
CST = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class Expect:
    kind: MessageKind
    subject: str
    from_address: str | None
    body: str  # a substring of ParsedEmail.text
    attachments: int = 0
    html: bool = False
    problems: bool = False  # whether ParsedEmail.problems should be non-empty


N, A, B, L = MessageKind.NORMAL, MessageKind.AUTO_REPLY, MessageKind.BOUNCE, MessageKind.LIST
# fmt: off
EXPECTED: dict[str, Expect] = {
    "01_plain_ascii.eml": Expect(N, "Where is my order?", "alice.smith@customer.example", "blue kettle"),
    "02_multipart_alternative.eml": Expect(
        N, "Refund request for order 2001", "bob@customer.example", "arrived broken", html=True),
    "03_gbk_subject_qp_body.eml": Expect(
        N, "关于订单发货的问题", "xiaoming.wang@qq.example", "订单号：20250301-8842"),
    "04_gbk_base64_body.eml": Expect(
        N, "退货申请：尺码不合适", "liyue@163.example", "想申请退货，请问流程是怎样的？", html=True),
    "05_gb2312_with_gbk_chars.eml": Expect(
        N, "朱镕基同志的来信（喆、堃）", "chenzhe@sina.example", "我叫陈喆，收件人是李堃"),
    "06_gb18030.eml": Expect(N, "生僻字𠮷显示问题", "yoshida@example.cn", "生僻字“𠮷”"),
    "07_big5.eml": Expect(N, "查詢訂單進度", "taiman.chan@netvigator.example", "已經等咗好耐㗎"),
    "08_utf8_emoji.eml": Expect(
        N, "Thanks for the quick delivery 🎉📦", "zoe@customer.example", "everything works 👍"),
    "09_iso8859_1.eml": Expect(N, "Beschädigte Lieferung", "rene.mueller@customer.example", "Grüße aus München"),
    "10_iso8859_15.eml": Expect(N, "Prix à 49 €", "sime@customer.example", "j'ai payé 59 €"),
    "11_qp_soft_breaks.eml": Expect(
        N, "A very long line", "writer@customer.example", "so that the encoder had to insert soft"),
    "12_attachment_rfc2231_chinese_filename.eml": Expect(
        N, "请开具发票（附件）", "finance@company.example", "请查收", attachments=2),
    "13_inline_cid_image.eml": Expect(
        N, "Photo of the damaged box", "photos@customer.example", "See the photo", attachments=1, html=True),
    "14_auto_reply.eml": Expect(
        A, "Auto: Re: Where is my order? [#ABC123]", "alice.smith@customer.example", "on holiday"),
    "15_outlook_oof.eml": Expect(
        A, "Automatic reply: Your ticket update", "mark.lee@corp.example", "out of the office", html=True),
    "16_dsn_bounce.eml": Expect(
        B, "Undelivered Mail Returned to Sender", "mailer-daemon@mx.shop.example.com",
        "could not\nbe delivered", attachments=2),
    "17_mailing_list.eml": Expect(
        L, "[merchants] Weekly digest, Vol 12, Issue 3", "news@lists.merchants.example", "Shipping rates"),
    "18_malformed_mime.eml": Expect(
        MessageKind.MALFORMED, "Help with broken mail", "broken@customer.example", "my order never came",
        attachments=1, problems=True),
    "19_no_message_id.eml": Expect(N, "No id here", "legacy@oldclient.example", "forgot the Message-ID"),
    "20_bogus_charset.eml": Expect(
        N, "Bogus ✓", "weird@customer.example", "Café and crème ✓", problems=True),
    "21_html_only_script.eml": Expect(
        N, "Invoice attached", "sneaky@attacker.example", "Please review the invoice and the order.", html=True),
    "22_reply_with_references.eml": Expect(
        N, "RE: Re: Where is my order? [#KQ3VB7MA]", "alice.smith@customer.example", "it arrived today"),
    "23_reply_token_only.eml": Expect(
        N, "回复：关于订单发货的问题 [#ABC123]", "xiaoming.wang@qq.example", "收到了，谢谢！"),
    "24_raw_8bit_gbk_headers.eml": Expect(
        N, "发票抬头写错了", "zhangwei@126.example", "上海某某贸易有限公司", problems=True),
    "25_plain_bounce_qmail.eml": Expect(
        B, "failure notice", "mailer-daemon@mail.customer.example", "no mailbox here by that name"),
    "26_read_receipt_mdn.eml": Expect(
        A, "Read: Refund request for order 2001", "bob@customer.example", "was read", attachments=1),
}
# fmt: on


def parse(name: str, limit: int = LIMIT) -> ParsedEmail:
    return parse_message(load(name), max_attachment_bytes=limit)


def test_corpus_is_complete_and_documented() -> None:
    """The table, the directory and the README list the same messages, and there are enough of them."""
    names = corpus_names()
    assert len(names) >= 22
    assert set(names) == set(EXPECTED)
    readme = (CORPUS_DIR / "README.md").read_text(encoding="utf-8")
    assert [name for name in names if f"`{name}`" not in readme] == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_message_parses_as_expected(name: str) -> None:
    """Kind, subject, sender, a body excerpt, attachment count, HTML presence and problems per the table."""
    expect = EXPECTED[name]
    parsed = parse(name)
    assert parsed.kind is expect.kind
    assert parsed.malformed == (expect.kind is MessageKind.MALFORMED)
    assert parsed.subject == expect.subject
    assert parsed.from_address == expect.from_address
    assert expect.body in parsed.text
    assert len(parsed.attachments) == expect.attachments
    assert (parsed.html_sanitised is not None) == expect.html
    assert bool(parsed.problems) == expect.problems, parsed.problems
    assert "\x00" not in parsed.text and "\r" not in parsed.text


def test_gbk_message_decodes_exactly() -> None:
    """GBK subject, display name and quoted-printable body, character for character."""
    parsed = parse("03_gbk_subject_qp_body.eml")
    assert parsed.subject == "关于订单发货的问题"
    assert parsed.from_name == "王小明"
    assert parsed.text == "您好，我的订单还没有发货，请帮忙查一下物流。\n订单号：20250301-8842\n\n谢谢！\n王小明"
    assert parsed.message_id == "<tencent_0A1B2C3D4E5F@qq.example>"
    assert parsed.date == datetime(2025, 3, 5, 10, 20, tzinfo=CST)
    assert parsed.to == ("support@shop.example.com",)


def test_gbk_character_split_across_encoded_words() -> None:
    """An encoder that cut a two-byte character between two encoded words still yields the right subject."""
    parsed = parse("04_gbk_base64_body.eml")
    assert parsed.subject == "退货申请：尺码不合适"
    assert parsed.from_name == "李月"
    assert parsed.text == "你好：\n衣服尺码偏小，想申请退货，请问流程是怎样的？"
    assert parsed.html_sanitised == "<p>你好：</p><p>衣服尺码偏小，想申请<b>退货</b>，请问流程是怎样的？</p>"


def test_gb2312_label_with_gbk_only_characters() -> None:
    """镕, 喆 and 堃 are not in GB2312; a gb2312 label must not turn them into garbage."""
    parsed = parse("05_gb2312_with_gbk_chars.eml")
    assert parsed.from_name == "陈喆"
    assert "地址写错了一个字“镕”" in parsed.text
    assert "\ufffd" not in parsed.text + parsed.subject


def test_gb18030_four_byte_characters() -> None:
    parsed = parse("06_gb18030.eml")
    assert parsed.from_name == "𠮷田"
    assert "€ 价格是 99 欧元。" in parsed.text


def test_big5_with_hkscs_characters() -> None:
    """Labelled big5 but carrying Hong Kong (HKSCS) characters such as 嘅 / 咗 / 㗎."""
    parsed = parse("07_big5.eml")
    assert parsed.from_name == "陳大文"
    assert parsed.text == "您好：\n請問我上星期訂的貨品幾時到？\n我喺香港，已經等咗好耐㗎。\n陳大文"


def test_latin9_is_not_read_as_latin1() -> None:
    parsed = parse("10_iso8859_15.eml")
    assert parsed.from_name == "Šime Žagar"
    assert parsed.text.endswith("Šime Žagar")


def test_quoted_printable_soft_breaks_join_without_spaces() -> None:
    parsed = parse("11_qp_soft_breaks.eml")
    assert "insert soft line breaks, and the decoder must join them back together" in parsed.text
    assert "Café = coffee." in parsed.text
    assert parsed.text.endswith("coffee.\nSecond line stays separate.")


def test_raw_8bit_gbk_headers_are_recovered() -> None:
    parsed = parse("24_raw_8bit_gbk_headers.eml")
    assert parsed.from_name == "张伟"
    assert parsed.text == "请把发票抬头改成：上海某某贸易有限公司。"


def test_attachments_filenames_and_hashes() -> None:
    """RFC 2231 (continued, percent-encoded UTF-8) and RFC 2047-in-quotes (GBK) filenames; exact hashes."""
    pdf, xls = parse("12_attachment_rfc2231_chinese_filename.eml").attachments
    assert (pdf.filename, pdf.content_type, pdf.size) == ("发票_2025年3月.pdf", "application/pdf", 148)
    assert not pdf.inline
    assert pdf.sha256 == "6ed7f3aebfaf2ee3913347e0844980ccf8101f72be9f2e7858922276768012da"
    assert pdf.data is not None and pdf.data.startswith(b"%PDF-1.4")
    assert (xls.filename, xls.content_type, xls.size) == ("对账单.xls", "application/vnd.ms-excel", 516)
    assert xls.sha256 == "c164d49236a749df2d819a234c8f0441dd1172d0ea169860ed8231d24b91bc1b"
    for attachment in (pdf, xls):
        assert attachment.data is not None
        assert hashlib.sha256(attachment.data).hexdigest() == attachment.sha256


def test_inline_cid_image_is_kept_and_remote_image_disarmed() -> None:
    parsed = parse("13_inline_cid_image.eml")
    (image,) = parsed.attachments
    assert (image.filename, image.content_id, image.inline) == ("box.png", "part1.box@customer.example", True)
    assert image.sha256 == "4ff6ab670a58c14270e034e2090d9a432caa263a14e0a25785386b0c12f880b5"
    html = parsed.html_sanitised or ""
    assert f'src="cid:{image.content_id}"' in html
    assert 'data-src="https://tracker.example/pixel.gif?u=42"' in html
    assert ' src="https://tracker.example' not in html


def test_sanitiser_removes_scripts_handlers_and_remote_loads() -> None:
    html = parse("21_html_only_script.eml").html_sanitised or ""
    lowered = html.lower()
    for forbidden in (
        "<script",
        "document.cookie",
        "onload",
        "onerror",
        "javascript:",
        "<iframe",
        "<form",
        "<input",
        "<svg",
        "<style",
        "url(",
        "position",
        ' src="http',
    ):
        assert forbidden not in lowered, forbidden
    assert '<a href="https://shop.example.com/orders/9" rel="noopener noreferrer nofollow">order</a>' in html
    assert '<p style="color:red">Pay now</p>' in html


def test_html_only_text_skips_script_and_style_content() -> None:
    text = parse("21_html_only_script.eml").text
    assert text.startswith("Your invoice")
    assert "document" not in text and "background" not in text


def test_threading_headers_are_normalised() -> None:
    parsed = parse("22_reply_with_references.eml")
    assert parsed.in_reply_to == ("<reply-2@shop.example.com>",)
    assert parsed.references == (
        "<CAF1a2b3c4@mail.customer.example>",
        "<reply-1@shop.example.com>",
        "<CAF5e6f7@mail.customer.example>",
        "<reply-2@shop.example.com>",
    )


def test_missing_message_id_and_zone_name_date() -> None:
    parsed = parse("19_no_message_id.eml")
    assert parsed.message_id is None
    assert parsed.date == datetime(2025, 3, 22, 8, 0, tzinfo=UTC)


def test_list_headers_are_exposed() -> None:
    parsed = parse("17_mailing_list.eml")
    assert parsed.list_id == "merchants.lists.merchants.example"
    assert parsed.precedence == "list"
    assert parsed.reply_to == ("merchants@lists.merchants.example",)


def test_auto_submitted_header_is_exposed() -> None:
    assert parse("14_auto_reply.eml").auto_submitted == "auto-replied"
    assert parse("15_outlook_oof.eml").auto_submitted == "auto-generated"


def test_dsn_names_our_message_the_recipient_and_the_status() -> None:
    dsn = parse("16_dsn_bounce.eml").dsn
    assert dsn is not None
    assert dsn.original_message_id == "<173000000.42.outbound@shop.example.com>"
    assert (dsn.recipient, dsn.action, dsn.status) == ("nobody@customer.example", "failed", "5.1.1")
    assert dsn.recipients[0].diagnostic is not None and "User unknown" in dsn.recipients[0].diagnostic


def test_plain_text_bounce_falls_back_to_patterns() -> None:
    dsn = parse("25_plain_bounce_qmail.eml").dsn
    assert dsn is not None
    assert dsn.original_message_id == "<reply-99@shop.example.com>"
    assert (dsn.recipient, dsn.action, dsn.status) == ("gone@customer.example", "failed", "5.1.1")


def test_malformed_message_keeps_what_it_can() -> None:
    """Wrong boundary, garbage header line, no terminator: flagged, but text and headers recovered."""
    parsed = parse("18_malformed_mime.eml")
    assert parsed.malformed
    assert parsed.text == "Please help, my order never came."
    assert parsed.message_id == "<broken-0001@customer.example>"
    assert any("StartBoundaryNotFoundDefect" in problem for problem in parsed.problems)
    assert any("recovered with 'actual-boundary'" in problem for problem in parsed.problems)


def test_bogus_charset_is_reported_not_raised() -> None:
    parsed = parse("20_bogus_charset.eml")
    assert any("x-unknown-bogus" in problem for problem in parsed.problems)


def test_attachment_over_limit_keeps_size_and_hash_but_not_data() -> None:
    size = 10 * 1024 * 1024 + 17
    parsed = parse_message(make_large_attachment_message(size), max_attachment_bytes=10 * 1024 * 1024)
    (video,) = parsed.attachments
    assert video.filename == LARGE_FILENAME
    assert video.over_limit and video.data is None
    assert video.size == size
    assert video.sha256 == hashlib.sha256(large_payload(size)).hexdigest()
    assert parsed.text == "The video is attached. It is big, sorry."  # format=flowed joined
    assert any("over the" in problem for problem in parsed.problems)
    assert parsed.kind is MessageKind.NORMAL


def test_attachment_at_exactly_the_limit_is_kept() -> None:
    parsed = parse_message(make_large_attachment_message(1000), max_attachment_bytes=1000)
    (attachment,) = parsed.attachments
    assert not attachment.over_limit
    assert attachment.data == large_payload(1000)


@pytest.mark.parametrize(
    "raw",
    [b"", b"\r\n\r\n", b"\x00\xff" * 50, b"not an email at all", b"Subject: only\r\n", b"From: \r\n\r\n"],
)
def test_garbage_never_raises(raw: bytes) -> None:
    parsed = parse_message(raw, max_attachment_bytes=LIMIT)
    assert isinstance(parsed, ParsedEmail)


def test_headerless_bytes_are_malformed_but_text_is_kept() -> None:
    parsed = parse_message(b"just some words\r\nand more\r\n", max_attachment_bytes=LIMIT)
    assert parsed.malformed and parsed.kind is MessageKind.MALFORMED
    assert "and more" in parsed.text


def test_negative_limit_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="max_attachment_bytes"):
        parse_message(b"", max_attachment_bytes=-1)


def test_parsed_email_constructor_accepts_lists_and_forces_malformed_kind() -> None:
    parsed = ParsedEmail(malformed=True, problems=["parser failed"])
    assert parsed.kind is MessageKind.MALFORMED and parsed.problems == ("parser failed",)
    with pytest.raises(ValueError, match="aware"):
        ParsedEmail(date=datetime(2025, 1, 1))  # naive on purpose


def test_address_lists_are_lower_cased_addr_specs() -> None:
    parsed = parse("02_multipart_alternative.eml")
    assert parsed.from_name == "Bob Jones"
    assert parsed.to == ("support@shop.example.com",)
    assert parsed.cc == ("carol@customer.example", "dave@customer.example")
    assert parse("01_plain_ascii.eml").from_address == "alice.smith@customer.example"


def test_header_value_that_crashes_the_default_policy_falls_back_to_compat32() -> None:
    """``text/html; chaq*`` raises IndexError inside email.policy.default (3.11) while the tree is built."""
    raw = (
        b'From: a@b.example\r\nSubject: t\r\nContent-Type: multipart/alternative; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
        b"--b\r\nContent-Type: text/html; chaq*\r\n\r\n<p>hi</p>\r\n--b--\r\n"
    )
    parsed = parse_message(raw, max_attachment_bytes=LIMIT)
    assert (parsed.kind, parsed.text, parsed.html_sanitised) == (MessageKind.NORMAL, "hello", "<p>hi</p>")
    assert all(problem.startswith("parser failed") for problem in parsed.problems)  # none once CPython is fixed
