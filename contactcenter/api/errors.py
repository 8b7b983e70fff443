"""Every error leaves as JSON ``{"error": {"code", "message"}}`` with the right status.

``ApiError`` is the caller's fault (4xx, with a stable code); store
unavailability becomes 503 so gateways retry; anything unexpected is logged
with its traceback and answered 500 without internals.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from contactcenter.db import StoreConflict, StoreInputError, StoreUnavailable

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def error_response(status: int, code: str, message: str, **details: Any) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    body.update(details)
    return web.json_response({"error": body}, status=status)


def _http_code(exc: web.HTTPException) -> str:
    return {
        404: "not_found",
        405: "method_not_allowed",
        413: "body_too_large",
        400: "bad_request",
    }.get(exc.status, exc.reason.lower().replace(" ", "_"))


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message, **exc.details)
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        return error_response(400, "invalid_body", "the request body is not valid", problems=problems)
    except StoreUnavailable as exc:
        log.warning("store unavailable during %s %s: %s", request.method, request.path, exc)
        return error_response(503, "unavailable", "the database is unavailable; retry later")
    except StoreInputError as exc:
        return error_response(400, "bad_input", f"a value in the request cannot be stored: {exc}")
    except StoreConflict as exc:  # a handler that expects one says so itself; any other is a conflict all the same
        return error_response(409, "conflict", f"the change conflicts with existing data: {exc}")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, _http_code(exc), exc.text or exc.reason)
    except Exception:
        log.exception("unhandled error during %s %s", request.method, request.path)
        return error_response(500, "internal", "internal server error")


async def read_json(request: web.Request) -> Any:
    """The request body as JSON, or a 400 naming the problem."""
    try:
        return await request.json()
    except web.HTTPRequestEntityTooLarge:
        raise
    except ValueError as exc:
        raise ApiError(400, "invalid_json", f"the request body is not JSON: {exc}") from None
    except RecursionError:  # nested deeper than the parser goes: not JSON we take
        raise ApiError(400, "invalid_json", "the request body is nested too deeply") from None


def parse_uuid(text: str, what: str = "id") -> Any:
    import uuid

    try:
        return uuid.UUID(text)
    except ValueError:
        raise ApiError(404, "not_found", f"no such {what}: {text!r}") from None
