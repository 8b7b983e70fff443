"""Replies over STARTTLS and implicit TLS with AUTH, to an aiosmtpd server with a self-signed certificate."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from channels.email import parse_message
from channels.email.channel import EMAIL_SMTP_TLS_CONTEXT
from contactcenter.db import Database
from tests.email_channel.conftest import email_agent, email_config, running_app, write_config
from tests.email_channel.mail import customer_mail
from tests.email_channel.servers import Mailbox, PymapServer, SmtpSink, self_signed_certificate

LOGIN = ("support@shop.example.com", "smtp-secret")


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("tls", ["starttls", "implicit"])
async def test_a_reply_goes_out_over_tls_with_auth(tls: str, db: Database, db_url: str, pymap: PymapServer,
                                                   mailbox: Mailbox, tmp_path: Path) -> None:
    cert, key = await self_signed_certificate(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    sink = SmtpSink(tls=tls, context=server_context, login=LOGIN)
    await sink.start()
    data = email_config(db_url, pymap.port, sink.port)
    data["channels"]["email"]["mailboxes"][0]["smtp"].update(tls=tls, user=LOGIN[0], password=LOGIN[1])
    settings = write_config(tmp_path / "contactcenter.yaml", data)
    try:
        async with running_app(settings, db, app_keys={EMAIL_SMTP_TLS_CONTEXT: ssl.create_default_context(
                cafile=str(cert))}) as client:
            alice = await email_agent(client, db, "alice")
            await mailbox.append(customer_mail(sender="tls@customer.example", subject="加密", body="你好",
                                               message_id="<tls-1@customer.example>"))
            interaction_id = await alice.offer()
            await alice.accept(interaction_id)
            await alice.reply(interaction_id, "您好，已收到。")
            received = await sink.next()
            assert parse_message(received.data, max_attachment_bytes=1 << 20).text == "您好，已收到。"
            assert sink.authenticated == [LOGIN[0]]
            await alice.disconnect()
    finally:
        await sink.stop()
