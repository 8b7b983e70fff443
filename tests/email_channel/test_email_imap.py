"""The IMAP side: IDLE pushes, reconnecting after the server restarts (even between commit and flag), and
moving ingested mail (not the folder's read history)."""

from __future__ import annotations

import asyncio
import ssl
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from channels.email.channel import EMAIL_IMAP_TLS_CONTEXT
from channels.email.imap_session import ImapSession
from contactcenter.config import Settings
from contactcenter.db import Database
from tests.email_channel.conftest import Batches, email_agent, email_config, running_app, runtime, write_config
from tests.email_channel.mail import customer_mail
from tests.email_channel.servers import Mailbox, PymapServer, SmtpSink, free_port, self_signed_certificate


async def test_idle_offers_a_new_message_within_two_seconds(client: TestClient, db: Database,
                                                            mailbox: Mailbox) -> None:
    """poll_interval is 1h here, so only an IDLE push can bring the message in."""
    poller = runtime(client).pollers[0]
    assert poller.mailbox.imap.poll_interval >= 3600
    poller.idle_settle_s = 3600  # no short re-check after new mail either: only a push can bring it in
    alice = await email_agent(client, db, "alice")
    async with asyncio.timeout(10):
        await poller.idling.wait()
    await mailbox.append(customer_mail(sender="fast@customer.example", subject="急！", body="请尽快回复。",
                                       message_id="<idle-1@customer.example>"))
    offer = await alice.expect("offer", timeout=2)
    assert offer["interaction"]["subject"] == "急！"
    # and again: the IDLE is re-issued after each wake-up
    async with asyncio.timeout(5):
        await poller.idling.wait()
    await mailbox.append(customer_mail(sender="fast2@customer.example", subject="还有", body="再问一下。",
                                       message_id="<idle-2@customer.example>"))
    assert (await alice.expect("offer", timeout=2))["interaction"]["subject"] == "还有"
    await alice.disconnect()


async def test_a_restarted_server_is_reconnected_and_nothing_is_stored_twice(
        client: TestClient, db: Database, pymap: PymapServer, batches: Batches) -> None:
    """After the restart the folder has a new UIDVALIDITY; a message seen before is recognised by Message-ID."""
    first = customer_mail(sender="a@customer.example", subject="one", body="1", message_id="<r1@customer.example>")
    writer = await Mailbox(pymap.port).connect()
    await batches.flagged([await writer.append(first)])
    await writer.close()
    poller = runtime(client).pollers[0]

    await pymap.restart()  # in memory: it comes back empty, UIDs start over
    writer = await Mailbox(pymap.port).connect()
    again = await writer.append(first)  # the same message delivered again
    second = await writer.append(customer_mail(sender="b@customer.example", subject="two", body="2",
                                               message_id="<r2@customer.example>"))
    done = len(batches.done)
    await batches.until(lambda: {again, second} <= {uid for _, uids, _ in batches.done[done:] for uid in uids})
    assert poller.connected
    stored = await db.fetchval("SELECT count(*) FROM touchpoints WHERE kind = 'inbound_message'")
    assert stored == 2
    assert sum(result.duplicates for _, _, result in batches.done[done:]) == 1
    assert all("\\Seen" in flags for flags in (await writer.flags()).values())
    await writer.close()


async def test_mail_committed_before_a_connection_drop_is_still_offered(
        client: TestClient, db: Database, pymap: PymapServer) -> None:
    """The server goes away after a batch committed but before it was flagged: it is routed all the same."""
    poller = runtime(client).pollers[0]
    committed: list[int] = []

    async def drop_connection(name: str, uids: Sequence[int]) -> None:
        committed.extend(uids)
        if len(committed) == len(uids):  # the first batch only: the server goes away before STORE \Seen
            await pymap.restart()

    poller.after_commit = drop_connection
    alice = await email_agent(client, db, "alice")
    writer = await Mailbox(pymap.port).connect()  # closed before the restart (a dead one waits 60 s to log out)
    await writer.append(customer_mail(sender="zhao@customer.example", subject="退款", body="请退款。",
                                      message_id="<drop-1@customer.example>"))
    await writer.close()
    try:
        offered = await alice.offer(timeout=8)
    except TimeoutError:
        await alice.disconnect()
        async with db.connection() as tx:
            rows = await tx.conn.fetch("SELECT id, state FROM interactions WHERE channel = 'email'")
        found = [(str(r["id"]), r["state"]) for r in rows]
        raise AssertionError(f"committed e-mail never offered; interactions in the store: {found}, "
                             f"poller error {poller.last_error!r}") from None
    async with db.connection() as tx:
        assert await tx.conn.fetchval("SELECT state FROM interactions WHERE id = $1", uuid.UUID(offered)) == "offered"
    await alice.disconnect()


