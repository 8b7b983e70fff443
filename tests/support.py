"""Helpers for tests: accounts, logins, and waiting on conditions without sleeps."""

from __future__ import annotations

import ast
import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp.test_utils import TestClient

from contactcenter.db import Database
from contactcenter.outbox_worker import OutboxWorker
from contactcenter.passwords import hash_password
from contactcenter.store import OutboxItem
from contactcenter.store.records import Agent
from tests.server_process import HttpClient

PASSWORD = "correct horse battery staple"


async def make_agent(
    db: Database, login: str, role: str = "agent", skills: dict[str, int] | None = None, **extra: object
) -> Agent:
    async with db.transaction() as tx:
        return await tx.agents.create(
            login=login,
            display_name=extra.pop("display_name", login.title()),  # type: ignore[arg-type]
            role=role,
            password_hash=_cached_hash(),
            skills=skills or {},
            **extra,  # type: ignore[arg-type]
        )


_HASH: list[str] = []


def _cached_hash() -> str:
    """argon2 is slow on purpose; tests hash the shared password once."""
    if not _HASH:
        _HASH.append(hash_password(PASSWORD))
    return _HASH[0]


async def login(client: TestClient | HttpClient, login_name: str) -> str:
    response = await client.post("/api/login", json={"login": login_name, "password": PASSWORD})
    assert response.status == 200, await response.text()
    return (await response.json())["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Outcomes:
    """Each outcome an outbox worker records, as it is written: (item, None) when sent, else the failure."""

    def __init__(self, worker: OutboxWorker) -> None:
        self._queue: asyncio.Queue[tuple[OutboxItem, str | None]] = asyncio.Queue()
        worker.recorded_listeners.append(lambda item, failed: self._queue.put_nowait((item, failed)))

    async def next(self, timeout: float = 10) -> tuple[OutboxItem, str | None]:
        async with asyncio.timeout(timeout):
            return await self._queue.get()


async def wait_for(condition: Callable[[], Awaitable[bool]], timeout: float, what: str,
                   every: float = 0.05) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(every)


def absolute_imports(path: Path) -> list[tuple[str, int]]:
    """(module, line) of every absolute import in the file at ``path``: the layering tests read these.

    Parsed, not imported, so a forbidden import is found even in code no test runs.
    """
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            found.append((node.module or "", node.lineno))
    return found


def imported_names(path: Path) -> list[str]:
    """The modules the file at ``path`` imports absolutely (see ``absolute_imports``)."""
    return [name for name, _ in absolute_imports(path)]
