"""Normalise customer addresses so one person is one identity.

Emails are trimmed and lower-cased; phone numbers become E.164 with the
``phonenumbers`` library (a default region covers local numbers); SIP URIs keep
their user part and lower-case their host. Bad input raises ``ValueError`` with
a message fit to show the caller.
"""

from __future__ import annotations

import phonenumbers

from contactcenter.model import IdentityKind

_MAX_ADDRESS = 320


def normalise_email(address: str) -> str:
    value = address.strip().lower()
    if value.startswith("mailto:"):
        value = value[len("mailto:") :]
    local, sep, domain = value.rpartition("@")
    if not sep or not local or not domain or " " in value or "." not in domain:
        raise ValueError(f"not an email address: {address!r}")
    return value


def normalise_phone(number: str, default_region: str | None) -> str:
    text = number.strip()
    if text.startswith("tel:"):
        text = text[4:]
    try:
        parsed = phonenumbers.parse(text, None if text.startswith("+") else default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {number!r} ({exc})") from None
    if not phonenumbers.is_possible_number(parsed):
        raise ValueError(f"not a possible phone number: {number!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise_sip(uri: str) -> str:
    text = uri.strip()
    scheme, sep, rest = text.partition(":")
    if not sep or scheme.lower() not in ("sip", "sips"):
        raise ValueError(f"not a SIP URI: {uri!r}")
    rest = rest.split(";", 1)[0].split("?", 1)[0]
    user, at, host = rest.rpartition("@")
    host = host.lower()
    return f"sip:{user}@{host}" if at else f"sip:{host}"


def normalise(kind: IdentityKind | str, address: str, *, default_region: str | None = None) -> str:
    """Return the canonical form of ``address`` for identity ``kind``."""
    kind = IdentityKind(kind)
    if not address or len(address) > _MAX_ADDRESS:
        raise ValueError("identity address must be 1 to 320 characters")
    if kind is IdentityKind.EMAIL:
        return normalise_email(address)
    if kind is IdentityKind.PHONE:
        return normalise_phone(address, default_region)
    if kind is IdentityKind.SIP:
        return normalise_sip(address)
    return address.strip()


def parse_identity(text: str, *, default_region: str | None = None) -> tuple[IdentityKind, str]:
    """Parse ``kind:address`` (as in ``?identity=email:a@b.c``), or guess the kind.

    A bare value with ``@`` is an email; one made of digits and ``+ -()`` is a phone.
    """
    kind_text, sep, rest = text.partition(":")
    kind_text = kind_text.strip().lower()  # "EMAIL:..." names the kind too, not an address with a colon
    if sep and kind_text in IdentityKind.__members__.values():
        kind = IdentityKind(kind_text)
        return kind, normalise(kind, rest, default_region=default_region)
    if text.lower().startswith(("sip:", "sips:")):
        return IdentityKind.SIP, normalise_sip(text)
    if "@" in text:
        return IdentityKind.EMAIL, normalise_email(text)
    if text.strip() and set(text.strip()) <= set("+0123456789 -()."):
        return IdentityKind.PHONE, normalise_phone(text, default_region)
    raise ValueError(f"cannot tell what kind of identity {text!r} is; write it as kind:address")
