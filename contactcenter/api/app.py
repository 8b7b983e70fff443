"""The composition root: one function builds the aiohttp app and everything it runs.

Every long-lived resource is a ``cleanup_ctx`` pair so that start-up and
shutdown happen in one place, in order, and in reverse.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from channels.email import setup as email_setup
from channels.sms import setup as sms_setup
from channels.voice import setup as voice_setup
from channels.webchat import setup as webchat_setup
from contactcenter.acd.feed import AgentFeed
from contactcenter.acd.intake import Intake
from contactcenter.acd.service import RouterService
from contactcenter.api import (
    agents_api,
    auth,
    customers,
    health,
    intake_api,
    interactions,
    metrics_api,
    reports_api,
    ui,
)
from contactcenter.api.auth import same_origin_middleware
from contactcenter.api.errors import error_middleware
from contactcenter.api.keys import AGENT_HUB, DB, DB_HEALTH, FEED, INTAKE, ROUTER, SETTINGS
from contactcenter.api.ratelimit import Limit, RateLimiter
from contactcenter.channel_context import ChannelContext
from contactcenter.config import Settings
from contactcenter.config.routing_bridge import to_routing_config
from contactcenter.config.schema import RateLimit
from contactcenter.db import Database
from contactcenter.db.health import DatabaseHealth
from contactcenter.db.retention import Retention
from contactcenter.hub.actions import AgentActions
from contactcenter.hub.agent_ws import AgentHub
from contactcenter.hub.presence import Presence
from contactcenter.hub.supervisor_ws import SUPERVISOR_HUB, SupervisorHub
from contactcenter.metrics.live import METRICS, LiveMetrics, metrics_context

PRESENCE: web.AppKey[Presence] = web.AppKey("presence")
CHANNELS: web.AppKey[ChannelContext] = web.AppKey("channels")

# Each channel adapter's setup(app, context): registers its routes, tasks (cleanup_ctx) and hooks.
# The composition root is the only place that imports channel adapters.
CHANNEL_SETUPS: tuple[Callable[[web.Application, ChannelContext], None], ...] = (
    sms_setup,
    webchat_setup,
    voice_setup,
    email_setup,
)


def console_settings(settings: Settings) -> dict[str, object]:
    """What every console needs from the config, sent in ``hello``."""
    console = settings.console
    return {
        "queues": [{"name": name, "label": q.label or name} for name, q in settings.queues.items()],
        "dispositions": [d.model_dump() for d in console.dispositions],
        "canned_responses": [c.model_dump() for c in console.canned_responses],
        "away_reasons": list(console.away_reasons),
        "language": settings.server.language,
    }


def rate_limiter(settings: Settings) -> RateLimiter:
    limits = settings.server.rate_limits

    def limit(spec: RateLimit | None) -> Limit | None:
        return None if spec is None else Limit(spec.rate, spec.per, burst=spec.burst)

    return RateLimiter(connections=limit(limits.connections), login=limit(limits.login), intake=limit(limits.intake))


def build_app(settings: Settings, db: Database) -> web.Application:
    """The whole application over an open database pool (the caller owns the pool)."""
    app = web.Application(
        middlewares=[rate_limiter(settings).middleware, error_middleware, same_origin_middleware],
        client_max_size=settings.server.max_body_bytes,
    )
    feed = AgentFeed()
    router = RouterService(db, feed, to_routing_config(settings))
    live = LiveMetrics(settings, router, db)  # registers itself in router.observers
    presence = Presence(router, settings.server.agent_disconnect_grace)
    actions = AgentActions(
        db, feed, router,
        dispositions=frozenset(d.code for d in settings.console.dispositions),
        queues=frozenset(settings.queues),
    )
    hub = AgentHub(db, feed, actions, presence, console_settings(settings))
    db_health = DatabaseHealth(db)
    db_health.listeners.append(hub.database_changed)
    app[DB_HEALTH] = db_health
    app[SETTINGS] = settings
    app[DB] = db
    app[FEED] = feed
    app[ROUTER] = router
    app[INTAKE] = Intake(db, feed, router)
    app[AGENT_HUB] = hub
    app[PRESENCE] = presence
    app[METRICS] = live
    app[SUPERVISOR_HUB] = SupervisorHub(live)
    for module in (health, auth, customers, interactions, intake_api, agents_api, metrics_api, reports_api, ui):
        app.add_routes(module.routes)
    app.router.add_get("/agent/ws", hub.handle)
    app.router.add_get("/supervisor/ws", app[SUPERVISOR_HUB].handle)
    context = ChannelContext(settings=settings, db=db, intake=app[INTAKE], router=router, feed=feed, actions=actions)
    app[CHANNELS] = context
    for setup in CHANNEL_SETUPS:
        setup(app, context)
    app.cleanup_ctx.append(db_health.running)
    retention = settings.database.retention
    app.cleanup_ctx.append(Retention(db, agent_events_s=retention.agent_events, every_s=retention.every).running)
    app.cleanup_ctx.append(metrics_context)  # seeds today's counts; the routing rebuild then restores live state
    app.cleanup_ctx.append(_routing)
    app.on_shutdown.append(_close_sockets)
    return app


async def _routing(app: web.Application) -> AsyncIterator[None]:
    router = app[ROUTER]
    await router.start()
    async with app[DB].connection() as tx:
        present = [a.id for a in await tx.agents.all() if a.state != "offline" and not a.disabled]
    app[PRESENCE].watch(present)
    yield
    await app[PRESENCE].close()
    await router.stop()


async def _close_sockets(app: web.Application) -> None:
    await app[AGENT_HUB].close_all()
    await app[SUPERVISOR_HUB].close_all()
