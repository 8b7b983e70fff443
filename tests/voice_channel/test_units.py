"""The voice channel's pure parts, without sockets or a database: numbers, identities, HA1, layering."""

from __future__ import annotations

from pathlib import Path

import pytest

from channels.voice.numbering import ANONYMOUS_HOST, caller_of, db_key, db_text, queue_for
from channels.voice.sip import Ha1, make_authorization
from channels.voice.sip.digest import make_challenge, verify
from contactcenter.model import IdentityKind
from tests.support import imported_names

VOICE = Path(__file__).resolve().parents[2] / "channels" / "voice"
NUMBERS = {"+864008001234": "sales", "+8613800138000": "vip"}


@pytest.mark.parametrize(("dialled", "queue"), [
    ("4008001234", "sales"), ("+864008001234", "sales"), ("004008001234", None), ("13800138000", "vip"),
    ("sales", None), (None, None), ("", None), ("4008001235", None),
])
def test_the_dialled_number_is_read_like_the_configured_ones(dialled: str | None, queue: str | None) -> None:
    assert queue_for(dialled, NUMBERS, "CN") == queue


def test_callers_become_phone_sip_or_per_call_anonymous_identities() -> None:
    phone = caller_of("13800138000", "sip:13800138000@gw.example", " 张三 ", "c1", "CN")
    assert (phone.kind, phone.address, phone.number, phone.display_name) == (
        IdentityKind.PHONE, "+8613800138000", "+8613800138000", "张三")
    sip = caller_of(None, "sip:alice@PBX.Example;transport=tcp", None, "c2", "CN")
    assert (sip.kind, sip.address, sip.number) == (IdentityKind.SIP, "sip:alice@pbx.example", None)
    extension = caller_of("1001", "sip:1001@pbx.example", None, "c3", "CN")  # too short for a phone number
    assert (extension.kind, extension.address) == (IdentityKind.SIP, "sip:1001@pbx.example")
    first = caller_of(None, "sip:anonymous@anonymous.invalid", "Anonymous", "call-a", "CN")
    second = caller_of(None, None, None, "call-b", "CN")
    assert first.address.endswith("@" + ANONYMOUS_HOST) and second.address.endswith("@" + ANONYMOUS_HOST)
    assert first.address != second.address  # two anonymous callers are not one customer
    assert caller_of(None, None, None, "call-a", "CN").address == first.address


def test_text_from_the_wire_is_made_storable() -> None:
    """Bytes that are not UTF-8 (kept as surrogates by the parser) and NULs never reach PostgreSQL."""
    raw = b"Caller \xff\xfe\x00 \xe5\xbc\xa0".decode("utf-8", "surrogateescape")
    assert db_text(raw) == "Caller \ufffd\ufffd 张"
    assert db_text("plain", 3) == "pla"
    assert db_key("abc@host") == "abc@host"
    odd = db_key(raw)
    assert "\x00" not in odd and odd == db_key(raw) and odd != db_key(raw + "x")
    long = db_key("x" * 500)
    assert len(long) <= 200 and long != db_key("x" * 501)
    garbled = caller_of(None, "sip:\udcff\x00bob@host", raw, "c9", "CN")
    assert garbled.display_name == "Caller \ufffd\ufffd 张" and "\x00" not in garbled.address


def test_a_stored_ha1_verifies_like_the_password() -> None:
    """The core accepts HA1 from the credential lookup, so the store never keeps the password."""
    ha1 = Ha1.compute("bob", "cc.test", "pw-1")
    secret = b"n" * 32
    challenge = make_challenge("cc.test", secret, 1000.0)
    good = make_authorization(challenge, username="bob", password="pw-1", method="REGISTER", uri="sip:x")
    assert verify(good, "REGISTER", {"bob": ha1}.get, "cc.test", secret, 1001.0, request_uri="sip:x").ok
    sha = make_authorization(make_challenge("cc.test", secret, 1000.0, algorithm="SHA-256"), username="bob",
                             password="pw-1", method="REGISTER", uri="sip:x")
    assert verify(sha, "REGISTER", {"bob": ha1}.get, "cc.test", secret, 1001.0).ok
    assert not verify(sha, "REGISTER", {"bob": Ha1(md5=ha1.md5)}.get, "cc.test", secret, 1001.0).ok
    wrong = make_authorization(challenge, username="bob", password="guess", method="REGISTER", uri="sip:x")
    assert verify(wrong, "REGISTER", {"bob": ha1}.get, "cc.test", secret, 1001.0).reason == "wrong password"


def test_the_channel_imports_no_other_channel_and_stays_small() -> None:
    modules = sorted(VOICE.glob("*.py"))
    assert len(modules) >= 8
    for path in modules:
        other = [n for n in imported_names(path) if n.startswith("channels.") and not n.startswith("channels.voice")]
        assert not other, (path.name, other)
        assert len(path.read_text().splitlines()) <= 400, path.name
    numbering = imported_names(VOICE / "numbering.py")
    assert not [n for n in numbering if n.split(".")[0] in {"asyncio", "asyncpg", "aiohttp", "socket", "time"}]
