"""One address flooding logins, sockets or webhooks gets 429 with Retry-After; nobody else does.

The limiter's clock is the test's: "after the window" is a step of the clock, not a sleep.
"""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from contactcenter.api.ratelimit import Limit, RateLimiter, TokenBuckets, remote_address
from contactcenter.config import Settings
from contactcenter.db import Database
from tests.faults.conftest import SHOP_ORIGIN, running_app, sms_body
from tests.support import PASSWORD, make_agent

UPGRADE = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
           "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Origin": SHOP_ORIGIN}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- the buckets (pure) --------------------------------------------------------------------------


def test_a_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    buckets = TokenBuckets(Limit(2, 1.0, burst=3))
    assert [buckets.take("a", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a", 0.0) == pytest.approx(0.5)  # one token every half second
    assert buckets.take("b", 0.0) == 0.0  # another address has its own bucket
    assert buckets.take("a", 0.5) == 0.0
    assert buckets.take("a", 0.5) > 0


def test_memory_stays_bounded() -> None:
    buckets = TokenBuckets(Limit(5, 60.0, burst=10), max_keys=100)
    for n in range(10_000):
        buckets.take(f"10.0.{n // 256}.{n % 256}", float(n) / 1000)
    assert len(buckets) == 100  # the least recently seen went first
    buckets.take("late", 10_000.0)  # long after: every other bucket has refilled and is forgotten
    assert len(buckets) == 1


def test_limits_must_make_sense() -> None:
    with pytest.raises(ValueError, match="burst"):
        Limit(5, 60.0, burst=0)
    with pytest.raises(ValueError, match="positive"):
        Limit(0, 60.0, burst=1)


# -- through the app -----------------------------------------------------------------------------


def _forwarded_for(request: web.Request) -> str:
    """As if behind a trusted proxy: the client is the address the proxy names."""
    return request.headers.get("X-Forwarded-For") or remote_address(request)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(settings: Settings, db: Database, clock: Clock) -> TestClient:  # type: ignore[override]
    limiter = RateLimiter(connections=Limit(3, 1.0, burst=3), login=Limit(2, 60.0, burst=2),
                          intake=Limit(4, 1.0, burst=4), key=_forwarded_for, clock=clock)
    async with running_app(settings, db, limiter=limiter) as test_client:
        yield test_client


async def _refused(response: object) -> int:
    """Check a 429 is the documented JSON with Retry-After; return Retry-After."""
    assert response.status == 429  # type: ignore[attr-defined]
    body = await response.json()  # type: ignore[attr-defined]
    retry_after = int(response.headers["Retry-After"])  # type: ignore[attr-defined]
    assert body["error"]["code"] == "rate_limited" and body["error"]["retry_after_s"] == retry_after
    return retry_after


async def test_login_attempts_are_limited_per_address(client: TestClient, db: Database, clock: Clock) -> None:
    await make_agent(db, "amy")
    wrong = {"login": "amy", "password": "guess"}
    for _ in range(2):
        assert (await client.post("/api/login", json=wrong)).status == 401
    retry_after = await _refused(await client.post("/api/login", json={"login": "amy", "password": PASSWORD}))
    assert retry_after == 30  # two a minute: the next token comes in 30 s
    for probe in ("/healthz", "/readyz"):  # load balancers are never refused
        assert (await client.get(probe)).status == 200
    other = await client.post("/api/login", json={"login": "amy", "password": PASSWORD},
                              headers={"X-Forwarded-For": "10.0.0.2"})
    assert other.status == 200  # another address is not held to the first one's limit

    clock.now += retry_after
    assert (await client.post("/api/login", json={"login": "amy", "password": PASSWORD})).status == 200
    assert client.app.middlewares[0].limiter.refused["login"] == 1  # type: ignore[attr-defined]


async def test_new_websocket_connections_are_limited_per_address(client: TestClient, clock: Clock) -> None:
    sockets = [await client.ws_connect("/chat/ws?widget=shop", headers={"Origin": SHOP_ORIGIN}) for _ in range(3)]
    retry_after = await _refused(await client.get("/chat/ws?widget=shop", headers=UPGRADE))
    assert retry_after == 1
    refused_console = await client.get("/agent/ws", headers=UPGRADE)  # every socket counts, whatever its path
    assert refused_console.status == 429
    assert (await client.get("/widget.js")).status == 200  # plain requests are not connections
    clock.now += retry_after
    sockets.append(await client.ws_connect("/chat/ws?widget=shop", headers={"Origin": SHOP_ORIGIN}))
    for ws in sockets:
        await ws.close()


async def test_webhook_and_intake_floods_are_limited(client: TestClient, clock: Clock) -> None:
    answers = []
    for n in range(6):
        raw, headers = sms_body("+8613912345678", f"flood {n}", f"flood-{n}")
        answers.append((await client.post("/sms/local/inbound", data=raw, headers=headers)).status)
    assert answers == [200, 200, 200, 200, 429, 429]
    assert (await client.post("/api/interactions", json={})).status == 429  # the same budget
    clock.now += 1
    raw, headers = sms_body("+8613912345678", "after the window", "flood-late")
    assert (await client.post("/sms/local/inbound", data=raw, headers=headers)).status == 200
