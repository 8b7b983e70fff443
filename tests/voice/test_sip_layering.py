"""The SIP layer stays pure: standard library only, and nothing that does I/O or reads a clock."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.support import imported_names

SIP_PACKAGE = Path(__file__).resolve().parents[2] / "channels" / "voice" / "sip"
FORBIDDEN = {
    "asyncio",
    "socket",
    "time",
    "datetime",
    "random",
    "os",
    "threading",
    "selectors",
    "secrets",
    "subprocess",
    "logging",
}


def test_sip_modules_import_only_pure_standard_library() -> None:
    files = sorted(SIP_PACKAGE.glob("*.py"))
    assert len(files) >= 8
    for path in files:
        modules = {name.split('.')[0] for name in imported_names(path)} - {"__future__"}
        assert modules <= set(sys.stdlib_module_names), (path.name, modules - set(sys.stdlib_module_names))
        assert not modules & FORBIDDEN, (path.name, modules & FORBIDDEN)


def test_sip_modules_stay_small() -> None:
    for path in SIP_PACKAGE.glob("*.py"):
        assert len(path.read_text().splitlines()) <= 400, path.name
