"""The SIP layer stays pure: standard library only, and nothing that does I/O or reads a clock."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

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


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_sip_modules_import_only_pure_standard_library() -> None:
    files = sorted(SIP_PACKAGE.glob("*.py"))
    assert len(files) >= 8
    for path in files:
        modules = imported_modules(path) - {"__future__"}
        assert modules <= set(sys.stdlib_module_names), (path.name, modules - set(sys.stdlib_module_names))
        assert not modules & FORBIDDEN, (path.name, modules & FORBIDDEN)


def test_sip_modules_stay_small() -> None:
    for path in SIP_PACKAGE.glob("*.py"):
        assert len(path.read_text().splitlines()) <= 400, path.name
