"""Interactions: one conversation with its touchpoints."""

from __future__ import annotations

from aiohttp import web

from contactcenter.api.customers import readable_customer
from contactcenter.api.errors import ApiError, parse_uuid
from contactcenter.api.keys import DB
from contactcenter.store import InteractionNotFound
from contactcenter.store.records import to_json

routes = web.RouteTableDef()


@routes.get("/api/interactions/{id}")
async def get_interaction(request: web.Request) -> web.Response:
    interaction_id = parse_uuid(request.match_info["id"], "interaction")
    async with request.app[DB].connection() as tx:
        try:
            interaction = await tx.interactions.get(interaction_id)
        except InteractionNotFound:
            raise ApiError(404, "not_found", f"no such interaction: {interaction_id}") from None
        await readable_customer(request, tx, interaction.customer_id)
        touchpoints = await tx.touchpoints.for_interaction(interaction.id)
    return web.json_response(
        {"interaction": to_json(interaction), "touchpoints": [to_json(t) for t in touchpoints]}
    )
