"""Replies through the outbox to a real SMTP server that goes down, defers, refuses; and other outbound mail."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient

from channels.email import parse_message
from contactcenter.db import Database
from contactcenter.outbox_worker import TransientDeliveryError
from contactcenter.store import OutboxItem
from tests.agent_console import AgentConsole
from tests.email_channel.conftest import ADDRESS, Batches, Outcomes, email_agent, runtime
from tests.email_channel.mail import customer_mail
from tests.email_channel.servers import Mailbox, SmtpSink
from tests.support import make_agent


async def _assigned(client: TestClient, db: Database, mailbox: Mailbox) -> tuple[AgentConsole, str]:
    alice = await email_agent(client, db, "alice")
    await mailbox.append(customer_mail(sender="li@163.example", subject="发票", body="请开发票。",
                                       message_id="<d1@163.example>"))
    interaction_id = await alice.offer()
    await alice.accept(interaction_id)
    return alice, interaction_id


class Retries:
    """Failed delivery attempts, as they happen (a spy around the worker's ``deliver``)."""

    def __init__(self, client: TestClient) -> None:
        self.failed: dict[int, list[str]] = {}
        self._changed = asyncio.Event()
        worker = runtime(client).worker
        assert worker is not None
        deliver = worker.deliver

        async def spy(item: OutboxItem) -> dict[str, object] | None:
            try:
                return await deliver(item)
            except TransientDeliveryError as exc:
                self.failed.setdefault(item.id, []).append(str(exc))
                self._changed.set()
                raise

        worker.deliver = spy

    async def until(self, count: int, timeout: float = 10) -> None:
        """Wait until ``count`` different rows have failed at least once."""
        async with asyncio.timeout(timeout):
            while len(self.failed) < count:
                self._changed.clear()
                await self._changed.wait()


async def test_replies_while_smtp_is_down_each_arrive_exactly_once(client: TestClient, db: Database,
                                                                   mailbox: Mailbox, smtp: SmtpSink,
                                                                   outcomes: Outcomes) -> None:
    alice, interaction_id = await _assigned(client, db, mailbox)
    retries = Retries(client)
    await smtp.stop()
    texts = [f"第{n}条回复：正在处理。" for n in range(1, 6)]
    for text in texts:
        await alice.reply(interaction_id, text)
    await retries.until(len(texts))  # every reply has failed at least once (connection refused)
    assert all("refused" in errors[0].lower() or "connect" in errors[0].lower() for errors in retries.failed.values())

    await smtp.start()  # same port
    results = [await outcomes.next(timeout=15) for _ in texts]
    assert [failed for _, failed in results] == [None] * len(texts)
    bodies = sorted(parse_message(m.data, max_attachment_bytes=1 << 20).text for m in smtp.received)
    assert bodies == sorted(texts)  # each once, none twice
    ids = {parse_message(m.data, max_attachment_bytes=1 << 20).message_id for m in smtp.received}
    assert len(ids) == len(texts)
    pending = await db.fetchval("SELECT count(*) FROM outbox WHERE channel = 'email' AND status <> 'sent'")
    assert pending == 0
    await alice.disconnect()


async def test_a_deferred_reply_is_retried_with_the_same_message_id(client: TestClient, db: Database,
                                                                    mailbox: Mailbox, smtp: SmtpSink,
                                                                    outcomes: Outcomes) -> None:
    alice, interaction_id = await _assigned(client, db, mailbox)
    retries = Retries(client)
    smtp.handler.mode = "defer"  # 451
    await alice.reply(interaction_id, "稍等，我们正在查询。")
    await retries.until(1)
    assert "451" in next(iter(retries.failed.values()))[0]
    pinned = await db.fetchval("SELECT payload->>'message_id' FROM outbox WHERE channel = 'email'")
    smtp.handler.mode = "ok"
    _, failed = await outcomes.next(timeout=15)
    assert failed is None
    (received,) = smtp.received
    assert parse_message(received.data, max_attachment_bytes=1 << 20).message_id == pinned
    await alice.disconnect()


async def test_a_refused_reply_is_shown_to_the_agent(client: TestClient, db: Database, mailbox: Mailbox,
                                                     smtp: SmtpSink, outcomes: Outcomes) -> None:
    alice, interaction_id = await _assigned(client, db, mailbox)
    smtp.handler.mode = "reject"  # 550
    ack = await alice.reply(interaction_id, "您好")
    delivery = await alice.expect("delivery", interaction_id=interaction_id)
    assert delivery["status"] == "failed" and "550" in delivery["error"]
    assert delivery["touchpoint_id"] == ack["touchpoint_id"]
    _, failed = await outcomes.next()
    assert failed is not None and smtp.received == []
    await alice.disconnect()


async def test_a_chat_transcript_is_sent_as_a_new_message(client: TestClient, db: Database, smtp: SmtpSink,
                                                          mailbox: Mailbox, outcomes: Outcomes,
                                                          batches: Batches) -> None:
    """The web chat queues ``{"kind": "transcript", "to", "subject", "text"}`` rows on the e-mail outbox."""
    await make_agent(db, "root", role="admin")
    async with db.transaction() as tx:
        customer, _ = await tx.customers.find_or_create("chat", "visitor-1")
        chat = await tx.interactions.create(channel="chat", customer_id=customer.id, queue="support")
        await tx.outbox.enqueue("email", {"kind": "transcript", "to": ["visitor@customer.example"],
                                          "subject": "您的聊天记录", "text": "以下是您与我们的聊天记录：\n您：你好"},
                                interaction_id=chat.id)
    runtime(client).wake()
    _, failed = await outcomes.next()
    assert failed is None
    (received,) = smtp.received
    parsed = parse_message(received.data, max_attachment_bytes=1 << 20)
    assert received.rcpt_tos == ["visitor@customer.example"] and parsed.from_address == ADDRESS
    assert parsed.subject == "您的聊天记录" and parsed.text == "以下是您与我们的聊天记录：\n您：你好"
    # the visitor answers the transcript: a new e-mail conversation, linked to the chat
    assert parsed.message_id is not None
    uid = await mailbox.append(customer_mail(sender="visitor@customer.example", subject="Re: 您的聊天记录",
                                             body="还有一个问题。", message_id="<v1@customer.example>",
                                             in_reply_to=parsed.message_id))
    await batches.flagged([uid])
    async with db.connection() as tx:
        row = await tx.conn.fetchrow("SELECT channel, linked_interaction_id FROM interactions WHERE id = "
                                     "(SELECT interaction_id FROM touchpoints WHERE payload->>'message_id' = $1)",
                                     "<v1@customer.example>")
    assert (row["channel"], row["linked_interaction_id"]) == ("email", chat.id)


DEFERRED = "wang@corp.example"
ACCEPTED = "li@163.example"


async def _reply_to_two(client: TestClient, db: Database, mailbox: Mailbox, smtp: SmtpSink,
                        refuse: str) -> tuple[AgentConsole, str]:
    """An assigned interaction whose customer's Reply-To names ACCEPTED and DEFERRED; the relay answers
    ``refuse`` at RCPT for DEFERRED (only until it has accepted a message, for a 4xx)."""
    async def handle_rcpt(server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if address == DEFERRED and (refuse.startswith("5") or not smtp.handler.received):
            return refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    smtp.handler.handle_RCPT = handle_rcpt  # type: ignore[attr-defined]
    alice = await email_agent(client, db, "alice")
    await mailbox.append(customer_mail(sender=ACCEPTED, subject="发票", body="请开发票。",
                                       message_id="<g1@163.example>",
                                       extra=[("Reply-To", f"{ACCEPTED}, {DEFERRED}")]))
    interaction_id = await alice.offer()
    await alice.accept(interaction_id)
    return alice, interaction_id


async def test_a_recipient_deferred_with_4xx_is_not_dropped(client: TestClient, db: Database, mailbox: Mailbox,
                                                           smtp: SmtpSink, outcomes: Outcomes) -> None:
    """The relay answers 450 (greylisting) for one of two recipients and accepts the other.

    aiosmtplib raises only when every recipient is refused, so this used to be marked sent and the
    deferred address never got the reply. Now the accepted one is recorded on the row, the row is
    retried, and the retry's envelope holds only the deferred one: each gets the message once.
    """
    alice, interaction_id = await _reply_to_two(client, db, mailbox, smtp, "450 4.2.0 Greylisted, try again later")
    retries = Retries(client)
    worker = runtime(client).worker
    assert worker is not None
    deliver, recorded_when_raised = worker.deliver, []

    async def crash_check(item: OutboxItem) -> dict[str, object] | None:
        try:
            return await deliver(item)
        except TransientDeliveryError:  # what a crash right now would leave for the next attempt
            recorded_when_raised.append(await db.fetchval("SELECT payload->'delivered_to' FROM outbox "
                                                          "WHERE id = $1", item.id))
            raise

    worker.deliver = crash_check
    await alice.reply(interaction_id, "已为您开具发票。")
    _, failed = await outcomes.next(timeout=15)
    assert recorded_when_raised == [[ACCEPTED]]  # committed before the attempt ended
    status = await db.fetchval("SELECT status FROM outbox WHERE channel = 'email'")
    first, *later = smtp.received
    assert first.rcpt_tos == [ACCEPTED]  # first attempt: only the accepted recipient
    # a temporary failure must leave the deferred recipient to a retry, or fail visibly
    assert (failed, status) == (None, "sent")
    assert [message.rcpt_tos for message in later] == [[DEFERRED]]  # the retry: nobody gets two copies
    (errors,) = retries.failed.values()
    assert DEFERRED in errors[0] and "450" in errors[0] and ACCEPTED not in errors[0]
    copies = [parse_message(message.data, max_attachment_bytes=0) for message in smtp.received]
    assert len({copy.message_id for copy in copies}) == 1  # the same message, To still names both
    assert all(set(copy.to) == {ACCEPTED, DEFERRED} for copy in copies)
    delivered = await db.fetchval("SELECT payload->'delivered_to' FROM outbox WHERE channel = 'email'")
    assert delivered == [ACCEPTED]
    await alice.disconnect()


async def test_a_recipient_refused_with_5xx_is_reported_with_who_got_it(
        client: TestClient, db: Database, mailbox: Mailbox, smtp: SmtpSink, outcomes: Outcomes) -> None:
    """One recipient accepted, the other refused for good: the row fails and the agent reads who is who."""
    alice, interaction_id = await _reply_to_two(client, db, mailbox, smtp, "550 5.1.1 No such user")
    await alice.reply(interaction_id, "已为您开具发票。")
    delivery = await alice.expect("delivery", interaction_id=interaction_id)
    assert delivery["status"] == "failed"
    assert f"delivered to {ACCEPTED}" in delivery["error"]
    assert f"{DEFERRED} (550 5.1.1 No such user)" in delivery["error"]
    _, failed = await outcomes.next()
    assert failed == delivery["error"]
    assert [message.rcpt_tos for message in smtp.received] == [[ACCEPTED]]
    row = await db.fetchval("SELECT jsonb_build_array(status, payload->'delivered_to') FROM outbox "
                            "WHERE channel = 'email'")
    assert row == ["failed", [ACCEPTED]]
    await alice.disconnect()
