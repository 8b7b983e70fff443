"""Login, logout, and who is calling.

A session token comes from ``POST /api/login``; the browser gets it as an
HttpOnly SameSite=Strict cookie, other clients use ``Authorization: Bearer``.
Tokens never travel in URLs.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import timedelta
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from contactcenter.api.errors import ApiError, read_json
from contactcenter.api.keys import DB, SETTINGS
from contactcenter.model import Role
from contactcenter.passwords import verify_password_async
from contactcenter.store.records import Agent, to_json

SESSION_COOKIE = "cc_session"
_AGENT = web.RequestKey("agent", Agent)

routes = web.RouteTableDef()


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    login: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1000)


@functools.cache
def _published_origin(public_url: str | None) -> str | None:
    """``public_url``'s origin, lower-cased (parsed once: settings do not change)."""
    if not public_url:
        return None
    parts = urlsplit(public_url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _own_origins(request: web.Request) -> set[str | None]:
    """The origins a browser page of this server has: as reached, and as published (behind a proxy)."""
    return {f"{request.scheme}://{request.host}".lower(), _published_origin(request.app[SETTINGS].server.public_url)}


def check_same_origin(request: web.Request) -> None:
    """Refuse a browser request sent by another site's page (cross-site request forgery).

    Browsers name the page's origin in ``Origin`` on websocket upgrades and on every POST,
    PUT, PATCH and DELETE. A request without one is not from a browser page (or is
    same-origin in an old browser): session cookies are SameSite=Strict, so it carries none
    from elsewhere.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return
    if origin.rstrip("/").lower() not in _own_origins(request):
        raise ApiError(403, "bad_origin", f"requests from {origin} are not accepted here")


@web.middleware
async def same_origin_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Changes through the API must come from this server's own pages (or from non-browser clients).

    SameSite=Strict keeps other sites' pages from sending the session cookie, but not a page on
    another origin of the same site (another subdomain), and a plain ``text/plain`` form post
    needs no CORS preflight. The channels' webhooks (``/sms``, ``/voice``) are not browser
    endpoints and are signed instead.
    """
    if request.method not in ("GET", "HEAD", "OPTIONS") and request.path.startswith("/api/"):
        check_same_origin(request)
    return await handler(request)


def session_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return request.cookies.get(SESSION_COOKIE)


async def current_agent(request: web.Request) -> Agent:
    """The logged-in caller, or 401."""
    cached = request.get(_AGENT)
    if cached is not None:
        return cached
    token = session_token(request)
    if token:
        async with request.app[DB].connection() as tx:
            agent = await tx.agents.agent_for_session(token)
        if agent is not None:
            request[_AGENT] = agent
            return agent
    raise ApiError(401, "unauthenticated", "log in first (POST /api/login)")


async def require_role(request: web.Request, role: Role) -> Agent:
    """The caller if their role is at least ``role``; 401 or 403 otherwise."""
    agent = await current_agent(request)
    if not Role(agent.role).at_least(role):
        raise ApiError(403, "forbidden", f"this needs the {role} role")
    return agent


@routes.post("/api/login")
async def login(request: web.Request) -> web.Response:
    body = LoginBody.model_validate(await read_json(request))
    db = request.app[DB]
    async with db.connection() as tx:
        agent = await tx.agents.by_login(body.login)
    password_hash = None if agent is None or agent.disabled else agent._password_hash
    if not await verify_password_async(password_hash, body.password) or agent is None:
        raise ApiError(401, "bad_credentials", "wrong login or password")
    settings = request.app[SETTINGS]
    async with db.connection() as tx:
        token, expires = await tx.agents.open_session(
            agent.id,
            ttl=timedelta(seconds=settings.server.session_ttl),
            user_agent=request.headers.get("User-Agent"),
            remote_addr=request.remote,
        )
    response = web.json_response(
        {"token": token, "expires_at": expires.isoformat(), "agent": to_json(agent)}
    )
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        # behind a TLS-terminating proxy request.secure is False; public_url says what browsers use
        secure=request.secure or (settings.server.public_url or "").startswith("https://"),
        path="/",
        max_age=int(settings.server.session_ttl),
    )
    return response


@routes.post("/api/logout")
async def logout(request: web.Request) -> web.Response:
    token = session_token(request)
    if token:
        async with request.app[DB].connection() as tx:
            await tx.agents.close_session(token)
    response = web.json_response({"ok": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@routes.get("/api/me")
async def me(request: web.Request) -> web.Response:
    return web.json_response({"agent": to_json(await current_agent(request))})
