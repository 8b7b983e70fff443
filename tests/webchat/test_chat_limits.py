"""Frames and texts exactly at the documented limits (64 KiB frames, 5,000 characters)."""

from __future__ import annotations

import asyncio
import json

from aiohttp.test_utils import TestClient

from contactcenter.db import Database
from tests.webchat.chat_customer import ChatCustomer

FRAME_LIMIT = 64 * 1024


async def test_a_longest_text_in_the_widest_encoding_is_stored_whole(client: TestClient, db: Database) -> None:
    customer = ChatCustomer(client)
    await customer.connect()
    text = "😀" * 4990 + "中文测试，结尾"  # 5,000 characters; escaped JSON of it is about 60 KB
    frame = json.dumps({"type": "message", "client_msg_id": "big", "text": text})  # ensure_ascii: \ud83d\ude00 each
    assert FRAME_LIMIT - 8000 < len(frame.encode()) <= FRAME_LIMIT
    assert customer.ws is not None
    await customer.ws.send_str(frame)
    ack = await customer.expect("ack", client_msg_id="big")
    assert await db.fetchval("SELECT body FROM touchpoints WHERE id = $1", ack["id"]) == text
    await customer.close()


async def test_a_frame_of_exactly_64_kib_is_taken_and_one_byte_more_closes_with_1009(client: TestClient) -> None:
    customer = ChatCustomer(client)
    await customer.connect()
    assert customer.ws is not None and customer._reader is not None
    ping = '{"type": "ping"}'
    await customer.ws.send_str(ping + " " * (FRAME_LIMIT - len(ping)))  # 65,536 bytes, JSON whitespace: a ping
    pong = asyncio.create_task(customer.expect("pong"))
    done, _ = await asyncio.wait({pong, customer._reader}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    if pong not in done:
        pong.cancel()
    assert pong in done, f"a 64 KiB frame closed the chat: close code {customer.ws.close_code}"
    await customer.ws.send_str(ping + " " * (FRAME_LIMIT + 1 - len(ping)))
    await asyncio.wait_for(customer._reader, 10)
    customer._reader = None
    assert customer.ws.close_code == 1009
    await customer.close()
