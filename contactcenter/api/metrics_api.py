"""Live metrics and supervisor actions over HTTP.

- ``GET /api/metrics/queues`` and ``GET /api/metrics/agents``: the live model's
  rows (docs/metrics.md), supervisor role.
- ``GET /metrics``: Prometheus text format. Unauthenticated, like most scrape
  targets: it holds counts per queue, channel and state, no names. Keep it off
  the public internet (reverse proxy or firewall) if queue names are private.
- ``POST /api/agents/{id}/state`` and ``POST /api/interactions/{id}/move``: a
  supervisor changes an agent's presence or moves an interaction to another
  queue; both go through the router like the agent's own moves, with the
  supervisor as the actor.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field

import routing as r
from contactcenter.acd.rebuild import agent_updated
from contactcenter.api.auth import require_role
from contactcenter.api.errors import ApiError, parse_uuid, read_json
from contactcenter.api.keys import DB, ROUTER, SETTINGS
from contactcenter.db import StoreError
from contactcenter.metrics.live import METRICS
from contactcenter.metrics.views import agent_rows, channel_rows
from contactcenter.model import Role
from contactcenter.store.records import Agent

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

# a refused routing move, as an HTTP answer
_ROUTING_STATUS = {"unknown_interaction": 404, "unknown_agent": 404, "unknown_queue": 400, "bad_channel": 400}


class StateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: Literal["available", "away", "offline"]
    reason: str | None = Field(default=None, min_length=1, max_length=100)


class MoveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    queue: str = Field(min_length=1, max_length=64)


@routes.get("/api/metrics/queues")
async def queue_metrics(request: web.Request) -> web.Response:
    await require_role(request, Role.SUPERVISOR)
    live = request.app[METRICS]
    now = live.clock()
    state = live.state(now)
    return web.json_response({"at": now, "queues": state["queues"], "channels": channel_rows(live.model, now),
                              "alerts": state["alerts"]})


@routes.get("/api/metrics/agents")
async def agent_metrics(request: web.Request) -> web.Response:
    """Every enabled account: live numbers for those the router knows, stored presence for the rest."""
    await require_role(request, Role.SUPERVISOR)
    live = request.app[METRICS]
    now = live.clock()
    async with request.app[DB].connection() as tx:
        accounts = [a for a in await tx.agents.all() if not a.disabled]
    rows = {row["agent_id"]: row for row in agent_rows(live.model, now)}
    out: list[dict[str, Any]] = []
    for account in accounts:
        row = rows.get(str(account.id)) or {"agent_id": str(account.id), "presence": account.state,
                                            "reason": account.state_reason, "activity": account.state,
                                            "since": account.state_since.timestamp(), "interactions": []}
        out.append({**row, "login": account.login, "display_name": account.display_name, "role": account.role})
    return web.json_response({"at": now, "agents": out})


@routes.get("/metrics")
async def prometheus_metrics(request: web.Request) -> web.Response:
    live = request.app[METRICS]
    try:
        await live.refresh_outbox()
    except StoreError as exc:  # the rest of the page is in memory: serve it with the last backlog seen
        log.warning("outbox backlog not refreshed for /metrics: %s", exc)
    return web.Response(body=generate_latest(live.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


@routes.post("/api/agents/{id}/state")
async def set_agent_state(request: web.Request) -> web.Response:
    supervisor = await require_role(request, Role.SUPERVISOR)
    agent_id = parse_uuid(request.match_info["id"], "agent")
    body = StateBody.model_validate(await read_json(request))
    async with request.app[DB].connection() as tx:
        agent = await tx.agents.get(agent_id)
    if agent is None or agent.disabled:
        raise ApiError(404, "not_found", f"no such agent: {agent_id}")

    def change(at: float) -> r.AgentStateChanged:
        return r.AgentStateChanged(at=at, agent_id=str(agent_id), state=r.AgentState(body.state), reason=body.reason)

    try:
        await _route(request, change, supervisor)
    except ApiError as exc:
        if exc.code != "unknown_agent":
            raise
        # never connected since the start: tell the router who it is
        await request.app[ROUTER].submit(lambda at: agent_updated(agent, at))
        await _route(request, change, supervisor)
    return web.json_response({"agent_id": str(agent_id), "state": body.state, "reason": body.reason})


@routes.post("/api/interactions/{id}/move")
async def move_interaction(request: web.Request) -> web.Response:
    supervisor = await require_role(request, Role.SUPERVISOR)
    interaction_id = parse_uuid(request.match_info["id"], "interaction")
    body = MoveBody.model_validate(await read_json(request))
    if body.queue not in request.app[SETTINGS].queues:
        raise ApiError(400, "unknown_queue", f"unknown queue {body.queue!r}")
    await _route(request, lambda at: r.InteractionTransferred(
        at=at, interaction_id=str(interaction_id), to_queue=body.queue), supervisor)
    return web.json_response({"interaction_id": str(interaction_id), "queue": body.queue})


async def _route(request: web.Request, make: Any, supervisor: Agent) -> list[object]:
    try:
        return await request.app[ROUTER].submit(make, actor=str(supervisor.id))
    except r.RoutingError as exc:
        raise ApiError(_ROUTING_STATUS.get(exc.code, 409), str(exc.code), exc.message) from None
    except ValueError as exc:
        raise ApiError(400, "invalid", str(exc)) from None
