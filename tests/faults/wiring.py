"""Add the fault-handling pieces to an app the way the composition root is to wire them.

Until ``contactcenter/api/app.py`` wires the rate limiter and the database
health monitor, the fault tests add them here, after ``build_app``: the
limiter as the outermost middleware, the monitor as a ``cleanup_ctx`` pair
whose listener is the agent hub. Once the composition root does it, this
adds nothing twice (only a limiter a test passes on purpose, in front).
"""

from __future__ import annotations

from aiohttp import web

from contactcenter.api.keys import AGENT_HUB, DB
from contactcenter.api.ratelimit import RateLimiter
from contactcenter.db.health import DatabaseHealth

HEALTH = web.AppKey("fault_tests_db_health", DatabaseHealth)


def wired_limiter(app: web.Application) -> RateLimiter | None:
    for middleware in app.middlewares:
        limiter = getattr(middleware, "limiter", None)
        if isinstance(limiter, RateLimiter):
            return limiter
    return None


def wired_health(app: web.Application) -> DatabaseHealth | None:
    return next((value for value in app.values() if isinstance(value, DatabaseHealth)), None)


def wire_fault_handling(app: web.Application, *, limiter: RateLimiter | None = None,
                        health: DatabaseHealth | None = None) -> DatabaseHealth:
    """Put ``limiter`` (default: production limits, if none is wired) in front; run a health monitor."""
    if limiter is not None or wired_limiter(app) is None:
        app.middlewares.insert(0, (limiter or RateLimiter()).middleware)
    existing = wired_health(app)
    if existing is not None:
        return existing
    health = health or DatabaseHealth(app[DB])
    health.listeners.append(app[AGENT_HUB].database_changed)
    app[HEALTH] = health
    app.cleanup_ctx.append(health.running)
    return health
