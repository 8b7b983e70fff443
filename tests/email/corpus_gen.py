"""Corpus access and the one message too big to commit.

A 10 MB attachment does not belong in git, so ``make_large_attachment_message``
builds it on demand: a Thunderbird-shaped ``multipart/mixed`` with a short
text part and a base64 attachment of ``size`` deterministic bytes.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

CORPUS_DIR = Path(__file__).parent / "corpus"
LARGE_FILENAME = "warehouse-video.mp4"


def corpus_names() -> list[str]:
    """The ``.eml`` files in the corpus, sorted."""
    return sorted(path.name for path in CORPUS_DIR.glob("*.eml"))


def load(name: str) -> bytes:
    return (CORPUS_DIR / name).read_bytes()


def large_payload(size: int) -> bytes:
    """``size`` bytes that are not all one value, so a wrong slice changes the hash."""
    block = hashlib.sha256(b"contactcenter large attachment").digest() * 2048  # 64 KiB
    repeats = size // len(block) + 1
    return (block * repeats)[:size]


def make_large_attachment_message(size: int) -> bytes:
    """Raw bytes of a message carrying one ``size``-byte attachment (base64, 76-column lines)."""
    if size < 0:
        raise ValueError(f"size must be >= 0, got {size}")
    encoded = base64.b64encode(large_payload(size))
    lines = b"\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    head = (
        b"From: Warehouse Team <warehouse@customer.example>\r\n"
        b"To: support@shop.example.com\r\n"
        b"Subject: Video of the damaged pallet\r\n"
        b"Date: Mon, 31 Mar 2025 10:00:00 +0800\r\n"
        b"Message-ID: <large-attachment-0001@customer.example>\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="------------large0123456789"\r\n'
        b"\r\n"
        b"This is a multi-part message in MIME format.\r\n"
        b"--------------large0123456789\r\n"
        b"Content-Type: text/plain; charset=UTF-8; format=flowed\r\n"
        b"Content-Transfer-Encoding: 7bit\r\n"
        b"\r\n"
        b"The video is attached. It is big, \r\n"
        b"sorry.\r\n"
        b"\r\n"
        b"--------------large0123456789\r\n"
        b'Content-Type: video/mp4; name="' + LARGE_FILENAME.encode() + b'"\r\n'
        b'Content-Disposition: attachment; filename="' + LARGE_FILENAME.encode() + b'"\r\n'
        b"Content-Transfer-Encoding: base64\r\n"
        b"\r\n"
    )
    return head + lines + b"\r\n\r\n--------------large0123456789--\r\n"
