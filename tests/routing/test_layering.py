"""routing/ stays a pure core: standard library only, and nothing that reads the world.

Parsed with ``ast`` rather than imported, so a forbidden import is caught even
in code no test happens to execute.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from tests.support import absolute_imports

ROOT = Path(__file__).resolve().parents[2] / "routing"
# clocks, sleeping, sockets, threads, unseeded randomness: none of them belong in a pure core
BANNED = {"asyncio", "time", "socket", "random", "threading", "selectors", "subprocess", "secrets", "uuid"}
BANNED_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today")}


def modules() -> list[Path]:
    found = sorted(ROOT.rglob("*.py"))
    assert found, f"no modules under {ROOT}"
    return found


def test_routing_imports_only_the_standard_library_and_itself():
    problems = []
    for path in modules():
        for name, line in absolute_imports(path):
            top = name.split(".")[0]
            if top == "routing" or top == "__future__":
                continue
            if top not in sys.stdlib_module_names:
                problems.append(f"{path.name}:{line} imports {name} (not stdlib)")
            elif top in BANNED:
                problems.append(f"{path.name}:{line} imports {name} (banned in the pure core)")
    assert not problems, "\n".join(problems)


def test_routing_never_asks_for_the_current_time():
    problems = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and (node.value.id, node.attr) in BANNED_CALLS):
                problems.append(f"{path.name}:{node.lineno} uses {node.value.id}.{node.attr}")
            if isinstance(node, ast.Name) and node.id in {"__import__", "importlib"}:
                problems.append(f"{path.name}:{node.lineno} imports dynamically")
    assert not problems, "\n".join(problems)


def test_the_checker_would_catch_a_violation(tmp_path: Path):
    module = tmp_path / "bad.py"
    module.write_text("import asyncio\nfrom aiohttp import web\nfrom .x import y\n")
    assert [n for n, _ in absolute_imports(module)] == ["asyncio", "aiohttp"]
