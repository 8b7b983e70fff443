"""Plain records read from the store, and their JSON form for the API.

Records are frozen dataclasses built from asyncpg rows; ``to_json`` turns one
into the JSON object the HTTP API and websockets send (uuids and times as
strings, times in ISO 8601 UTC).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any


def json_value(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


def to_json(record: Any) -> dict[str, Any]:
    """JSON-ready dict of a record dataclass (fields whose name starts with _ are left out)."""
    return {
        f.name: json_value(getattr(record, f.name))
        for f in dataclasses.fields(record)
        if not f.name.startswith("_")
    }


def from_row(cls: type, row: Mapping[str, Any]) -> Any:
    """Build record ``cls`` from the row's columns of the same names."""
    return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls)})


@dataclasses.dataclass(frozen=True, slots=True)
class Identity:
    kind: str
    address: str
    customer_id: uuid.UUID
    created_at: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class Customer:
    id: uuid.UUID
    display_name: str
    tier: str
    loyalty_points: int
    attributes: dict[str, Any]
    merged_into: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class Touchpoint:
    id: int
    customer_id: uuid.UUID
    interaction_id: uuid.UUID | None
    kind: str
    channel: str | None
    actor_kind: str
    actor_id: str | None
    body: str | None
    payload: dict[str, Any]
    created_at: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class Interaction:
    id: uuid.UUID
    channel: str
    customer_id: uuid.UUID
    queue: str
    state: str
    priority: float
    subject: str | None
    thread_key: str | None
    agent_id: uuid.UUID | None
    disposition: str | None
    linked_interaction_id: uuid.UUID | None
    attributes: dict[str, Any]
    created_at: datetime
    arrived_at: datetime
    offered_at: datetime | None
    assigned_at: datetime | None
    ended_at: datetime | None
    closed_at: datetime | None


@dataclasses.dataclass(frozen=True, slots=True)
class Agent:
    id: uuid.UUID
    login: str
    display_name: str
    role: str
    skills: dict[str, int]
    capacity: dict[str, int]
    sip_uri: str | None
    state: str
    state_reason: str | None
    state_since: datetime
    disabled: bool
    created_at: datetime
    _password_hash: str = dataclasses.field(repr=False, default="")
