"""Charset rules and header decoding, one behaviour per test."""

from __future__ import annotations

import pytest

from channels.email.charsets import decode_bytes, guess_8bit, normalise_label
from channels.email.headers import decode_words, header_params, header_text, parse_addresses, parse_msgids


@pytest.mark.parametrize(
    ("label", "text", "encoding"),
    [
        ("gb2312", "朱镕基", "gbk"),  # 镕 is GBK-only
        ("GB2312", "陈喆和李堃", "gbk"),
        ('"gbk"', "退货", "gbk"),
        ("cp936", "发票", "gbk"),
        ("gb18030", "𠮷田", "gb18030"),
        ("big5", "查詢訂單", "big5"),
        ("big5", "我喺香港㗎", "big5hkscs"),  # HKSCS characters under a plain big5 label
        ("iso-8859-15", "49 € Šime", "iso-8859-15"),
        ("ks_c_5601-1987", "안녕하세요", "cp949"),
        ("shift_jis", "こんにちは", "cp932"),
        ("utf8", "emoji 🎉", "utf-8"),
    ],
)
def test_labels_decode_exactly(label: str, text: str, encoding: str) -> None:
    decoded = decode_bytes(text.encode(encoding), label)
    assert decoded.text == text
    assert decoded.problem is None


def test_latin1_label_reads_windows_1252_smart_quotes() -> None:
    assert decode_bytes(b"\x93quoted\x94 \x80", "iso-8859-1").text == "\u201cquoted\u201d €"


def test_latin1_label_never_fails_on_bytes_undefined_in_1252() -> None:
    assert decode_bytes(b"a\x81b", "iso-8859-1").text == "a\x81b"


@pytest.mark.parametrize("label", ["x-unknown-bogus", "base64", "undefined", "idna", "rot13", "", "   "])
def test_unknown_or_unusable_labels_fall_back_without_raising(label: str) -> None:
    assert decode_bytes("Café ✓".encode(), label).text == "Café ✓"


def test_unknown_label_with_mostly_utf8_keeps_utf8_with_replacement() -> None:
    data = "完全正确的中文文本".encode() + b"\xff"
    decoded = decode_bytes(data, "x-bogus")
    assert decoded.text == "完全正确的中文文本\ufffd"
    assert decoded.problem is not None and "replacement" in decoded.problem


def test_unknown_label_with_legacy_bytes_uses_latin1_family() -> None:
    decoded = decode_bytes("café crème".encode("latin-1"), "x-bogus")
    assert decoded.text == "café crème"


def test_declared_charset_with_invalid_bytes_replaces_and_reports() -> None:
    decoded = decode_bytes(b"ok \xff\xfe end", "utf-8")
    assert decoded.text.startswith("ok ") and decoded.text.endswith(" end")
    assert decoded.problem is not None


def test_undeclared_8bit_prefers_utf8_then_plausible_gb18030() -> None:
    assert guess_8bit("中文".encode()).text == "中文"
    assert guess_8bit("发票抬头".encode("gbk")).text == "发票抬头"


def test_undeclared_latin1_is_not_mistaken_for_gbk() -> None:
    """'Grüße' in latin-1 is valid GB18030 byte-wise, but lands in private-use characters."""
    assert guess_8bit("Grüße".encode("latin-1")).text == "Grüße"


def test_label_normalisation() -> None:
    assert normalise_label(' "UTF-8*en" ') == "utf-8"
    assert normalise_label("  ") is None
    assert normalise_label(None) is None


def test_encoded_words_join_adjacent_and_keep_literal_spacing() -> None:
    assert decode_words("=?utf-8?q?a?= =?utf-8?q?b?=") == "ab"
    assert decode_words("Re: =?utf-8?b?5Lit5paH?= [#ABC123]") == "Re: 中文 [#ABC123]"
    assert decode_words("=?iso-8859-1?q?caf=E9_noir?=") == "café noir"


def test_sloppy_base64_in_encoded_words_is_repaired() -> None:
    assert decode_words("x =?utf-8?B?QQ?= y") == "x A y"  # missing padding
    assert decode_words("=?utf-8?B?5Lit 5paH?=") == "中文"  # stray space inside
    assert header_text("=?utf-8?B?***?=") == ""  # nothing decodable left


def test_header_text_removes_newlines_and_nuls() -> None:
    assert header_text("a\r\n\tb\x00c") == "a bc"


def test_display_name_with_comma_cannot_split_the_address() -> None:
    """Decoding happens after address parsing, so an encoded comma stays in the name."""
    pairs = parse_addresses("=?utf-8?q?Smith=2C_Evil_=3Cx=40y=3E?= <real@example.com>")
    assert pairs == [("Smith, Evil <x@y>", "real@example.com")]


def test_rfc2231_and_rfc2047_parameters() -> None:
    params = header_params("attachment; filename*=gb2312''%D6%EC%E9%46%BB%F9.txt")
    assert params["filename"] == "朱镕基.txt"
    assert header_params('image/png; name="=?utf-8?b?5Zu+54mHLnBuZw==?="')["name"] == "图片.png"


def test_message_id_lists_tolerate_junk_and_bare_ids() -> None:
    assert parse_msgids("<a@b> (comment) <c@d>\r\n <a@b>") == ["<a@b>", "<c@d>"]
    assert parse_msgids("bare@id.example") == ["<bare@id.example>"]
    assert parse_msgids("no ids here") == []


def test_parameters_the_stdlib_chokes_on_are_read_naively() -> None:
    """Mixed ``filename*0`` / ``filename*`` makes email.utils.decode_params raise TypeError in 3.11."""
    problems: list[str] = []
    params = header_params("attachment; filename*=UTF-8''%E4%B8%AD.pdf; filename*0=x", problems)
    assert params["filename"]
    if problems:  # the stdlib bug is present: the fallback must still decode the RFC 2231 value
        assert len(problems) == 1 and "read naively" in problems[0]
        assert params["filename"] == "中.pdf"
