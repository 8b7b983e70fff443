"""Conversations by e-mail: one interaction per thread, replies threaded, reopened, bounced, delayed, acknowledged."""

from __future__ import annotations

import email
import uuid
from email import policy

import pytest
from aiohttp.test_utils import TestClient

from channels.email import make_reference_token, parse_message
from contactcenter.db import Database
from tests.email_channel.conftest import ADDRESS, Batches, email_agent
from tests.email_channel.mail import bounce_for, customer_mail
from tests.email_channel.servers import Mailbox, SmtpSink
from tests.support import bearer

CUSTOMER = "wang@qq.example"
SUBJECT = "订单没有收到"


async def _email_interactions(db: Database) -> int:
    return int(await db.fetchval("SELECT count(*) FROM interactions WHERE channel = 'email'"))


async def _open_thread(client: TestClient, db: Database, mailbox: Mailbox, smtp: SmtpSink):  # type: ignore[no-untyped-def]
    """Customer writes, alice accepts and replies; returns (alice, interaction id, our Message-ID)."""
    alice = await email_agent(client, db, "alice")
    await mailbox.append(customer_mail(sender=CUSTOMER, name="王小明", subject=SUBJECT,
                                       body="您好，我的订单三天了还没收到。", message_id="<c1@qq.example>"))
    interaction_id = await alice.offer()
    await alice.accept(interaction_id)
    await alice.reply(interaction_id, "王先生您好：\n已为您查询，包裹明天送达。\n客服小李")
    sent = parse_message((await smtp.next()).data, max_attachment_bytes=1 << 20)
    assert sent.message_id is not None
    return alice, interaction_id, sent.message_id


async def test_a_three_message_thread_stays_one_interaction(client: TestClient, db: Database, mailbox: Mailbox,
                                                            smtp: SmtpSink) -> None:
    """Customer → agent reply → customer reply by In-Reply-To → another by subject token only."""
    alice = await email_agent(client, db, "alice")
    await mailbox.append(customer_mail(sender=CUSTOMER, name="王小明", subject=SUBJECT,
                                       body="您好，我的订单三天了还没收到。", message_id="<c1@qq.example>"))
    interaction_id = await alice.offer()
    await alice.accept(interaction_id)
    reply_text = "王先生您好：\n已为您查询，包裹明天送达。\n客服小李"
    await alice.reply(interaction_id, reply_text)

    received = await smtp.next()
    token = make_reference_token(uuid.UUID(interaction_id))
    sent = parse_message(received.data, max_attachment_bytes=1 << 20)
    message = email.message_from_bytes(received.data, policy=policy.default)
    assert received.rcpt_tos == [CUSTOMER] and received.mail_from == ADDRESS
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert sent.subject == f"Re: {SUBJECT} [#{token}]"
    assert sent.in_reply_to == ("<c1@qq.example>",) and sent.references == ("<c1@qq.example>",)
    assert sent.text == reply_text
    assert (sent.from_address, sent.from_name) == (ADDRESS, "客服中心")
    assert sent.reply_to == (ADDRESS,)
    ours = sent.message_id
    assert ours is not None and ours.endswith("@shop.example.com>")

    # the customer answers the agent's message: In-Reply-To and References name it
    await mailbox.append(customer_mail(sender=CUSTOMER, subject=f"Re: {SUBJECT} [#{token}]", body="好的，谢谢！",
                                       message_id="<c2@qq.example>", in_reply_to=ours,
                                       references=["<c1@qq.example>", ours]))
    joined = await alice.expect("message", interaction_id=interaction_id)
    assert joined["touchpoint"]["body"] == "好的，谢谢！"

    # the agent's next reply answers that one, with the whole chain in References
    await alice.reply(interaction_id, "不客气。")
    second = parse_message((await smtp.next()).data, max_attachment_bytes=1 << 20)
    assert second.in_reply_to == ("<c2@qq.example>",)
    assert second.references == ("<c1@qq.example>", ours, "<c2@qq.example>")
    assert second.subject == f"Re: {SUBJECT} [#{token}]"

    # a client that drops the threading headers: only the token in the subject remains
    await mailbox.append(customer_mail(sender=CUSTOMER, subject=f"回复：{SUBJECT} [#{token}]",
                                       body="还有：可以开发票吗？", message_id="<c3@qq.example>"))
    joined = await alice.expect("message", interaction_id=interaction_id)
    assert joined["touchpoint"]["body"] == "还有：可以开发票吗？"
    assert await _email_interactions(db) == 1

    # the same token from someone else is not trusted: a new conversation
    await mailbox.append(customer_mail(sender="stranger@other.example", subject=f"Re: [#{token}]", body="hi",
                                       message_id="<s1@other.example>"))
    assert await alice.offer() != interaction_id
    assert await _email_interactions(db) == 2
    await alice.disconnect()


