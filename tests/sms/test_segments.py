"""Segment counting: GSM-7 with its extension table, UCS-2 by UTF-16 code units, no split characters."""

from __future__ import annotations

from channels.sms.segments import Encoding, count_segments, is_gsm7


def test_plain_gsm7_fits_160_then_153_per_segment() -> None:
    assert count_segments("").segments == 0
    one = count_segments("a" * 160)
    assert (one.encoding, one.segments, one.units, one.remaining) == (Encoding.GSM7, 1, 160, 0)
    two = count_segments("a" * 161)
    assert (two.segments, two.per_segment, two.remaining) == (2, 153, 145)
    assert count_segments("a" * 306).segments == 2
    assert count_segments("a" * 307).segments == 3


def test_gsm7_covers_accents_greek_and_newlines() -> None:
    text = "Héllo Ñoño! Grüße ΔΦΓ @£$¥ 50% off\r\n¿Qué?"
    assert is_gsm7(text)
    assert count_segments(text).units == len(text)


def test_extension_characters_cost_two_septets() -> None:
    assert count_segments("€").units == 2
    assert count_segments("[x]{y}\\^~|€\f").units == 22
    assert count_segments("€" * 80).segments == 1  # exactly 160 septets
    assert count_segments("€" * 81).segments == 2


def test_an_extension_character_is_never_split_across_segments() -> None:
    # 152 plain septets then a euro: the euro's two septets do not fit in 153, so it opens segment two
    info = count_segments("a" * 152 + "€" + "b" * 10)
    assert (info.units, info.segments, info.remaining) == (164, 2, 153 - 12)


def test_chinese_is_ucs2_70_then_67() -> None:
    info = count_segments("您好，已为您查询")
    assert (info.encoding, info.segments, info.units, info.per_segment) == (Encoding.UCS2, 1, 8, 70)
    assert count_segments("好" * 70).segments == 1
    assert count_segments("好" * 71).segments == 2
    assert count_segments("好" * 134).segments == 2
    assert count_segments("好" * 135).segments == 3


def test_one_non_gsm_character_makes_the_whole_text_ucs2() -> None:
    info = count_segments("a" * 100 + "ç")  # lower-case c-cedilla is not in GSM 03.38 (only Ç is)
    assert (info.encoding, info.segments) == (Encoding.UCS2, 2)


def test_emoji_are_surrogate_pairs_and_stay_whole() -> None:
    assert count_segments("😀").units == 2
    assert count_segments("😀" * 35).segments == 1  # 70 code units
    assert count_segments("😀" * 36).segments == 2
    # 66 units then an emoji: it does not fit in 67, so it starts the second segment
    info = count_segments("好" * 66 + "😀" + "好" * 3)
    assert (info.units, info.segments, info.remaining) == (71, 2, 67 - 5)


def test_json_form_uses_stable_lowercase_names() -> None:
    assert count_segments("hi").to_json() == {
        "encoding": "gsm7", "segments": 1, "units": 2, "per_segment": 160, "remaining": 158}
