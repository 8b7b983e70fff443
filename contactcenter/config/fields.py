"""Building blocks shared by the configuration models: the base model and constrained scalar types.

Each type validates one kind of value and says, in its error, what a valid one
looks like. Messages never repeat the offending value for free-text fields,
because free text is where passwords and tokens live.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)

from contactcenter.config.problems import KeyPath, RuleViolations

__all__ = [
    "NO_REPEATS",
    "NULL_IS_EMPTY_LIST",
    "NULL_IS_EMPTY_MAPPING",
    "PHONE_REGION_CONTEXT",
    "ConfigModel",
    "EmailAddress",
    "FiniteFloat",
    "HttpUrl",
    "Label",
    "Name",
    "NonEmptyStr",
    "Percentage",
    "PhoneNumber",
    "PhoneRegion",
    "Port",
    "PortOrZero",
    "SkillLevel",
    "TimeZoneName",
    "duplicates",
]

PHONE_REGION_CONTEXT = "default_phone_region"
"""Validation-context key carrying ``server.default_phone_region`` to the phone-number fields."""


class ConfigModel(BaseModel):
    """Base of every configuration model: unknown keys are errors, values are immutable.

    An empty section (``email:`` with nothing under it) means "all defaults",
    which is what people expect when they comment out a section's contents.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _empty_section_means_defaults(cls, data: Any) -> Any:
        return {} if data is None else data


_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _check_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(
            f"invalid name {value!r}: names are stable identifiers of lowercase letters, digits, "
            "'-' and '_' (at most 64); put display text such as Chinese in 'label'"
        )
    return value


def _check_not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _check_label(value: str) -> str:
    return _check_not_blank(value).strip()


def _check_http_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    return value.strip().rstrip("/")


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}: use an IANA name such as UTC or Asia/Shanghai") from None
    return value


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _check_email(value: str) -> str:
    if not _EMAIL.match(value.strip()):
        raise ValueError(f"invalid e-mail address {value!r}")
    return value.strip()


def _check_region(value: str) -> str:
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown phone region {value!r}: use an ISO 3166 code such as CN, HK, TW, SG or US")
    return value


def _to_e164(value: object, info: ValidationInfo) -> str:
    """Normalise a phone number to E.164 so that every channel compares numbers the same way.

    Numbers without ``+country`` are read in ``server.default_phone_region``,
    which the loader passes through the validation context.
    """
    if not isinstance(value, str):
        raise ValueError('phone numbers must be quoted strings, e.g. "+8613800138000" (YAML drops the "+")')
    region = (info.context or {}).get(PHONE_REGION_CONTEXT)
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        hint = "" if region else " (no valid server.default_phone_region: write it as +country...)"
        raise ValueError(f"cannot read phone number {value!r}{hint}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"{value!r} is not a valid phone number (numbers without +country are read as {region})")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


_PERCENT = re.compile(r"^(-?\d+(?:\.\d+)?)\s*%$")
_FRACTION = re.compile(r"^-?\d*\.?\d+$")  # signed, so "-5%" or "-0.5" get the range message
_PERCENT_HINT = "write a percentage such as 80% or a fraction above 0 and at most 1 such as 0.8"


def _to_fraction(value: object) -> float:
    """Read ``80%`` or ``0.8`` as the fraction 0.8, refusing anything outside (0, 1].

    People write goals as percentages, the metrics compare fractions, so both
    spellings are accepted and only the fraction is kept. A bare number above 1
    (``80``) is refused rather than guessed at: it is either a forgotten ``%``
    or a typo, and a service-level goal silently read as 8000 % would never
    raise an alert. A bare number string (``"0.8"``) is accepted because values
    from ``${ENV_VAR}`` are always text. Values are numbers, never secrets, so
    the message repeats what was written.
    """
    if isinstance(value, bool):  # bool is an int subclass; ``true`` is not a share
        raise ValueError(f"expected a percentage (got {value!r}): {_PERCENT_HINT}")
    if isinstance(value, int | float):
        written, fraction, percent = repr(value), float(value), False
    elif isinstance(value, str):
        text = value.strip()
        if match := _PERCENT.match(text):
            written, fraction, percent = repr(value), float(match.group(1)) / 100, True
        elif _FRACTION.match(text):
            written, fraction, percent = repr(value), float(text), False
        else:
            raise ValueError(f"invalid percentage {value!r}: {_PERCENT_HINT}")
    else:
        raise ValueError(f"expected a percentage, not {type(value).__name__}: {_PERCENT_HINT}")
    if not math.isfinite(fraction):
        raise ValueError(f"invalid percentage {written}: {_PERCENT_HINT}")
    if fraction > 1 and not percent:
        raise ValueError(f"{written} is above 1: a fraction must be at most 1 (0.8 means 80%); "
                         f"to mean {fraction:g} percent write {fraction:g}%")
    if not 0 < fraction <= 1:
        raise ValueError(f"must be above 0% and at most 100% (got {written})")
    return fraction


Name = Annotated[str, AfterValidator(_check_name)]
"""A stable identifier (queue, skill, tier, mailbox, gateway, widget, disposition code)."""

Label = Annotated[str, AfterValidator(_check_label)]
"""Display text, any script (Chinese labels are the common case); surrounding blanks are trimmed."""

NonEmptyStr = Annotated[str, AfterValidator(_check_not_blank)]
"""Text that must not be empty: host names, user names, secrets."""

HttpUrl = Annotated[str, AfterValidator(_check_http_url)]
"""An absolute http(s) URL, kept as text without a trailing slash."""

TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]
"""An IANA time-zone name known to ``zoneinfo``."""

