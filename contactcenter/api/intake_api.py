"""``POST /api/interactions``: create an interaction the way a channel does (admin role).

For integrations (a shop's order system raising a case) and for tests before
a channel exists: it goes through the same ``Intake`` path the channels use.
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from contactcenter.acd.intake import InboundMessage
from contactcenter.api.auth import require_role
from contactcenter.api.customers import check_tier
from contactcenter.api.errors import ApiError, read_json
from contactcenter.api.keys import DB, INTAKE, SETTINGS
from contactcenter.identity import parse_identity
from contactcenter.model import ActorKind, Channel, Role, TouchpointKind

routes = web.RouteTableDef()


class NewInteraction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: Literal["voice", "chat", "sms", "email"]
    identity: str = Field(min_length=3, max_length=330, description="kind:address, e.g. email:a@b.cn")
    queue: str
    subject: str | None = Field(default=None, max_length=1000)
    body: str | None = Field(default=None, max_length=100_000)
    display_name: str = Field(default="", max_length=200)
    customer_tier: str | None = None
    priority: float = Field(default=0, ge=-1000, le=1000)
    dedupe_key: str | None = Field(default=None, max_length=300)
    attributes: dict[str, Any] = Field(default_factory=dict)


@routes.post("/api/interactions")
async def create_interaction(request: web.Request) -> web.Response:
    admin = await require_role(request, Role.ADMIN)
    body = NewInteraction.model_validate(await read_json(request))
    settings = request.app[SETTINGS]
    if body.queue not in settings.queues:
        raise ApiError(400, "unknown_queue", f"unknown queue {body.queue!r}; known: {', '.join(settings.queues)}")
    if body.customer_tier is not None:
        check_tier(request, body.customer_tier)
    try:
        kind, address = parse_identity(body.identity, default_region=settings.server.default_phone_region)
    except ValueError as exc:
        raise ApiError(400, "bad_identity", str(exc)) from None
    if body.customer_tier is not None:
        async with request.app[DB].transaction() as tx:
            customer, _ = await tx.customers.find_or_create(kind, address, display_name=body.display_name)
            if customer.tier != body.customer_tier:
                await tx.customers.update(customer.id, {"tier": body.customer_tier})
                await tx.touchpoints.append(
                    customer_id=customer.id, kind=TouchpointKind.PROFILE_CHANGE, actor_kind=ActorKind.AGENT,
                    actor_id=str(admin.id), payload={"changes": {"tier": body.customer_tier},
                                                     "before": {"tier": customer.tier}},
                )
    result = await request.app[INTAKE].receive(
        InboundMessage(
            channel=Channel(body.channel), identity_kind=kind, address=address, queue=body.queue,
            body=body.body, subject=body.subject, display_name=body.display_name, dedupe_key=body.dedupe_key,
            priority=body.priority, attributes=body.attributes,
        )
    )
    return web.json_response(
        {"interaction_id": str(result.interaction_id), "customer_id": str(result.customer_id),
         "touchpoint_id": result.touchpoint_id, "created": result.created, "duplicate": result.duplicate},
        status=201 if result.created else 200,
    )
