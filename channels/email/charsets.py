"""Turn bytes from a mail part into text, whatever the label says.

Mail charset labels lie in predictable ways, and our users are largely Chinese
merchants, so the rules are tuned for that:

* ``gb2312`` / ``gbk`` / ``cp936`` / ``euc-cn`` decode as **GB18030**. Mail
  labelled gb2312 routinely contains GBK-only characters (镕, 喆, 堃 ...);
  GB18030 is a superset of both, so using it never loses a valid character.
* ``big5`` tries Big5, then **Big5-HKSCS** (Hong Kong characters such as 嘅 and
  㗎), then cp950 (Microsoft's extensions).
* ``iso-8859-1`` / ``us-ascii`` decode as windows-1252, as browsers do: real
  mail with those labels carries smart quotes in 0x80-0x9F.
* Unlabelled 8-bit data (raw bytes in headers, text parts without a charset)
  is guessed: UTF-8, then GB18030 if the result looks like real Chinese, then
  windows-1252, then latin-1.
* An unknown or bogus label falls back to UTF-8 (with replacement characters
  when only a few bytes are broken), then windows-1252 / latin-1.

Nothing here raises on data: the worst outcome is replacement characters plus
a problem string for the caller to record.
"""

from __future__ import annotations

import codecs
from typing import NamedTuple

_GB = ("gb18030",)
_BIG5 = ("big5", "big5hkscs", "cp950")
_WESTERN = ("cp1252", "latin-1")

# fmt: off
_ALIASES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        ("gb2312", "gbk", "cp936", "ms936", "x-gbk", "euc-cn", "euccn", "x-euc-cn", "gb_2312-80", "csgb2312",
         "chinese", "gb18030", "gb18030-2000", "gb18030-2005", "gb-18030", "windows-936"),
        _GB,
    ),
    **dict.fromkeys(
        ("big5", "big-5", "x-big5", "cn-big5", "csbig5", "big5-hkscs", "big5hkscs", "cp950", "x-x-big5"), _BIG5
    ),
    **dict.fromkeys(
        ("iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "windows-1252", "cp1252"), _WESTERN
    ),
    **dict.fromkeys(("ks_c_5601-1987", "ks_c_5601", "euc-kr", "korean", "ksc5601", "cp949"), ("cp949",)),
    **dict.fromkeys(("shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji", "cp932", "windows-31j"), ("cp932",)),
    **dict.fromkeys(("tis-620", "iso-8859-11", "windows-874"), ("cp874",)),
    "iso-8859-8-i": ("iso-8859-8",),
    "utf8": ("utf-8",),
    "unicode-1-1-utf-8": ("utf-8",),
}

# Labels that mean "7-bit text": valid ASCII decodes as itself; anything else is guessed.
_ASCII_LABELS = frozenset({"us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "us", "646", "7bit", "8bit"})

# Codecs Python has but that are not mail text charsets: they reject errors="replace",
# decode nothing useful, or interpret escapes in the data.
_REFUSED_CODECS = frozenset(
    {"undefined", "idna", "punycode", "unicode-escape", "raw-unicode-escape", "unicode_escape",
     "raw_unicode_escape", "palmos"}
)
# fmt: on

_MOSTLY_UTF8_RATIO = 10  # at most one replacement per this many non-ASCII bytes


class Decoded(NamedTuple):
    """Decoded text, the codec that produced it, and a problem worth recording (or None)."""

    text: str
    codec: str
    problem: str | None


def normalise_label(label: str | None) -> str | None:
    """Lower-case a charset label and strip quotes and an RFC 2231 ``*language`` suffix."""
    if label is None:
        return None
    value = label.strip().strip("\"'").strip().lower()
    value = value.split("*", 1)[0].strip()
    return value or None


def _codec_ok(name: str) -> bool:
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError, TypeError):  # ValueError: a NUL inside the label
        return False
    return info.name not in _REFUSED_CODECS and getattr(info, "_is_text_encoding", True)


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeError, LookupError, ValueError, TypeError):
        return None


def _looks_chinese(text: str) -> bool:
    """Reject a GB18030 guess that produced private-use or control characters.

    Latin-1 text often decodes "successfully" as GB18030 into nonsense; those
    byte pairs land in GBK's user-defined (private-use) areas often enough that
    this cheap check removes most false positives.
    """
    for char in text:
        code = ord(char)
        if 0xE000 <= code <= 0xF8FF or 0x80 <= code <= 0x9F or code >= 0xF0000:
            return False
    return True


def _western(data: bytes) -> str:
    text = _strict(data, "cp1252")
    return text if text is not None else data.decode("latin-1")


def guess_8bit(data: bytes) -> Decoded:
    """Decode unlabelled bytes: UTF-8, then plausible GB18030, then windows-1252 / latin-1."""
    text = _strict(data, "utf-8")
    if text is not None:
        return Decoded(text, "utf-8", None)
    text = _strict(data, "gb18030")
    if text is not None and _looks_chinese(text):
        return Decoded(text, "gb18030", "unlabelled 8-bit text guessed as gb18030")
    return Decoded(_western(data), "cp1252", "unlabelled 8-bit text guessed as windows-1252")


def _unknown_label(data: bytes, label: str) -> Decoded:
    text = _strict(data, "utf-8")
    if text is not None:
        return Decoded(text, "utf-8", f"unknown charset {label!r}; decoded as utf-8")
    replaced = data.decode("utf-8", "replace")
    non_ascii = sum(1 for byte in data if byte >= 0x80)
    if replaced.count("\ufffd") * _MOSTLY_UTF8_RATIO <= non_ascii:
        return Decoded(replaced, "utf-8", f"unknown charset {label!r}; decoded as utf-8 with replacement")
    return Decoded(_western(data), "cp1252", f"unknown charset {label!r}; decoded as windows-1252/latin-1")


def decode_bytes(data: bytes, label: str | None) -> Decoded:
    """Decode ``data`` declared as charset ``label`` (None when undeclared). Never raises."""
    name = normalise_label(label)
    if name is None or name in _ASCII_LABELS:
        if data.isascii():
            return Decoded(data.decode("ascii"), "ascii", None)
        return guess_8bit(data)
    chain = _ALIASES.get(name, (name,))
    usable = [codec for codec in chain if _codec_ok(codec)]
    if not usable:
        return _unknown_label(data, name)
    for codec in usable:
        text = _strict(data, codec)
        if text is not None:
            return Decoded(text, codec, None)
    primary = usable[0]
    try:
        text = data.decode(primary, "replace")
    except (UnicodeError, LookupError, ValueError, TypeError):
        return _unknown_label(data, name)
    return Decoded(text, primary, f"invalid {name} bytes replaced")