EmailAddress = Annotated[str, AfterValidator(_check_email)]

PhoneRegion = Annotated[str, AfterValidator(_check_region)]
"""A region libphonenumber knows (``CN``), for numbers written without ``+country``."""

PhoneNumber = Annotated[str, BeforeValidator(_to_e164)]
"""A phone number, stored in E.164 (``+8613800138000``)."""

Percentage = Annotated[float, BeforeValidator(_to_fraction)]
"""A share in (0, 1], written ``80%`` or ``0.8`` and stored as the fraction (0.8)."""

Port = Annotated[int, Field(ge=1, le=65535)]
PortOrZero = Annotated[int, Field(ge=0, le=65535)]
"""A listening port; 0 asks the OS for a free one (tests)."""

SkillLevel = Annotated[int, Field(ge=1, le=10)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]

T = TypeVar("T")


def _no_repeats(values: tuple[T, ...]) -> tuple[T, ...]:
    """A list whose items must be distinct; a repeat is pointed at by its index."""
    seen: set[object] = set()
    problems: list[tuple[KeyPath, str]] = []
    for index, value in enumerate(values):
        if value in seen:
            problems.append(((index,), f"{str(value)!r} is listed twice"))
        seen.add(value)
    if problems:
        raise RuleViolations(problems)
    return values


NO_REPEATS = AfterValidator(_no_repeats)
"""Annotate a ``tuple[X, ...]`` field with this to reject repeated items where they repeat."""


NULL_IS_EMPTY_LIST = BeforeValidator(lambda value: () if value is None else value)
"""Annotate a list field whose default is empty: a key with nothing under it means that default.

``ConfigModel`` does this for sections that are models; lists and mappings
(``skills:``, ``mailboxes:`` with every entry commented out) need it
spelled out, as docs/config.md promises ("an empty section means defaults").
"""

NULL_IS_EMPTY_MAPPING = BeforeValidator(lambda value: {} if value is None else value)
"""``NULL_IS_EMPTY_LIST`` for a mapping field whose default is empty."""


def duplicates(
    under: str, items: Iterable[T], field: str, key: Callable[[T], object] | None = None
) -> list[tuple[KeyPath, str]]:
    """Violations for every item of list ``under`` whose ``field`` repeats an earlier item's.

    The violation points at the repeat (``under[i].field``) and names the
    first use, so both places can be found.
    """
    first: dict[object, int] = {}
    out: list[tuple[KeyPath, str]] = []
    for index, item in enumerate(items):
        value = key(item) if key is not None else getattr(item, field)
        if value in first:
            out.append(
                (
                    (under, index, field),
                    f"duplicate {field} {value!r} (already used by {under}[{first[value]}])",
                )
            )
        else:
            first[value] = index
    return out