@pytest.mark.parametrize("mailbox_options", [{"imap": {"after_ingest": "move", "move_to": "Processed/客服"}}])
async def test_ingested_mail_is_moved_when_configured(client: TestClient, mailbox: Mailbox, batches: Batches) -> None:
    uids = [await mailbox.append(customer_mail(sender=f"m{n}@customer.example", subject=f"move {n}", body="x",
                                               message_id=f"<m{n}@customer.example>")) for n in range(3)]
    await batches.flagged(uids)
    assert await mailbox.flags("INBOX") == {}
    assert len(await mailbox.flags("Processed/&W6JnDQ-")) == 3


@pytest.mark.parametrize("mailbox_options", [{"imap": {"after_ingest": "move", "move_to": "Processed"}}])
async def test_first_sync_in_move_mode_does_not_ingest_the_folders_read_history(
        settings: Settings, db: Database, mailbox: Mailbox) -> None:
    """"On the first connection ... only unseen mail is ingested, not the folder's history." (docs/config.md)"""
    assert mailbox.client is not None
    old = customer_mail(sender="old@customer.example", subject="去年的邮件", body="早就处理过了。",
                        message_id="<history-1@customer.example>")
    response = await mailbox.client.append(old, mailbox="INBOX", flags=r"(\Seen)")
    assert response.result == "OK", response
    async with running_app(settings, db) as client:
        batches = Batches(client)
        new = await mailbox.append(customer_mail(sender="new@customer.example", subject="新邮件", body="你好",
                                                 message_id="<new-1@customer.example>"))
        await batches.flagged([new])
        async with db.connection() as tx:
            senders = sorted(r[0] for r in await tx.conn.fetch(
                "SELECT payload->>'from' FROM touchpoints WHERE kind = 'inbound_message'"))
    assert senders == ["new@customer.example"], f"ingested on first sync: {senders}"
    assert len(await mailbox.flags("INBOX")) == 1  # the history stays where it was; the new mail was moved


async def test_without_idle_the_mailbox_is_polled(settings: Settings, db: Database, mailbox: Mailbox,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A server without IDLE is polled every ``poll_interval``."""
    monkeypatch.setattr(ImapSession, "can_idle", property(lambda self: False))
    box = settings.channels.email.mailboxes[0]
    fast = box.model_copy(update={"imap": box.imap.model_copy(update={"poll_interval": 0.05})})
    email = settings.channels.email.model_copy(update={"mailboxes": (fast,)})
    settings = settings.model_copy(update={"channels": settings.channels.model_copy(update={"email": email})})
    async with running_app(settings, db) as client:
        batches = Batches(client)
        uids = [await mailbox.append(customer_mail(sender="p@customer.example", subject=f"poll {n}", body="x",
                                                   message_id=f"<p{n}@customer.example>")) for n in range(2)]
        await batches.flagged(uids)
        assert not runtime(client).pollers[0].idling.is_set()


async def test_a_broken_mailbox_does_not_hold_up_the_others(db: Database, db_url: str, pymap: PymapServer,
                                                            mailbox: Mailbox, smtp: SmtpSink, tmp_path: Path) -> None:
    data = email_config(db_url, pymap.port, smtp.port)
    broken = {**data["channels"]["email"]["mailboxes"][0], "name": "sales-box", "queue": "sales",
              "address": "sales@shop.example.com"}
    broken["imap"] = {**broken["imap"], "port": free_port()}  # nobody listens there
    data["channels"]["email"]["mailboxes"].append(broken)
    settings = write_config(tmp_path / "two.yaml", data)
    async with running_app(settings, db) as client:
        batches = Batches(client)
        uid = await mailbox.append(customer_mail(sender="ok@customer.example", subject="fine", body="x",
                                                 message_id="<ok-1@customer.example>"))
        await batches.flagged([uid])
        dead = next(p for p in runtime(client).pollers if p.name == "sales-box")
        assert not dead.connected and dead.last_error is not None and "connect" in dead.last_error.lower()


async def test_imap_over_starttls(db: Database, db_url: str, smtp: SmtpSink, tmp_path: Path) -> None:
    cert, key = await self_signed_certificate(tmp_path)
    server = PymapServer(tmp_path / "pymap-tls", certificate=(cert, key))
    await server.start()
    try:
        data = email_config(db_url, server.port, smtp.port, imap={"tls": "starttls"})
        settings = write_config(tmp_path / "tls.yaml", data)
        context = ssl.create_default_context(cafile=str(cert))
        async with running_app(settings, db, app_keys={EMAIL_IMAP_TLS_CONTEXT: context}) as client:
            batches = Batches(client)
            writer = await Mailbox(server.port).connect()
            uid = await writer.append(customer_mail(sender="s@customer.example", subject="加密的", body="x",
                                                    message_id="<tls-imap@customer.example>"))
            await batches.flagged([uid])
            await writer.close()
    finally:
        await server.stop()
