"""Durations in the configuration: ``30`` (seconds), ``"30s"``, ``"5m"``, ``"4h"``, ``"1d"``, ``"1h30m"``.

People write timeouts the way they say them, so the file accepts units; the
rest of the server only ever sees float seconds. A bare number string
(``"30"``) is accepted too, because a value that comes from ``${ENV_VAR}``
interpolation is always a string. Anything else is rejected with a message that
shows the accepted forms: a typo such as ``"5 min"`` must never silently become
some other number.
"""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import BeforeValidator, Field

__all__ = ["NonNegativeDuration", "PositiveDuration", "format_duration", "parse_duration"]

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_NUMBER = r"\d+(?:\.\d+)?"
_PLAIN = re.compile(rf"^{_NUMBER}$")
_PART = re.compile(rf"({_NUMBER})(ms|s|m|h|d)")
_WITH_UNITS = re.compile(rf"^(?:{_NUMBER}(?:ms|s|m|h|d))+$")
_HINT = "use seconds (e.g. 30) or a number with a unit ms, s, m, h or d (e.g. 30s, 5m, 4h, 1d, 1h30m)"


def parse_duration(value: object) -> float:
    """Return ``value`` as float seconds, or raise ``ValueError`` naming the accepted forms.

    Negative values are left to the field's own bound (``PositiveDuration``
    and ``NonNegativeDuration``) so that the message says which bound failed.
    """
    if isinstance(value, bool):  # bool is an int subclass; ``true`` is never a duration
        raise ValueError(f"invalid duration {value!r}: {_HINT}")
    if isinstance(value, int | float):
        seconds = float(value)
        if not math.isfinite(seconds):
            raise ValueError(f"invalid duration {value!r}: must be a finite number of seconds")
        return seconds
    if not isinstance(value, str):
        raise ValueError(f"invalid duration of type {type(value).__name__}: {_HINT}")
    text = value.strip()
    sign = 1.0
    if text.startswith("-"):
        sign, text = -1.0, text[1:]
    if _PLAIN.match(text):
        return sign * float(text)
    if not _WITH_UNITS.match(text):
        raise ValueError(f"invalid duration {value!r}: {_HINT}")
    return sign * sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _PART.findall(text))


def format_duration(seconds: float) -> str:
    """Render seconds back in the largest exact unit (``90`` → ``"90s"``, ``3600`` → ``"1h"``).

    Used for summaries and messages so that numbers read like the file.
    """
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and float(seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    return f"{seconds:g}s"


PositiveDuration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
"""Seconds, strictly greater than zero (timeouts, intervals, windows)."""

NonNegativeDuration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]
"""Seconds, zero allowed where zero means "off" (wrap-up, sticky wait, disconnect grace)."""
