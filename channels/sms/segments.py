"""How many SMS segments a text costs, and in which encoding: pure, no I/O.

We always hand the gateway the whole text and let it split (Twilio and every
HTTP gateway we know of do), but the agent should see before sending that a
Chinese reply of 71 characters costs two messages, not one. The rules are
those of GSM 03.38 / 03.40:

* If every character is in the GSM 7-bit default alphabet or its extension
  table, the text goes as GSM-7: 160 septets in one message, 153 per segment
  once it needs several (the user-data header takes 7). Extension characters
  (``€ [ ] { } \\ ^ ~ |`` and form feed) cost two septets (escape + char).
* Otherwise the whole text goes as UCS-2 (really UTF-16): 70 code units in one
  message, 67 per segment. Characters outside the BMP (most emoji) are two
  code units, a surrogate pair.

Segments are filled greedily and a two-unit character is never split across
two segments (handsets and carriers move it whole to the next one), so a
segment can end one unit short: 152 septets, 66 code units.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

# GSM 03.38 default alphabet, in table order (0x1B, the escape to the extension table, is left out).
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each costs an escape septet plus its own.
_GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67


class Encoding(StrEnum):
    GSM7 = "gsm7"
    UCS2 = "ucs2"


@dataclass(frozen=True, slots=True)
class SegmentCount:
    """What a text costs: ``units`` are septets (GSM-7) or UTF-16 code units (UCS-2)."""

    encoding: Encoding
    segments: int  # 0 for the empty text
    units: int
    per_segment: int  # capacity of a segment at this length: 160/70 when one message, 153/67 when several
    remaining: int  # units still free in the last segment before another one is needed

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "encoding": str(self.encoding)}


def is_gsm7(text: str) -> bool:
    """True if ``text`` can be sent in the GSM 7-bit alphabet (with its extension table)."""
    return all(ch in _GSM_BASIC or ch in _GSM_EXTENSION for ch in text)


def _unit_costs(text: str, encoding: Encoding) -> list[int]:
    if encoding is Encoding.GSM7:
        return [2 if ch in _GSM_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def count_segments(text: str) -> SegmentCount:
    """Segment count, encoding and room left for ``text`` as a gateway would send it."""
    encoding = Encoding.GSM7 if is_gsm7(text) else Encoding.UCS2
    single, multi = (GSM7_SINGLE, GSM7_MULTI) if encoding is Encoding.GSM7 else (UCS2_SINGLE, UCS2_MULTI)
    costs = _unit_costs(text, encoding)
    units = sum(costs)
    if units <= single:
        return SegmentCount(encoding, 1 if units else 0, units, single, single - units)
    segments, used = 1, 0
    for cost in costs:
        if used + cost > multi:  # this character does not fit whole: it opens the next segment
            segments, used = segments + 1, 0
        used += cost
    return SegmentCount(encoding, segments, units, multi, multi - used)
