"""channels/sms imports no other channel, and its pure modules do no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "channels" / "sms"
PURE = {"segments.py", "keywords.py", "signatures.py", "parse.py", "outbound.py", "gateways.py"}
IO_MODULES = {"asyncio", "aiohttp", "asyncpg", "socket", "time", "contactcenter.db", "contactcenter.store"}


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names.append(node.module or "")
    return names


def test_no_other_channel_is_imported() -> None:
    bad = [(p.name, n) for p in ROOT.glob("*.py") for n in _imports(p)
           if n.startswith("channels.") and not n.startswith("channels.sms")]
    assert not bad


def test_pure_modules_import_nothing_that_does_io() -> None:
    bad = [(p.name, n) for p in ROOT.glob("*.py") if p.name in PURE for n in _imports(p)
           if any(n == m or n.startswith(m + ".") for m in IO_MODULES)]
    assert not bad
