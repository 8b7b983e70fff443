"""With e-mail wired, the offline form becomes an e-mail interaction, answered by e-mail."""

from __future__ import annotations

import socket
import uuid

import pytest
from aiohttp.test_utils import TestClient

from contactcenter.config import Settings, validate_settings
from contactcenter.db import Database
from tests.webchat.chat_customer import ChatCustomer
from tests.webchat.conftest import Shop, webchat_config


def _closed_port() -> int:
    """A loopback port nobody listens on: the mailbox's servers are never reached in this test."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def settings(db_url: str, shop: Shop) -> Settings:
    data = webchat_config(db_url, shop.origin)
    port = _closed_port()
    data["channels"]["email"] = {"mailboxes": [{
        "name": "service", "queue": "sales", "address": "service@shop.example",
        "imap": {"host": "127.0.0.1", "port": port, "tls": "none", "user": "u", "password": "p",
                 "poll_interval": "1h"},
        "smtp": {"host": "127.0.0.1", "port": port, "tls": "none"},
    }]}
    return validate_settings(data, env={})


async def test_the_offline_form_becomes_an_email_interaction(client: TestClient, db: Database) -> None:
    customer = ChatCustomer(client)
    welcome = await customer.connect()
    assert welcome["offline_reason"] == "no_agent"
    await customer.send("offline", name="钱七", email="Qian7@Example.cn", message="发票开错了", client_msg_id="o1")
    received = await customer.expect("offline_received")
    async with db.connection() as tx:
        interaction = await tx.interactions.get(uuid.UUID(received["conversation_id"]))
        owner = await tx.customers.find_by_identity("email", "qian7@example.cn")
    assert (interaction.channel, interaction.state, interaction.queue) == ("email", "queued", "sales")
    assert interaction.attributes["offline_form"] is True
    assert interaction.attributes["email_mailbox"] == "service"
    assert owner is not None and owner.id == interaction.customer_id
    await customer.close()
