"""GBK, GB2312, GB18030 and Big5 mail reaches the agent's console character for character."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from contactcenter.db import Database
from tests.email.corpus_gen import load
from tests.email_channel.conftest import email_agent
from tests.email_channel.mail import customer_mail
from tests.email_channel.servers import Mailbox
from tests.support import bearer

# (raw message, subject, sender's name, body) as the customer wrote them.
CASES = [
    (load("03_gbk_subject_qp_body.eml"), "关于订单发货的问题", "王小明",
     "您好，我的订单还没有发货，请帮忙查一下物流。\n订单号：20250301-8842\n\n谢谢！\n王小明"),
    (load("07_big5.eml"), "查詢訂單進度", None, "已經等咗好耐㗎"),
    (load("05_gb2312_with_gbk_chars.eml"), "朱镕基同志的来信（喆、堃）", None, "我叫陈喆，收件人是李堃"),
    (customer_mail(sender="lin@163.example", name="林小姐", subject="退货申请：尺码不合适（急）",
                   body="您好，鞋子尺码偏小，想换大一码。\n订单号：88-1234", message_id="<gbk-1@163.example>",
                   charset="gbk"),
     "退货申请：尺码不合适（急）", "林小姐", "您好，鞋子尺码偏小，想换大一码。\n订单号：88-1234"),
    (customer_mail(sender="chan@hk.example", name="陳大文", subject="請問何時出貨？",
                   body="你好，我上星期訂購的貨品還未收到，請幫忙查詢。", message_id="<big5-1@hk.example>",
                   charset="big5"),
     "請問何時出貨？", "陳大文", "你好，我上星期訂購的貨品還未收到，請幫忙查詢。"),
]


async def test_chinese_mail_arrives_in_the_console_exactly(client: TestClient, db: Database,
                                                           mailbox: Mailbox) -> None:
    """Subject, sender name and body of each message, as the agent's console receives them."""
    alice = await email_agent(client, db, "alice")
    for raw, subject, name, body in CASES:
        await mailbox.append(raw)
        offer = await alice.expect("offer", timeout=10)
        interaction = offer["interaction"]
        assert interaction["subject"] == subject
        if name is not None:
            assert interaction["customer"]["name"] == name
        response = await client.get(f"/api/interactions/{interaction['id']}", headers=bearer(alice.token))
        assert response.status == 200, await response.text()
        message = (await response.json())["touchpoints"][0]
        assert message["kind"] == "inbound_message"
        if name is None:
            assert body in message["body"]
        else:
            assert message["body"] == body
        assert message["payload"]["subject"] == subject
    await alice.disconnect()
