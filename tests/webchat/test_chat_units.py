"""The web-chat pieces that need no server: protocol, estimates, eligibility, the bounded sender."""

from __future__ import annotations

import ast
import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from channels.webchat import connection as connection_module
from channels.webchat.availability import qualifies
from channels.webchat.connection import ChatConnection
from channels.webchat.protocol import BadMessage, ChatText, Hello, parse_client_message
from channels.webchat.transcript import render
from channels.webchat.visitors import hash_token, new_token, thread_key, visitor_of_thread
from channels.webchat.waiting import WaitEstimator

PACKAGE = Path(__file__).resolve().parents[2] / "channels" / "webchat"


def test_messages_parse_or_name_the_problem() -> None:
    assert parse_client_message({"type": "hello", "widget": "shop", "last_id": 7}) == Hello(
        type="hello", widget="shop", last_id=7)
    assert parse_client_message({"type": "message", "client_msg_id": "a", "text": " 你好 "}) == ChatText(
        type="message", client_msg_id="a", text="你好")
    # a message id is opaque: acked exactly as sent, or the widget would never see its message settle
    assert parse_client_message({"type": "message", "client_msg_id": " id 1 ", "text": "x"}).client_msg_id == " id 1 "
    for bad in ([], {"type": "dance"}, {"type": "message", "client_msg_id": "a", "text": "   "},
                {"type": "hello", "widget": "shop", "extra": 1}, {"type": "hello", "widget": "s", "last_id": -1},
                {"type": "hello", "widget": "s", "last_id": 2**63},
                {"type": "message", "client_msg_id": "a", "text": "NUL\x00"},
                {"type": "message", "client_msg_id": "a", "text": "half \ud800 a pair"}):
        with pytest.raises(BadMessage) as caught:
            parse_client_message(bad)
        assert caught.value.code == "bad_message"


def test_wait_estimate_is_position_times_the_moving_average() -> None:
    estimator = WaitEstimator({"sales": 30.0}, window=3)
    assert estimator.estimate("sales", 2) == 60  # no history: the queue's service level per position
    assert estimator.estimate("other", 1) == 60  # unknown queue: a minute
    for seconds in (10, 20, 30, 40):
        estimator.record("sales", seconds)
    assert estimator.average("sales") == 30  # only the last three
    assert estimator.estimate("sales", 3) == 90
    estimator.record("sales", -5)  # clock skew is ignored
    assert estimator.average("sales") == 30


def test_an_agent_qualifies_by_any_of_the_skill_sets() -> None:
    needs = [{"sales": 3}, {"sales": 1}, {"support": 2}]
    assert qualifies({"sales": 1}, needs)
    assert qualifies({"support": 5}, needs)
    assert not qualifies({"billing": 9}, needs)
    assert qualifies({}, [{}])  # a queue without skills takes anyone


def test_tokens_are_random_and_stored_as_hashes() -> None:
    token = new_token()
    assert len(token) >= 43 and token != new_token()
    assert len(hash_token(token)) == 32 and hash_token(token) == hash_token(token)
    assert visitor_of_thread(thread_key("abc")) == "abc"
    assert visitor_of_thread("<msg@mail>") is None and visitor_of_thread(None) is None


def test_transcript_text_in_both_languages() -> None:
    messages = [{"from": "customer", "text": "你好", "at": "2025-01-01T01:00:00+00:00"},
                {"from": "agent", "agent_name": "小李", "text": "您好", "at": "2025-01-01T01:01:00+00:00"}]
    subject, text = render(messages, language="zh-CN", timezone="Asia/Shanghai")
    assert subject == "您的聊天记录"
    assert "[2025-01-01 09:00] 您: 你好" in text and "[2025-01-01 09:01] 小李: 您好" in text
    assert render(messages, language="en", timezone="UTC")[1].splitlines()[2] == "[2025-01-01 01:00] You: 你好"


class StuckSocket:
    """A websocket whose peer never reads: every send blocks."""

    def __init__(self) -> None:
        self.closed = False
        self.close_code: int | None = None
        self.sent: list[str] = []
        self.block = True
        self.closing = asyncio.Event()
        self.sending = asyncio.Event()

    async def send_str(self, data: str) -> None:
        if self.block:
            await asyncio.Event().wait()
        self.sent.append(data)
        self.sending.set()

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        self.closed = True
        self.close_code = code
        self.closing.set()
        return True


class AbortableTransport:
    """The TCP transport under a StuckSocket: a stalled client is dropped by aborting it."""

    def __init__(self, ws: StuckSocket) -> None:
        self.ws = ws
        self.aborted = False

    def abort(self) -> None:
        self.aborted = True
        self.ws.closed = True
        self.ws.closing.set()


def _stuck_connection() -> tuple[ChatConnection, StuckSocket, AbortableTransport]:
    ws = StuckSocket()
    conn = ChatConnection(ws, None, "http://shop.test")  # type: ignore[arg-type]
    transport = AbortableTransport(ws)
    conn.transport = transport  # type: ignore[assignment]
    return conn, ws, transport


async def _closed(ws: StuckSocket) -> None:
    await asyncio.wait_for(ws.closing.wait(), 5)


async def test_a_client_that_stops_reading_is_dropped_when_its_queue_fills() -> None:
    conn, ws, transport = _stuck_connection()
    conn.start()
    for n in range(connection_module.MAX_QUEUED + 5):
        conn.send({"type": "queue", "position": n})
    await _closed(ws)
    assert transport.aborted  # a close frame could never reach a client that does not read
    await conn.stop()


async def test_a_send_that_stalls_past_its_deadline_drops_the_connection(monkeypatch: Any) -> None:
    monkeypatch.setattr(connection_module, "SEND_TIMEOUT_S", 0.05)
    conn, ws, transport = _stuck_connection()
    conn.start()
    conn.send({"type": "pong"})
    await _closed(ws)
    assert transport.aborted
    await conn.stop()


async def test_pushes_held_during_the_welcome_are_sent_after_it_once() -> None:
    ws = StuckSocket()
    ws.block = False
    conn = ChatConnection(ws, None, "http://shop.test")  # type: ignore[arg-type]
    conn.hold()
    conn.push({"type": "message", "id": 5, "text": "in the snapshot too"})
    conn.push({"type": "message", "id": 6, "text": "only live"})
    conn.push({"type": "agent_joined", "agent_name": "A"})
    conn.start()
    conn.welcome({"type": "welcome", "conversation": {
        "id": "00000000-0000-0000-0000-000000000001", "state": "active", "messages": [{"id": 5}]}})
    conn.push({"type": "message", "id": 6, "text": "again"})
    async with asyncio.timeout(5):
        while len(ws.sent) < 2:
            ws.sending.clear()
            await ws.sending.wait()
    await conn.stop()
    assert [json.loads(s)["type"] for s in ws.sent] == ["welcome", "message"]
    assert "only live" in ws.sent[1]


def test_the_channel_imports_no_other_channel_and_stays_small() -> None:
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("channels."):
                assert node.module.startswith("channels.webchat"), (path.name, node.module)
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("channels.") and not a.name.startswith("channels.webchat")
                               for a in node.names), path.name
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 400, path.name