async def test_a_bounce_of_our_reply_reaches_the_agent(client: TestClient, db: Database, mailbox: Mailbox,
                                                       smtp: SmtpSink) -> None:
    alice, interaction_id, ours = await _open_thread(client, db, mailbox, smtp)
    await mailbox.append(bounce_for(ours, CUSTOMER))
    delivery = await alice.expect("delivery", interaction_id=interaction_id)
    assert delivery["status"] == "failed" and "5.1.1" in delivery["error"]
    assert await _email_interactions(db) == 1  # the bounce is not a conversation
    await alice.disconnect()


async def test_the_agents_next_reply_after_a_bounce_still_goes_to_the_customer(
        client: TestClient, db: Database, mailbox: Mailbox, smtp: SmtpSink) -> None:
    """The bounce is stored on the interaction, but a reply answers the customer's last message."""
    alice, interaction_id, ours = await _open_thread(client, db, mailbox, smtp)
    await mailbox.append(bounce_for(ours, CUSTOMER))
    await alice.expect("delivery", interaction_id=interaction_id)
    # the agent tries again (the customer's mailbox was full, say)
    await alice.reply(interaction_id, "再发一次：包裹明天送达。")
    again = await smtp.next()
    parsed = parse_message(again.data, max_attachment_bytes=1 << 20)
    assert again.rcpt_tos == [CUSTOMER], f"second reply went to {again.rcpt_tos}"
    assert parsed.in_reply_to == ("<c1@qq.example>",), f"second reply answers {parsed.in_reply_to}"
    await alice.disconnect()


async def test_a_reply_after_an_out_of_office_answers_the_customers_own_message(
        client: TestClient, db: Database, mailbox: Mailbox, smtp: SmtpSink, batches: Batches) -> None:
    """An auto-reply from another address (a vacation robot) joins the thread but is not what we answer."""
    alice, interaction_id, ours = await _open_thread(client, db, mailbox, smtp)
    uid = await mailbox.append(customer_mail(
        sender="autoreply@qq.example", subject="自动回复：订单没有收到", body="我正在休假，4月7日回来。",
        message_id="<oof-1@qq.example>", in_reply_to=ours, references=["<c1@qq.example>", ours],
        extra=[("Auto-Submitted", "auto-replied")]))
    await batches.flagged([uid])
    async with db.connection() as tx:
        assert await tx.conn.fetchval(
            "SELECT interaction_id FROM touchpoints WHERE payload->>'message_id' = '<oof-1@qq.example>'"
        ) == uuid.UUID(interaction_id)  # threaded onto the conversation...
    await alice.reply(interaction_id, "补充：快递单号 SF123。")
    again = await smtp.next()
    parsed = parse_message(again.data, max_attachment_bytes=1 << 20)
    assert again.rcpt_tos == [CUSTOMER]  # ...yet the reply goes to the customer, threaded under their mail
    assert parsed.in_reply_to == ("<c1@qq.example>",) and parsed.references == ("<c1@qq.example>",)
    await alice.disconnect()


def _delay_notice(original_message_id: str, recipient: str) -> bytes:
    """A Postfix-style RFC 3464 *delay* notice: not delivered yet, still being retried."""
    return bounce_for(original_message_id, recipient).replace(
        b"Action: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\r\n",
        b"Action: delayed\r\nStatus: 4.4.1\r\nDiagnostic-Code: X-Postfix; connect timed out\r\n",
    ).replace(b"Undelivered Mail Returned to Sender", b"Delayed Mail (still being retried)")


async def test_a_delay_notice_is_not_reported_as_a_failed_delivery(
        client: TestClient, db: Database, mailbox: Mailbox, smtp: SmtpSink, batches: Batches) -> None:
    alice, interaction_id, ours = await _open_thread(client, db, mailbox, smtp)
    raw = _delay_notice(ours, CUSTOMER)
    assert b"Action: delayed" in raw
    uid = await mailbox.append(raw)
    await batches.flagged([uid])
    async with db.connection() as tx:
        statuses = [row["status"] for row in await tx.conn.fetch(
            "SELECT payload->>'status' AS status FROM touchpoints WHERE kind = 'delivery_status' "
            "AND interaction_id = $1::uuid ORDER BY id", interaction_id)]
    assert "failed" not in statuses, f"delivery statuses after a delay notice: {statuses}"
    assert statuses[-1] == "delayed", statuses
    await alice.disconnect()


