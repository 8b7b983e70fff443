"""Agents (people who log in: agents, supervisors, admins) and their login sessions.

Session tokens are random 256-bit strings given to the browser once; the store
keeps only their SHA-256, so a leaked database does not leak live sessions.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

import asyncpg

from contactcenter.store.records import Agent

_COLUMNS = (
    "id, login, display_name, role, skills, capacity, sip_uri, state, state_reason, state_since, "
    "disabled, created_at, password_hash"
)
_A_COLUMNS = ", ".join("a." + c.strip() for c in _COLUMNS.split(","))  # joined with sessions


def _agent(row: asyncpg.Record) -> Agent:
    values = dict(row)
    values["_password_hash"] = values.pop("password_hash")
    return Agent(**values)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class AgentStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def create(
        self,
        *,
        login: str,
        display_name: str,
        role: str,
        password_hash: str,
        skills: dict[str, int] | None = None,
        capacity: dict[str, int] | None = None,
        sip_uri: str | None = None,
    ) -> Agent:
        row = await self.conn.fetchrow(
            f"""INSERT INTO agents (login, display_name, role, password_hash, skills, capacity, sip_uri)
                VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_COLUMNS}""",
            login,
            display_name,
            role,
            password_hash,
            skills or {},
            capacity or {},
            sip_uri,
        )
        return _agent(row)

    async def count(self) -> int:
        return int(await self.conn.fetchval("SELECT count(*) FROM agents"))

    async def by_login(self, login: str) -> Agent | None:
        row = await self.conn.fetchrow(f"SELECT {_COLUMNS} FROM agents WHERE login = $1", login)
        return None if row is None else _agent(row)

    async def get(self, agent_id: uuid.UUID) -> Agent | None:
        row = await self.conn.fetchrow(f"SELECT {_COLUMNS} FROM agents WHERE id = $1", agent_id)
        return None if row is None else _agent(row)

    async def all(self) -> list[Agent]:
        return [_agent(r) for r in await self.conn.fetch(f"SELECT {_COLUMNS} FROM agents ORDER BY login")]

    async def open_session(
        self, agent_id: uuid.UUID, *, ttl: timedelta, user_agent: str | None, remote_addr: str | None
    ) -> tuple[str, datetime]:
        """Create a session; return the token (shown once) and its expiry."""
        token = secrets.token_urlsafe(32)
        expires = await self.conn.fetchval(
            """INSERT INTO agent_sessions (token_hash, agent_id, expires_at, user_agent, remote_addr)
               VALUES ($1, $2, now() + $3, $4, $5) RETURNING expires_at""",
            token_hash(token),
            agent_id,
            ttl,
            (user_agent or "")[:300],
            remote_addr,
        )
        return token, expires

    async def agent_for_session(self, token: str) -> Agent | None:
        row = await self.conn.fetchrow(
            f"""SELECT {_A_COLUMNS}
                FROM agent_sessions s JOIN agents a ON a.id = s.agent_id
                WHERE s.token_hash = $1 AND s.expires_at > now() AND NOT a.disabled""",
            token_hash(token),
        )
        return None if row is None else _agent(row)

    async def close_session(self, token: str) -> None:
        await self.conn.execute("DELETE FROM agent_sessions WHERE token_hash = $1", token_hash(token))
