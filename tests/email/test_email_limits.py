"""Hostile shapes stay cheap: deep nesting, HTML that would make the sanitiser quadratic, huge headers."""

from __future__ import annotations

from channels.email import MessageKind, parse_message
from channels.email.markup import MAX_HTML_TAGS
from channels.email.parts import MAX_DEPTH


def nested_multipart(depth: int) -> bytes:
    head = b"From: a@b.example\r\nSubject: deep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
    opening = b"".join(
        b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1) for i in range(depth)
    )
    inner = b"--b%d\r\nContent-Type: text/plain\r\n\r\ninnermost\r\n--b%d--\r\n" % (depth, depth)
    closing = b"".join(b"--b%d--\r\n" % i for i in reversed(range(depth)))
    return head + opening + inner + closing


def test_reasonable_nesting_is_read() -> None:
    assert parse_message(nested_multipart(10), max_attachment_bytes=0).text == "innermost"


def test_excessive_nesting_is_cut_off_and_reported() -> None:
    parsed = parse_message(nested_multipart(MAX_DEPTH + 20), max_attachment_bytes=0)
    assert parsed.text == ""
    assert any("nesting deeper" in problem for problem in parsed.problems)


def test_nesting_beyond_the_parsers_recursion_limit_is_malformed_not_an_exception() -> None:
    parsed = parse_message(nested_multipart(3000), max_attachment_bytes=0)
    assert parsed.kind is MessageKind.MALFORMED
    assert parsed.text.startswith("From: a@b.example")


def test_html_too_complex_to_sanitise_falls_back_to_text() -> None:
    raw = b"From: a@b.example\r\nContent-Type: text/html\r\n\r\n" + b"<div>" * (MAX_HTML_TAGS + 1) + b"hello"
    parsed = parse_message(raw, max_attachment_bytes=0)
    assert parsed.html_sanitised is None
    assert parsed.text == "hello"
    assert any("not rendered" in problem for problem in parsed.problems)


def test_huge_references_keep_root_and_newest() -> None:
    ids = b" ".join(b"<r%d@x.example>" % i for i in range(500))
    parsed = parse_message(b"From: a@b.example\r\nReferences: " + ids + b"\r\n\r\nx", max_attachment_bytes=0)
    assert len(parsed.references) == 100
    assert parsed.references[0] == "<r0@x.example>"
    assert parsed.references[-1] == "<r499@x.example>"


def test_huge_subject_is_cut() -> None:
    parsed = parse_message(b"From: a@b.example\r\nSubject: " + b"x" * 10_000 + b"\r\n\r\nx", max_attachment_bytes=0)
    assert len(parsed.subject) == 2000
