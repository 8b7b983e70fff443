"""``GET /api/agents``: who an agent can hand a conversation to.

The console's transfer picker needs every colleague's login, name and presence.
Any logged-in user may read it (a transfer is an agent's move, not a
supervisor's), so it says no more than a colleague list would: no skills,
capacity, role or SIP address. Disabled accounts are left out because a
transfer to them would be refused.
"""

from __future__ import annotations

from aiohttp import web

from contactcenter.api.auth import current_agent
from contactcenter.api.keys import DB

routes = web.RouteTableDef()


@routes.get("/api/agents")
async def list_agents(request: web.Request) -> web.Response:
    await current_agent(request)
    async with request.app[DB].connection() as tx:
        agents = await tx.agents.all()
    return web.json_response(
        [
            {"id": str(a.id), "login": a.login, "display_name": a.display_name, "state": a.state}
            for a in agents
            if not a.disabled
        ]
    )
