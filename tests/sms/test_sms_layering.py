"""channels/sms imports no other channel, and its pure modules do no I/O."""

from __future__ import annotations

from pathlib import Path

from tests.support import imported_names

ROOT = Path(__file__).resolve().parents[2] / "channels" / "sms"
PURE = {"segments.py", "keywords.py", "signatures.py", "parse.py", "outbound.py", "gateways.py"}
IO_MODULES = {"asyncio", "aiohttp", "asyncpg", "socket", "time", "contactcenter.db", "contactcenter.store"}


def test_no_other_channel_is_imported() -> None:
    bad = [(p.name, n) for p in ROOT.glob("*.py") for n in imported_names(p)
           if n.startswith("channels.") and not n.startswith("channels.sms")]
    assert not bad


def test_pure_modules_import_nothing_that_does_io() -> None:
    bad = [(p.name, n) for p in ROOT.glob("*.py") if p.name in PURE for n in imported_names(p)
           if any(n == m or n.startswith(m + ".") for m in IO_MODULES)]
    assert not bad
