"""Per-address rate limits for the doors a flood comes through: 429 JSON with ``Retry-After``.

One client address must not be able to exhaust what everyone shares (file
descriptors, argon2 time, the intake's database connections). So each client
address gets a token bucket per group of requests:

- ``connections``: every websocket upgrade (``/agent/ws``, ``/chat/ws``, and any later one);
- ``login``: ``POST /api/login`` (password guessing; argon2 costs us ~50 ms a try);
- ``intake``: ``POST`` to the inbound doors (``/sms/*`` webhooks, ``/api/interactions``).

Everything else, ``/healthz`` and ``/readyz`` above all, is never limited: a
load balancer's probe must not be refused because a flood shares its address.

The key is the TCP peer address (``request.remote``). Behind a reverse proxy
every client has the proxy's address, so either limit at the proxy or pass a
``key`` that reads the proxy's header (only when the proxy is trusted).

Memory is bounded: a bucket that has refilled is the same as no bucket and is
dropped, and at most ``max_keys`` addresses are remembered per group (the
least recently seen go first).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiohttp import hdrs, web

from contactcenter.api.errors import error_response

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Limit:
    """``count`` requests per ``per_s`` seconds on average, up to ``burst`` at once."""

    count: float
    per_s: float
    burst: int

    def __post_init__(self) -> None:
        if self.count <= 0 or self.per_s <= 0:
            raise ValueError(f"a rate limit needs a positive count and period, not {self.count}/{self.per_s}s")
        if self.burst < 1:
            raise ValueError(f"a rate limit's burst must be at least 1, not {self.burst}")

    @property
    def tokens_per_s(self) -> float:
        return self.count / self.per_s


# The production limits are the defaults of ``server.rate_limits`` in the configuration (config/schema.py).
DEFAULT_INTAKE_PATHS = ("/sms/", "/api/interactions")
MAX_KEYS = 50_000


class TokenBuckets:
    """One token bucket per key for one ``Limit``. Pure: the caller passes the time."""

    def __init__(self, limit: Limit, *, max_keys: int = MAX_KEYS) -> None:
        self.limit = limit
        self.max_keys = max_keys
        # key -> [tokens, updated_at]; ordered by last update, oldest first
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str, now: float) -> float:
        """Take a token for ``key``: 0.0 if there was one, else the seconds until there will be."""
        self._evict(now)
        rate, burst = self.limit.tokens_per_s, float(self.limit.burst)
        bucket = self._buckets.get(key)
        if bucket is None:
            tokens = burst
        else:
            tokens = min(burst, bucket[0] + max(0.0, now - bucket[1]) * rate)
            self._buckets.move_to_end(key)
        if tokens >= 1.0:
            self._buckets[key] = [tokens - 1.0, now]
            return 0.0
        self._buckets[key] = [tokens, now]
        return (1.0 - tokens) / rate

    def _evict(self, now: float) -> None:
        """Drop refilled buckets from the old end, and the oldest beyond ``max_keys``.

        Amortised O(1): it stops at the first bucket still in use.
        """
        rate, burst = self.limit.tokens_per_s, self.limit.burst
        while self._buckets:
            key, (tokens, at) = next(iter(self._buckets.items()))
            if len(self._buckets) < self.max_keys and tokens + (now - at) * rate < burst:
                return
            del self._buckets[key]


def remote_address(request: web.Request) -> str:
    """The TCP peer: right unless a proxy stands in front (then key by the proxy's header)."""
    return request.remote or "unknown"


class RateLimiter:
    """The buckets for each group, and which requests belong to which group.

    A group given as None is not limited. ``key`` names the client of a
    request; ``clock`` is monotonic seconds (tests pass their own). Put
    ``middleware`` first in the app's middlewares, so a refused request costs
    nothing else.
    """

    def __init__(
        self,
        *,
        connections: Limit | None,
        login: Limit | None,
        intake: Limit | None,
        intake_paths: Iterable[str] = DEFAULT_INTAKE_PATHS,
        key: Callable[[web.Request], str] = remote_address,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.intake_paths = tuple(intake_paths)  # "/x/" is a prefix, "/x" one exact path
        self.key = key
        self.clock = clock
        limits = {"connections": connections, "login": login, "intake": intake}
        self._groups = {name: TokenBuckets(limit, max_keys=max_keys)
                        for name, limit in limits.items() if limit is not None}
        self.refused: dict[str, int] = dict.fromkeys(self._groups, 0)  # per group, for metrics
        self.middleware: Middleware = _middleware(self)

    def group_of(self, request: web.Request) -> str | None:
        """Which limit ``request`` counts against, if any."""
        if request.headers.get(hdrs.UPGRADE, "").lower() == "websocket":
            return "connections"
        if request.method != "POST":
            return None
        path = request.path
        if path == "/api/login":
            return "login"
        if any(path == p or (p.endswith("/") and path.startswith(p)) for p in self.intake_paths):
            return "intake"
        return None

    def check(self, request: web.Request) -> web.Response | None:
        """None to let ``request`` through, or the 429 to answer it with."""
        group = self.group_of(request)
        buckets = None if group is None else self._groups.get(group)
        if buckets is None:
            return None
        assert group is not None
        wait = buckets.take(self.key(request), self.clock())
        if wait <= 0.0:
            return None
        self.refused[group] += 1
        retry_after = max(1, math.ceil(wait))
        response = error_response(
            429, "rate_limited", f"too many {_WHAT[group]} from your address; retry in {retry_after} s",
            retry_after_s=retry_after,
        )
        response.headers[hdrs.RETRY_AFTER] = str(retry_after)
        return response

    def tracked(self) -> int:
        """How many addresses are remembered over all groups (bounded by ``max_keys`` each)."""
        return sum(len(b) for b in self._groups.values())


_WHAT = {"connections": "new connections", "login": "login attempts", "intake": "requests"}


def _middleware(limiter: RateLimiter) -> Middleware:
    @web.middleware
    async def rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        refusal = limiter.check(request)
        return refusal if refusal is not None else await handler(request)

    rate_limit.limiter = limiter  # type: ignore[attr-defined]  # found again by tests and metrics
    return rate_limit
