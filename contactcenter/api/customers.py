"""Customers: lookup by identity, profile, identities, merge, and history across channels.

Access: supervisors and admins see every customer. An agent sees a customer
only while or after handling them (an interaction of theirs was offered to or
assigned to the agent) - the same rule a console needs, and no more.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from contactcenter.api.auth import current_agent, require_role
from contactcenter.api.errors import ApiError, parse_uuid, read_json
from contactcenter.api.keys import DB, ROUTER, SETTINGS
from contactcenter.identity import normalise, parse_identity
from contactcenter.model import ActorKind, Role, TouchpointKind
from contactcenter.store import BadCursor, CustomerNotFound, IdentityTaken, Tx
from contactcenter.store.records import Customer, to_json

routes = web.RouteTableDef()

MAX_PAGE = 200


class CustomerPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: str | None = Field(default=None, max_length=200)
    tier: str | None = None
    loyalty_points: int | None = Field(default=None, ge=0)
    attributes: dict[str, Any] | None = None


class IdentityBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["email", "phone", "chat", "sip"]
    address: str = Field(min_length=1, max_length=320)


class MergeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: uuid.UUID = Field(description="the customer merged into this one; it stops existing")


def tier_weight(request: web.Request, tier: str) -> float:
    """The tier's weight as routing sees it (the router's own table); a tier no longer in the file weighs nothing."""
    return request.app[ROUTER].config.tier_weights.get(tier, 0.0)


def check_tier(request: web.Request, tier: str) -> None:
    known = list(request.app[ROUTER].config.tier_weights)
    if tier not in known:
        raise ApiError(400, "unknown_tier", f"unknown tier {tier!r}; known: {', '.join(known)}")


async def readable_customer(request: web.Request, tx: Tx, customer_id: uuid.UUID) -> Customer:
    """The customer if the caller may read it; 404 if absent, 403 if not theirs."""
    agent = await current_agent(request)
    try:
        customer = await tx.customers.get(customer_id)
    except CustomerNotFound:
        raise ApiError(404, "not_found", f"no such customer: {customer_id}") from None
    if not Role(agent.role).at_least(Role.SUPERVISOR) and not await tx.interactions.agent_has_handled(
        agent.id, customer.id
    ):
        raise ApiError(403, "forbidden", "agents may only read customers they handle")
    return customer


async def customer_view(tx: Tx, customer: Customer) -> dict[str, Any]:
    view = to_json(customer)
    view["identities"] = [
        {"kind": i.kind, "address": i.address, "created_at": i.created_at.isoformat()}
        for i in await tx.customers.identities(customer.id)
    ]
    return view


@routes.get("/api/customers")
async def find_customer(request: web.Request) -> web.Response:
    await require_role(request, Role.SUPERVISOR)
    text = request.query.get("identity")
    if not text:
        raise ApiError(400, "missing_identity", "give ?identity=kind:address (e.g. email:a@b.cn)")
    region = request.app[SETTINGS].server.default_phone_region
    try:
        kind, address = parse_identity(text, default_region=region)
    except ValueError as exc:
        raise ApiError(400, "bad_identity", str(exc)) from None
    async with request.app[DB].connection() as tx:
        customer = await tx.customers.find_by_identity(kind, address)
        if customer is None:
            raise ApiError(404, "not_found", f"no customer with {kind} {address}")
        return web.json_response({"customer": await customer_view(tx, customer)})


@routes.get("/api/customers/{id}")
async def get_customer(request: web.Request) -> web.Response:
    customer_id = parse_uuid(request.match_info["id"], "customer")
    async with request.app[DB].connection() as tx:
        customer = await readable_customer(request, tx, customer_id)
        return web.json_response({"customer": await customer_view(tx, customer)})


@routes.patch("/api/customers/{id}")
async def patch_customer(request: web.Request) -> web.Response:
    agent = await require_role(request, Role.SUPERVISOR)
    customer_id = parse_uuid(request.match_info["id"], "customer")
    patch = CustomerPatch.model_validate(await read_json(request))
    if patch.tier is not None:
        check_tier(request, patch.tier)
    changes = patch.model_dump(exclude_none=True)
    async with request.app[DB].transaction() as tx:
        try:
            before = await tx.customers.get(customer_id)
            customer = await tx.customers.update(before.id, changes)
        except CustomerNotFound:
            raise ApiError(404, "not_found", f"no such customer: {customer_id}") from None
        was = to_json(before)
        await tx.touchpoints.append(
            customer_id=customer.id,
            kind=TouchpointKind.PROFILE_CHANGE,
            actor_kind=ActorKind.AGENT,
            actor_id=str(agent.id),
            payload={"changes": changes, "before": {k: was[k] for k in changes}},
        )
        return web.json_response({"customer": await customer_view(tx, customer)})


@routes.post("/api/customers/{id}/identities")
async def add_identity(request: web.Request) -> web.Response:
    agent = await require_role(request, Role.SUPERVISOR)
    customer_id = parse_uuid(request.match_info["id"], "customer")
    body = IdentityBody.model_validate(await read_json(request))
    try:
        address = normalise(body.kind, body.address, default_region=request.app[SETTINGS].server.default_phone_region)
    except ValueError as exc:
        raise ApiError(400, "bad_identity", str(exc)) from None
    async with request.app[DB].transaction() as tx:
        try:
            customer = await tx.customers.get(customer_id)
            identity = await tx.customers.add_identity(customer.id, body.kind, address)
            if identity.customer_id != customer.id:  # merged while we waited: it went to the survivor
                customer = await tx.customers.get(identity.customer_id)
        except CustomerNotFound:
            raise ApiError(404, "not_found", f"no such customer: {customer_id}") from None
        except IdentityTaken as exc:
            raise ApiError(
                409, "identity_taken", f"{body.kind} {address} belongs to another customer; merge them instead",
                owner=str(exc.owner),
            ) from None
        await tx.touchpoints.append(
            customer_id=customer.id,
            kind=TouchpointKind.IDENTITY_ADDED,
            actor_kind=ActorKind.AGENT,
            actor_id=str(agent.id),
            payload={"kind": body.kind, "address": address},
        )
        return web.json_response({"customer": await customer_view(tx, customer)}, status=201)


@routes.post("/api/customers/{id}/merge")
async def merge_customers(request: web.Request) -> web.Response:
    agent = await require_role(request, Role.SUPERVISOR)
    survivor_id = parse_uuid(request.match_info["id"], "customer")
    body = MergeBody.model_validate(await read_json(request))
    if body.customer_id == survivor_id:
        raise ApiError(400, "same_customer", "a customer cannot be merged into itself")
    async with request.app[DB].transaction() as tx:
        try:
            survivor = await tx.customers.get(survivor_id, follow_merge=False)
            merged = await tx.customers.get(body.customer_id, follow_merge=False)
        except CustomerNotFound as exc:
            raise ApiError(404, "not_found", f"no such customer: {exc}") from None
        if survivor.merged_into or merged.merged_into:
            raise ApiError(409, "already_merged", "one of these customers was already merged")
        tier = max((survivor.tier, merged.tier), key=lambda t: tier_weight(request, t))
        try:
            moved = await tx.customers.merge(survivor.id, merged.id, tier=tier)
        except CustomerNotFound:  # another merge of one of them committed while this one waited for it
            raise ApiError(409, "already_merged", "one of these customers was just merged") from None
        await tx.touchpoints.append(
            customer_id=survivor.id,
            kind=TouchpointKind.MERGE,
            actor_kind=ActorKind.AGENT,
            actor_id=str(agent.id),
            payload={"merged_customer_id": str(merged.id), "merged_name": merged.display_name, "moved": moved},
        )
        customer = await tx.customers.get(survivor.id)
        return web.json_response({"customer": await customer_view(tx, customer), "moved": moved})


@routes.get("/api/customers/{id}/history")
async def customer_history(request: web.Request) -> web.Response:
    customer_id = parse_uuid(request.match_info["id"], "customer")
    try:
        limit = int(request.query.get("limit", "50"))
    except ValueError:
        raise ApiError(400, "bad_limit", "limit must be a whole number") from None
    if not 1 <= limit <= MAX_PAGE:
        raise ApiError(400, "bad_limit", f"limit must be between 1 and {MAX_PAGE}")
    async with request.app[DB].connection() as tx:
        customer = await readable_customer(request, tx, customer_id)
        try:
            page, next_cursor = await tx.touchpoints.history(
                customer.id, limit=limit, before=request.query.get("before")
            )
        except BadCursor as exc:
            raise ApiError(400, "bad_cursor", str(exc)) from None
    return web.json_response(
        {"customer_id": str(customer.id), "touchpoints": [to_json(t) for t in page], "next": next_cursor}
    )