async def _close(alice, interaction_id: str) -> None:  # type: ignore[no-untyped-def]
    await alice.send("wrapup", interaction_id=interaction_id, disposition="resolved")
    await alice.expect("wrap_up", interaction_id=interaction_id)
    await alice.send("close", interaction_id=interaction_id)
    await alice.expect("closed", interaction_id=interaction_id)


async def test_a_reply_after_closing_reopens_the_conversation(client: TestClient, db: Database, mailbox: Mailbox,
                                                              smtp: SmtpSink) -> None:
    alice, interaction_id, ours = await _open_thread(client, db, mailbox, smtp)
    await _close(alice, interaction_id)
    await mailbox.append(customer_mail(sender=CUSTOMER, subject=f"Re: {SUBJECT}", body="包裹还是没到。",
                                       message_id="<c9@qq.example>", in_reply_to=ours))
    assert await alice.offer() == interaction_id  # the same conversation, queued again
    data = await (await client.get(f"/api/interactions/{interaction_id}", headers=bearer(alice.token))).json()
    reopened = [t for t in data["touchpoints"] if t["payload"].get("reason") == "reopened"]
    inbound = [t["body"] for t in data["touchpoints"] if t["kind"] == "inbound_message"]
    assert len(reopened) == 1 and inbound[-1] == "包裹还是没到。"
    assert await _email_interactions(db) == 1
    await alice.disconnect()


async def test_a_reply_long_after_closing_starts_a_linked_conversation(client: TestClient, db: Database,
                                                                       mailbox: Mailbox, smtp: SmtpSink) -> None:
    alice, interaction_id, ours = await _open_thread(client, db, mailbox, smtp)
    await _close(alice, interaction_id)
    async with db.connection() as tx:  # closed eight days ago, beyond the default 7-day reopen_window
        await tx.conn.execute("UPDATE interactions SET closed_at = now() - interval '8 days' WHERE id = $1",
                              uuid.UUID(interaction_id))
    await mailbox.append(customer_mail(sender=CUSTOMER, subject=f"Re: {SUBJECT}", body="又有新问题了。",
                                       message_id="<c10@qq.example>", in_reply_to=ours))
    newer = await alice.offer()
    assert newer != interaction_id
    async with db.connection() as tx:
        assert (await tx.interactions.get(uuid.UUID(newer))).linked_interaction_id == uuid.UUID(interaction_id)
    await alice.disconnect()


ACK = {"enabled": True, "period": "1d", "subject": "我们已收到您的邮件", "text": "感谢来信，我们会尽快回复。"}


@pytest.mark.parametrize("mailbox_options", [{"auto_ack": ACK}])
async def test_auto_ack_goes_once_per_sender_and_never_to_machines(client: TestClient, db: Database,
                                                                   mailbox: Mailbox, smtp: SmtpSink,
                                                                   batches: Batches) -> None:
    first = await mailbox.append(customer_mail(sender=CUSTOMER, subject="第一封", body="一",
                                               message_id="<a1@qq.example>"))
    ack = await smtp.next()
    parsed = parse_message(ack.data, max_attachment_bytes=1 << 20)
    message = email.message_from_bytes(ack.data, policy=policy.default)
    assert ack.rcpt_tos == [CUSTOMER]
    assert message["Auto-Submitted"] == "auto-replied"
    assert parsed.in_reply_to == ("<a1@qq.example>",)
    assert parsed.subject.startswith("我们已收到您的邮件 [#") and parsed.text == "感谢来信，我们会尽快回复。"

    later = [
        await mailbox.append(customer_mail(sender=CUSTOMER, subject="第二封", body="二", message_id="<a2@qq.example>")),
        await mailbox.append(customer_mail(sender="bot@shop2.example", subject="Out of office", body="away",
                                           message_id="<o1@shop2.example>",
                                           extra=[("Auto-Submitted", "auto-replied")])),
        await mailbox.append(customer_mail(sender="noreply@shop3.example", subject="Your order", body="shipped",
                                           message_id="<n1@shop3.example>")),
    ]
    await batches.flagged([first, *later])
    acks = await db.fetchval("SELECT count(*) FROM outbox WHERE channel = 'email' AND payload->>'kind' = 'auto_ack'")
    assert acks == 1
    assert await _email_interactions(db) == 3  # two from the customer, one from noreply; none from the bot
