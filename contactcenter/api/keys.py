"""Typed application keys: what the composition root puts in the aiohttp app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from contactcenter.db import Database

if TYPE_CHECKING:
    from contactcenter.acd.feed import AgentFeed
    from contactcenter.acd.intake import Intake
    from contactcenter.acd.service import RouterService
    from contactcenter.config import Settings
    from contactcenter.db.health import DatabaseHealth
    from contactcenter.hub.agent_ws import AgentHub

DB = web.AppKey("db", Database)
SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
FEED: web.AppKey[AgentFeed] = web.AppKey("feed")
ROUTER: web.AppKey[RouterService] = web.AppKey("router")
INTAKE: web.AppKey[Intake] = web.AppKey("intake")
AGENT_HUB: web.AppKey[AgentHub] = web.AppKey("agent_hub")
DB_HEALTH: web.AppKey[DatabaseHealth] = web.AppKey("db_health")
