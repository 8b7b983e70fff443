"""Value checks shared by the configuration and the events.

Every check raises ``ValueError`` naming the field and the offending value, so a
bad YAML key or a bad event is reported where it was made rather than turning
into a wrong routing decision much later.  Checks return the value normalised
(enum members instead of strings, read-only mappings instead of dicts) so the
frozen dataclasses that call them hold canonical data.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import TypeVar

E = TypeVar("E", bound=StrEnum)

MIN_LEVEL = 1
MAX_LEVEL = 10


def number(name: str, value: object, *, minimum: float | None = None, positive: bool = False) -> float:
    """A finite real number (bools refused: ``True`` as a timeout is always a bug)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return float(value)


def integer(name: str, value: object, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return value


def ident(name: str, value: object) -> str:
    """A non-empty string id without surrounding whitespace."""
    if not isinstance(value, str) or not value or value.strip() != value:
        raise ValueError(f"{name} must be a non-empty string without surrounding spaces, got {value!r}")
    return value


def optional_ident(name: str, value: object) -> str | None:
    return None if value is None else ident(name, value)


def member(name: str, enum: type[E], value: object) -> E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise ValueError(f"{name} must be one of {allowed}; got {value!r}") from None


def skills(name: str, value: object) -> Mapping[str, int]:
    """Skill name -> level 1..10, as a read-only mapping sorted by skill name."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a mapping of skill -> level, got {value!r}")
    out: dict[str, int] = {}
    for skill in sorted(value, key=str):
        ident(f"{name} key", skill)
        level = value[skill]
        if isinstance(level, bool) or not isinstance(level, int) or not MIN_LEVEL <= level <= MAX_LEVEL:
            raise ValueError(f"{name}[{skill!r}] must be an integer {MIN_LEVEL}..{MAX_LEVEL}, got {level!r}")
        out[skill] = level
    return MappingProxyType(out)


def per_channel(
    name: str, enum: type[E], value: object, *, kind: str, minimum: float = 0, positive: bool = False
) -> Mapping[E, float]:
    """Channel -> number; ``kind`` is "int" or "float"."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a mapping of channel -> value, got {value!r}")
    out: dict[E, float] = {}
    for key in sorted(value, key=str):
        channel = member(f"{name} key", enum, key)
        if kind == "int":
            out[channel] = integer(f"{name}[{key}]", value[key], minimum=int(minimum))
        else:
            out[channel] = number(f"{name}[{key}]", value[key], minimum=minimum, positive=positive)
    return MappingProxyType(out)


def names(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError(f"{name} must be a list of names, got {value!r}")
    out = tuple(ident(f"{name} item", v) for v in value)
    if len(set(out)) != len(out):
        raise ValueError(f"{name} has duplicates: {out!r}")
    return out
