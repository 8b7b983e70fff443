"""SIGKILL between commit and flag: after a restart every message is stored exactly once, and flagged.

The server runs as a real process (``tests.email_channel.serve_email``); with
``CC_TEST_EMAIL_PAUSE_AFTER_COMMIT=1`` its poller stops dead right after the
first batch commits, logs a marker, and the test kills it there. The restart
refetches the unflagged batch, recognises every message, and flags it.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

from contactcenter.config import Settings
from contactcenter.db import Database
from tests.email_channel.mail import customer_mail
from tests.email_channel.serve_email import MARKER, PAUSE_ENV
from tests.email_channel.servers import Mailbox

ROOT = Path(__file__).resolve().parents[2]
_BATCH = re.compile(r"email support: uids (\d+)-(\d+): (\d+) stored .* (\d+) seen before")


class EmailServer:
    """``serve_email`` as a child process; its log lines are read as they come."""

    def __init__(self, config: Path, database_url: str, env: dict[str, str] | None = None) -> None:
        self.args = [sys.executable, "-m", "tests.email_channel.serve_email", "serve", "--config", str(config),
                     "--port", "0"]
        self.env = {**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"}, "DATABASE_URL": database_url,
                    "PYTHONPATH": str(ROOT), "IMAP_PASSWORD": "demopass", **(env or {})}
        self.process: asyncio.subprocess.Process | None = None
        self.log: list[str] = []

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *self.args, env=self.env, cwd=ROOT, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)

    async def wait_for(self, pattern: str | re.Pattern[str], timeout: float = 30) -> re.Match[str]:
        """The first log line from now on matching ``pattern`` (reading the process's stderr)."""
        assert self.process is not None and self.process.stderr is not None
        compiled = re.compile(pattern) if isinstance(pattern, str) else pattern
        async with asyncio.timeout(timeout):
            while True:
                line = (await self.process.stderr.readline()).decode(errors="replace")
                if not line:
                    raise AssertionError("server exited:\n" + "".join(self.log[-40:]))
                self.log.append(line)
                if match := compiled.search(line):
                    return match

    async def kill(self) -> None:
        """SIGKILL; returns once every holder of the server's stderr is gone, its parser worker included
        (which dies with it: otherwise this would hang)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            assert self.process.stderr is not None
            while await self.process.stderr.readline():
                pass
            return await self.process.wait()


async def _stored(db: Database) -> dict[str, int]:
    rows = await db.pool.fetch("SELECT payload->>'message_id' AS mid, count(*) AS n FROM touchpoints "
                               "WHERE kind = 'inbound_message' GROUP BY 1")
    return {r["mid"]: r["n"] for r in rows}


async def test_sigkill_between_commit_and_flag_loses_and_duplicates_nothing(
        settings: Settings, db: Database, db_url: str, mailbox: Mailbox, tmp_path: Path) -> None:
    ids = [f"<crash-{n}@customer.example>" for n in range(5)]
    uids = [await mailbox.append(customer_mail(sender=f"c{n}@customer.example", subject=f"崩溃测试 {n}",
                                               body=f"第{n}封", message_id=mid)) for n, mid in enumerate(ids)]
    config = tmp_path / "contactcenter.yaml"  # written by the settings fixture

    server = EmailServer(config, db_url, {PAUSE_ENV: "1"})
    await server.start()
    paused = await server.wait_for(MARKER + r": support uids=([\d,]+)")
    assert [int(uid) for uid in paused[1].split(",")] == uids  # the whole batch, committed
    await server.kill()

    assert await _stored(db) == {mid: 1 for mid in ids}  # committed before the crash...
    assert all("\\Seen" not in flags for flags in (await mailbox.flags()).values())  # ...but never flagged

    server = EmailServer(config, db_url)
    await server.start()
    batch = await server.wait_for(_BATCH)
    assert (int(batch[1]), int(batch[2]), int(batch[3]), int(batch[4])) == (uids[0], uids[-1], 0, len(uids))
    later = await mailbox.append(customer_mail(sender="c9@customer.example", subject="之后", body="还在吗？",
                                               message_id="<crash-9@customer.example>"))
    batch = await server.wait_for(_BATCH)
    assert (int(batch[1]), int(batch[3])) == (later, 1)
    assert await server.terminate() == 0

    assert await _stored(db) == {mid: 1 for mid in [*ids, "<crash-9@customer.example>"]}
    assert all("\\Seen" in flags for flags in (await mailbox.flags()).values())
    interactions = await db.fetchval("SELECT count(*) FROM interactions WHERE channel = 'email'")
    assert interactions == 6
