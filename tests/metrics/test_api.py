"""Live metrics through the real app: JSON, /metrics, the supervisor socket, alerts, reports, actions."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from contactcenter.api.app import build_app
from contactcenter.config import Settings, validate_settings
from contactcenter.db import Database
from tests.agent_console import AgentConsole
from tests.metrics.conftest import Webhook, metrics_config
from tests.support import bearer, login, make_agent
from tests.ws_client import WsClient


async def _create(client: TestClient, admin: str, queue: str, email: str, channel: str = "chat") -> str:
    payload = {"channel": channel, "identity": f"email:{email}", "queue": queue, "body": "你好"}
    response = await client.post("/api/interactions", json=payload, headers=bearer(admin))
    assert response.status == 201, await response.text()
    return (await response.json())["interaction_id"]


async def _people(client: TestClient, db: Database) -> tuple[str, str]:
    """An admin (who creates interactions) and a supervisor; returns their tokens."""
    await make_agent(db, "root", role="admin")
    await make_agent(db, "boss", role="supervisor", display_name="主管")
    admin, boss = await login(client, "root"), await login(client, "boss")
    client.session.cookie_jar.clear()
    return admin, boss


async def _alice(client: TestClient, db: Database) -> tuple[AgentConsole, str]:
    agent = await make_agent(db, "alice", skills={"sales": 7}, capacity={"chat": 1}, display_name="王芳")
    console = AgentConsole(client, await login(client, "alice"))
    client.session.cookie_jar.clear()
    await console.connect()
    await console.available()
    return console, str(agent.id)


async def _handle_one(client: TestClient, admin: str, alice: AgentConsole) -> str:
    """A sales chat answered at once, wrapped up and closed by alice."""
    interaction = await _create(client, admin, "sales", "li@example.cn")
    assert await alice.offer() == interaction
    await alice.accept(interaction)
    await alice.send("wrapup", interaction_id=interaction, disposition="resolved")
    await alice.expect("wrap_up", interaction_id=interaction)
    await alice.send("close", interaction_id=interaction)
    await alice.expect("closed", interaction_id=interaction)
    return interaction


def _by(rows: list[dict[str, Any]], key: str, value: str) -> dict[str, Any]:
    return next(row for row in rows if row[key] == value)


class SupervisorSocket(WsClient):
    """The supervisor websocket, read in the background; tests wait on it with ``expect_where``."""

    async def connect(self, token: str) -> None:
        await self._open("/supervisor/ws", bearer(token))
        self._start_reading()


async def _supervisor(client: TestClient, token: str) -> SupervisorSocket:
    ws = SupervisorSocket(client)
    await ws.connect(token)
    return ws


def _waiting(queue: str, n: int) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m["type"] == "update" and _by(m["queues"], "queue", queue)["waiting"] == n


async def test_queue_and_agent_metrics_after_a_known_scenario(client: TestClient, db: Database) -> None:
    """One sales chat answered and closed, one support chat waiting: the JSON says exactly that."""
    admin, boss = await _people(client, db)
    alice, alice_id = await _alice(client, db)
    await _handle_one(client, admin, alice)
    waiting = await _create(client, admin, "support", "zhao@example.cn")  # nobody serves support

    data = await (await client.get("/api/metrics/queues", headers=bearer(boss))).json()
    sales, support = _by(data["queues"], "queue", "sales"), _by(data["queues"], "queue", "support")
    assert sales["label"] == "售前咨询" and sales["service_level_threshold_s"] == 30
    assert (sales["waiting"], support["waiting"], support["offers_outstanding"]) == (0, 1, 0)
    assert support["longest_wait_s"] >= 0 and support["oldest_entered_at"] is not None
    for window in ("window", "today"):
        numbers = sales[window]
        assert (numbers["offered"], numbers["answered"], numbers["handled"], numbers["abandoned"]) == (1, 1, 1, 0)
        assert numbers["service_level"] == 1.0 and 0 <= numbers["asa_s"] < 30 and numbers["aht_s"] >= 0
    assert support["today"]["offered"] == 1 and support["today"]["service_level"] is None
    assert sales["agents"] == {"available": 1, "busy": 0, "wrap_up": 0, "away": 0, "offline": 0}
    assert _by(data["channels"], "channel", "chat")["today"]["offered"] == 2

    agents = (await (await client.get("/api/metrics/agents", headers=bearer(boss))).json())["agents"]
    row = _by(agents, "agent_id", alice_id)
    assert (row["login"], row["display_name"], row["presence"], row["activity"]) == ("alice", "王芳", "available",
                                                                                     "available")
    assert (row["today"]["answered"], row["today"]["handled"], row["queues"]) == (1, 1, ["sales"])
    assert row["today"]["occupancy"] is not None and row["time_in_state_s"] >= 0
    assert _by(agents, "login", "boss")["activity"] == "offline"  # never connected: the stored presence
    assert waiting

    for path in ("/api/metrics/queues", "/api/metrics/agents", "/api/reports/daily.csv"):
        assert (await client.get(path, headers=bearer(alice.token))).status == 403
        assert (await client.get(path)).status == 401
    await alice.disconnect()


async def test_prometheus_endpoint_has_the_series(client: TestClient, db: Database) -> None:
    admin, _ = await _people(client, db)
    alice, _ = await _alice(client, db)
    interaction = await _create(client, admin, "sales", "li@example.cn", channel="email")
    await alice.accept(await alice.offer())
    await alice.reply(interaction, "您好")  # an outbox row waits for an e-mail sender (none configured)
    await _create(client, admin, "support", "zhao@example.cn")

    response = await client.get("/metrics")
    assert response.status == 200 and response.content_type == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    assert samples[("contactcenter_queue_waiting", (("queue", "support"),))] == 1
    assert samples[("contactcenter_queue_waiting", (("queue", "sales"),))] == 0
    assert samples[("contactcenter_queue_longest_wait_seconds", (("queue", "support"),))] >= 0
    assert samples[("contactcenter_queue_service_level_ratio", (("queue", "sales"), ("window", "15m")))] == 1.0
    assert samples[("contactcenter_queue_service_level_target_ratio", (("queue", "sales"),))] == 0.8
    assert samples[("contactcenter_queue_agents", (("queue", "sales"), ("state", "busy")))] == 1
    assert samples[("contactcenter_agents", (("state", "busy"),))] == 1
    assert samples[("contactcenter_queue_interactions_today", (("outcome", "answered"), ("queue", "sales")))] == 1
    assert samples[("contactcenter_routing_decisions_total", ())] >= 2  # the offer and the assignment
    assert samples[("contactcenter_interactions_arrived_total", (("channel", "chat"),))] == 1
    assert samples[("contactcenter_interactions_arrived_total", (("channel", "email"),))] == 1
    assert samples[("contactcenter_outbox_pending", (("channel", "email"),))] == 1
    assert samples[("contactcenter_alerts_active", ())] == 0
    await alice.disconnect()


async def test_each_queue_reports_its_own_service_level_target(db: Database, db_url: str,
                                                               webhook: Webhook) -> None:
    """Goals set per queue in the file reach the JSON rows and /metrics unchanged, each on its own queue."""
    data = metrics_config(db_url, webhook.url)
    data["queues"]["sales"]["service_level_target"] = "90%"
    data["queues"]["support"]["service_level_target"] = 0.95
    data["queues"]["billing"] = {"channels": ["email"], "skills": {"billing": 1}}  # no key: the default 80 %
    settings = validate_settings(data, env={})
    async with TestClient(TestServer(build_app(settings, db), host="127.0.0.1", port=0)) as client:
        _, boss = await _people(client, db)
        rows = (await (await client.get("/api/metrics/queues", headers=bearer(boss))).json())["queues"]
        text = await (await client.get("/metrics")).text()
    assert {row["queue"]: row["service_level_target"] for row in rows} == {"sales": 0.9, "support": 0.95,
                                                                           "billing": 0.8}
    gauges = {sample.labels["queue"]: sample.value
              for family in text_string_to_metric_families(text) for sample in family.samples
              if sample.name == "contactcenter_queue_service_level_target_ratio"}
    assert gauges == {"sales": 0.9, "support": 0.95, "billing": 0.8}


async def test_supervisor_socket_pushes_changes(client: TestClient, db: Database) -> None:
    """Snapshot on connect, then an update soon after an interaction arrives; agents and strangers are refused."""
    admin, boss = await _people(client, db)
    ws = await _supervisor(client, boss)
    snapshot = await ws.expect_where(lambda m: True)
    assert snapshot["type"] == "snapshot" and _by(snapshot["queues"], "queue", "support")["waiting"] == 0
    assert snapshot["alerts"] == [] and isinstance(snapshot["history"], list)

    interaction = await _create(client, admin, "support", "zhao@example.cn")
    update = await ws.expect_where(_waiting("support", 1), timeout=5)
    assert [w["id"] for w in update["waiting"]] == [interaction]
    await ws.send("ping")
    await ws.expect_where(lambda m: m["type"] == "pong")
    await ws.close()

    await make_agent(db, "carol")
    carol = await login(client, "carol")
    client.session.cookie_jar.clear()
    assert (await client.get("/supervisor/ws", headers=bearer(carol))).status == 403
    assert (await client.get("/supervisor/ws")).status == 401
    cross = await client.get("/supervisor/ws", headers={**bearer(boss), "Origin": "https://evil.example"})
    assert cross.status == 403


async def test_alerts_reach_the_socket_and_the_webhook_once(client: TestClient, db: Database,
                                                            webhook: Webhook) -> None:
    """Two waiting in sales (limit 1) raises one alert, retried past a failing receiver; moving one clears it."""
    webhook.fail_first = 1
    admin, boss = await _people(client, db)
    ws = await _supervisor(client, boss)
    await _create(client, admin, "sales", "one@example.cn")
    second = await _create(client, admin, "sales", "two@example.cn")
    raised = await ws.expect_where(lambda m: m["type"] == "alert")
    assert {k: raised["alert"][k] for k in ("id", "kind", "queue", "status", "value", "threshold")} == {
        "id": "waiting:sales", "kind": "waiting", "queue": "sales", "status": "raised", "value": 2, "threshold": 1}
    posted = await webhook.next()
    assert (posted["id"], posted["status"]) == ("waiting:sales", "raised")
    assert webhook.requests == 2  # the first attempt got a 503 and was retried
    update = await ws.expect_where(lambda m: m["type"] == "update" and m["alerts"])
    assert [a["id"] for a in update["alerts"]] == ["waiting:sales"]

    moved = await client.post(f"/api/interactions/{second}/move", json={"queue": "support"}, headers=bearer(boss))
    assert moved.status == 200, await moved.text()
    cleared = await ws.expect_where(lambda m: m["type"] == "alert")
    assert (cleared["alert"]["id"], cleared["alert"]["status"]) == ("waiting:sales", "cleared")
    assert (await webhook.next())["status"] == "cleared"
    await ws.expect_where(lambda m: m["type"] == "update" and not m["alerts"])
    assert [a["status"] for a in webhook.received] == ["raised", "cleared"]  # once each
    await ws.close()


async def test_supervisor_actions(client: TestClient, db: Database) -> None:
    """A supervisor sets an agent away (the agent's console hears it) and moves a waiting chat to her queue."""
    admin, boss = await _people(client, db)
    alice, alice_id = await _alice(client, db)
    response = await client.post(f"/api/agents/{alice_id}/state", json={"state": "away", "reason": "supervisor"},
                                 headers=bearer(boss))
    assert response.status == 200, await response.text()
    assert (await alice.expect("state", state="away"))["reason"] == "supervisor"
    agents = (await (await client.get("/api/metrics/agents", headers=bearer(boss))).json())["agents"]
    assert (_by(agents, "agent_id", alice_id)["presence"], _by(agents, "agent_id", alice_id)["reason"]) == (
        "away", "supervisor")

    waiting = await _create(client, admin, "support", "zhao@example.cn")
    await client.post(f"/api/agents/{alice_id}/state", json={"state": "available"}, headers=bearer(boss))
    await alice.expect("state", state="available")
    moved = await client.post(f"/api/interactions/{waiting}/move", json={"queue": "sales"}, headers=bearer(boss))
    assert moved.status == 200
    assert await alice.offer() == waiting
    transfer = [t for t in (await (await client.get(f"/api/interactions/{waiting}", headers=bearer(boss))).json())[
        "touchpoints"] if t["kind"] == "transfer"]
    assert [(t["payload"]["from_queue"], t["payload"]["to_queue"]) for t in transfer] == [("support", "sales")]

    # a never-connected agent can be set too; refusals say why
    dave = await make_agent(db, "dave")
    assert (await client.post(f"/api/agents/{dave.id}/state", json={"state": "away"},
                              headers=bearer(boss))).status == 200
    assert (await client.post(f"/api/interactions/{waiting}/move", json={"queue": "nope"},
                              headers=bearer(boss))).status == 400
    assert (await client.post("/api/agents/6d9b1d7e-0000-4000-8000-000000000000/state", json={"state": "away"},
                              headers=bearer(boss))).status == 404
    assert (await client.post(f"/api/agents/{alice_id}/state", json={"state": "asleep"},
                              headers=bearer(boss))).status == 400
    assert (await client.post(f"/api/agents/{alice_id}/state", json={"state": "away"},
                              headers=bearer(alice.token))).status == 403
    await alice.disconnect()


async def test_daily_report_csv(client: TestClient, db: Database, settings: Settings) -> None:
    admin, boss = await _people(client, db)
    alice, alice_id = await _alice(client, db)
    await _handle_one(client, admin, alice)
    await _create(client, admin, "support", "zhao@example.cn")
    today = datetime.now(ZoneInfo(settings.server.timezone)).date().isoformat()

    response = await client.get(f"/api/reports/daily.csv?date={today}&by=queue", headers=bearer(boss))
    assert response.status == 200 and response.content_type == "text/csv"
    assert f"contactcenter-queue-{today}.csv" in response.headers["Content-Disposition"]
    raw = await response.read()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    sales, support = _by(rows, "queue", "sales"), _by(rows, "queue", "support")
    assert (sales["label"], sales["offered"], sales["answered"], sales["handled"]) == ("售前咨询", "1", "1", "1")
    assert (sales["service_level_pct"], sales["service_level_threshold_s"]) == ("100.0", "30.0")
    assert (support["offered"], support["answered"], support["service_level_pct"]) == ("1", "0", "")

    agents = list(csv.DictReader(io.StringIO(
        (await (await client.get(f"/api/reports/daily.csv?date={today}&by=agent", headers=bearer(boss))).read())
        .decode("utf-8-sig"))))
    row = _by(agents, "login", "alice")
    assert (row["agent_id"], row["display_name"], row["answered"], row["handled"]) == (alice_id, "王芳", "1", "1")
    assert row["available_s"] != "" and 0 <= float(row["occupancy_pct"]) <= 100  # times are sub-second here

    empty = await (await client.get("/api/reports/daily.csv?date=2020-01-01", headers=bearer(boss))).read()
    assert [r["offered"] for r in csv.DictReader(io.StringIO(empty.decode("utf-8-sig")))] == ["0", "0"]
    for bad in ("date=2024-13-01", "date=yesterday", "by=team"):
        assert (await client.get(f"/api/reports/daily.csv?{bad}", headers=bearer(boss))).status == 400
    await alice.disconnect()


async def test_today_is_seeded_from_the_store_after_a_restart(client: TestClient, db: Database,
                                                              settings: Settings) -> None:
    """A second server over the same database starts with today's numbers and the open interactions."""
    admin, boss = await _people(client, db)
    alice, _ = await _alice(client, db)
    await _handle_one(client, admin, alice)
    waiting = await _create(client, admin, "support", "zhao@example.cn")
    await alice.disconnect()

    async with TestClient(TestServer(build_app(settings, db), host="127.0.0.1", port=0)) as second:
        data = await (await second.get("/api/metrics/queues", headers=bearer(boss))).json()
    sales, support = _by(data["queues"], "queue", "sales"), _by(data["queues"], "queue", "support")
    assert (sales["today"]["offered"], sales["today"]["answered"], sales["today"]["handled"]) == (1, 1, 1)
    assert sales["today"]["service_level"] == 1.0
    assert (support["waiting"], support["today"]["offered"]) == (1, 1)
    assert waiting
