"""Helpers for tests: accounts, logins, and waiting on conditions without sleeps."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from contactcenter.db import Database
from contactcenter.passwords import hash_password
from contactcenter.store.records import Agent

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


async def login(client: TestClient, login_name: str) -> str:
    response = await client.post("/api/login", json={"login": login_name, "password": PASSWORD})
    assert response.status == 200, await response.text()
    return (await response.json())["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


