"""E-mail channel fixtures: a real pymap IMAP server, an aiosmtpd sink, and the app pointed at both.

The configuration is a YAML file written to the test's temp dir and read with
``load_config``, like a deployment's. The app is the real one from
``build_app``, with the e-mail channel added here until the composition root
lists it, and with millisecond retry / reconnect delays. Nothing here sleeps
to synchronise: tests wait on the channel's own listeners (a batch flagged, an
outbox outcome recorded), on console events, or on the SMTP sink's queue.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

from channels.email.channel import (
    EMAIL_CHANNEL,
    EMAIL_PARSE_WORKERS,
    EMAIL_RECONNECT_BASE_S,
    EMAIL_RETRY_BASE_S,
    EmailRuntime,
)
from channels.email.ingest import BatchResult
from contactcenter.config import Settings, load_config
from contactcenter.db import Database
from tests.agent_console import AgentConsole
from tests.email_channel.servers import PASSWORD as IMAP_PASSWORD
from tests.email_channel.servers import USER as IMAP_USER
from tests.email_channel.servers import Mailbox, PymapServer, SmtpSink
from tests.support import Outcomes, login, make_agent

TEST_CONFIG = Path(__file__).resolve().parents[1] / "fixtures" / "test.yaml"
ADDRESS = "support@shop.example.com"


def email_config(db_url: str, imap_port: int, smtp_port: int, **mailbox: Any) -> dict[str, Any]:
    """The tests' configuration plus one mailbox ``support`` on the local pymap and sink."""
    data = yaml.safe_load(TEST_CONFIG.read_text(encoding="utf-8"))
    data["database"] = {"url": db_url}
    imap = {"host": "127.0.0.1", "port": imap_port, "tls": "none", "user": IMAP_USER,
            "password": "${IMAP_PASSWORD}", "poll_interval": "1h", **mailbox.pop("imap", {})}
    box = {"name": "support", "queue": "support", "address": ADDRESS, "display_name": "客服中心",
           "imap": imap, "smtp": {"host": "127.0.0.1", "port": smtp_port, "tls": "none"},
           "max_attachment_bytes": 5 * 1024 * 1024, **mailbox}
    data["channels"] = {"email": {"mailboxes": [box]}}
    return data


def write_config(path: Path, data: dict[str, Any]) -> Settings:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_config(path, env={"IMAP_PASSWORD": IMAP_PASSWORD})


@pytest.fixture
async def pymap(tmp_path: Path) -> AsyncIterator[PymapServer]:
    server = PymapServer(tmp_path / "pymap")
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def mailbox(pymap: PymapServer) -> AsyncIterator[Mailbox]:
    client = await Mailbox(pymap.port).connect()
    yield client
    await client.close()


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpSink]:
    sink = SmtpSink()
    await sink.start()
    yield sink
    await sink.stop()


@pytest.fixture
def mailbox_options() -> dict[str, Any]:
    """Per-test overrides of the mailbox's keys (override this fixture, or parametrize it)."""
    return {}


@pytest.fixture
def settings(db_url: str, pymap: PymapServer, smtp: SmtpSink, tmp_path: Path,
             mailbox_options: dict[str, Any]) -> Settings:
    return write_config(tmp_path / "contactcenter.yaml", email_config(db_url, pymap.port, smtp.port,
                                                                      **mailbox_options))


@contextlib.asynccontextmanager
async def running_app(settings: Settings, db: Database, *, parse_workers: int = 0,
                      app_keys: dict[Any, Any] | None = None) -> AsyncIterator[TestClient]:
    """The real application on 127.0.0.1:0 with the e-mail channel and fast retries (plus ``app_keys``)."""
    from contactcenter.api.app import build_app

    app = build_app(settings, db)
    app[EMAIL_RETRY_BASE_S] = 0.02
    app[EMAIL_RECONNECT_BASE_S] = 0.02
    app[EMAIL_PARSE_WORKERS] = parse_workers
    for key, value in (app_keys or {}).items():
        app[key] = value
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as test_client:
        yield test_client


@pytest.fixture
async def client(settings: Settings, db: Database) -> AsyncIterator[TestClient]:
    async with running_app(settings, db) as test_client:
        yield test_client


def runtime(client: TestClient) -> EmailRuntime:
    return client.app[EMAIL_CHANNEL]


class Batches:
    """Every batch the pollers flag (after commit), as it happens."""

    def __init__(self, client: TestClient) -> None:
        self.done: list[tuple[str, list[int], BatchResult]] = []
        self._changed = asyncio.Event()
        for poller in runtime(client).pollers:
            poller.listeners.append(self._record)

    def _record(self, mailbox: str, uids: Sequence[int], result: BatchResult) -> None:
        self.done.append((mailbox, list(uids), result))
        self._changed.set()

    @property
    def uids(self) -> set[int]:
        return {uid for _, uids, _ in self.done for uid in uids}

    async def until(self, condition: Callable[[], bool], timeout: float = 20) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    async def flagged(self, uids: Sequence[int], timeout: float = 20) -> None:
        """Wait until every UID in ``uids`` was committed and flagged."""
        await self.until(lambda: set(uids) <= self.uids, timeout)


@pytest.fixture
def batches(client: TestClient) -> Batches:
    return Batches(client)


@pytest.fixture
def outcomes(client: TestClient) -> Outcomes:
    """Each outcome the e-mail outbox worker records (None = sent, else the failure)."""
    worker = runtime(client).worker
    assert worker is not None, "the outbox sender is not running"
    return Outcomes(worker)


async def email_agent(client: TestClient, db: Database, login_name: str, *, capacity: int = 10) -> AgentConsole:
    """An available agent with the support skill and room for ``capacity`` e-mails."""
    await make_agent(db, login_name, skills={"support": 5}, capacity={"email": capacity})
    console = AgentConsole(client, await login(client, login_name))
    await console.connect()
    await console.available()
    return console
