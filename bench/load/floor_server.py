"""A server that speaks the chat and agent websocket protocols and does nothing else: the transport floor.

``python -m bench.load.floor_server`` listens on 127.0.0.1 (an ephemeral
port, printed on stdout as ``PORT <n>``) and answers the benchmark's clients
frame for frame as ``contactcenter serve`` does in ``bench_e2e_chat``, with
the same message shapes and sizes, on the same aiohttp and uvloop, in one
process. It stores nothing, checks nothing and routes by handing each new
chat to the next available console in turn.

What it measures is how many conversations per second this machine can carry
through that exchange of websocket frames at all (one new customer connection,
five frames in, eleven out per conversation, JSON both ways) with the load
generator beside it. No server doing real work over the same protocols can
go faster here, so it is the ceiling the end-to-end figure is read against,
next to the database's raw commit ceiling.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import secrets
import select
import signal
import subprocess
import sys
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from aiohttp import WSMsgType, web

from contactcenter.cli import run_loop

AGENT_NAME = "坐席 0"
REPO = Path(__file__).resolve().parents[2]


def now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class Chat:
    """One conversation: its customer's socket, the agent console it went to, its summary for the console."""

    id: str
    customer: web.WebSocketResponse
    agent: web.WebSocketResponse
    interaction: dict[str, Any]


class Floor:
    """Connected consoles (taken in turn) and open chats, in memory."""

    def __init__(self) -> None:
        self.available: deque[web.WebSocketResponse] = deque()
        self.chats: dict[str, Chat] = {}
        self.seq = itertools.count(1)
        self.touchpoint_ids = itertools.count(1)

    def next_agent(self) -> web.WebSocketResponse | None:
        if not self.available:
            return None
        self.available.rotate(-1)
        return self.available[0]

    async def chat(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=256 * 1024)  # as the real chat socket
        await ws.prepare(request)
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if data.get("type") == "hello":
                await ws.send_str(json.dumps({
                    "type": "welcome", "visitor_token": secrets.token_urlsafe(32),
                    "conversation": {"id": None, "state": "none", "messages": []}, "greeting": None,
                    "online": True, "offline_reason": None, "prechat_fields": [], "prechat_done": False,
                    "topics": []}))
            elif data.get("type") == "message":
                await self._new_chat(ws, data)
        return ws

    async def _new_chat(self, customer: web.WebSocketResponse, data: dict[str, Any]) -> None:
        agent = self.next_agent()
        chat_id = str(uuid.uuid4())
        interaction = {"id": chat_id, "queue": "web", "state": "offered", "channel": "chat",
                       "preview": data["text"], "subject": None,
                       "customer": {"id": str(uuid.uuid4()), "name": "", "tier": "standard"},
                       "priority": 0, "arrived_at": now(), "disposition": None}
        if agent is not None:
            self.chats[chat_id] = Chat(chat_id, customer, agent, interaction)
            await agent.send_str(json.dumps({"type": "offer", "seq": next(self.seq), "waited_ms": 1,
                                             "expires_at": now(), "interaction": interaction}, ensure_ascii=False))
        await customer.send_str(json.dumps({"type": "ack", "client_msg_id": data["client_msg_id"],
                                            "id": next(self.touchpoint_ids), "conversation_id": chat_id,
                                            "duplicate": False}))
        await customer.send_str(json.dumps({"type": "queue", "conversation_id": chat_id, "position": 1,
                                            "estimated_wait_s": 30}))

    async def agent(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=64 * 1024)  # as the real console socket
        await ws.prepare(request)
        agent_id = str(uuid.uuid4())
        await ws.send_str(json.dumps({
            "type": "hello", "seq": 0, "protocol": 1, "resumed": False,
            "agent": {"id": agent_id, "login": "floor", "display_name": AGENT_NAME, "role": "agent"},
            "state": "offline", "reason": None, "offers": [], "interactions": [], "database": "ok"}))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._agent_message(ws, agent_id, json.loads(msg.data))
        finally:
            if ws in self.available:
                self.available.remove(ws)
        return ws

    async def _agent_message(self, ws: web.WebSocketResponse, agent_id: str, data: dict[str, Any]) -> None:
        kind = data.get("type")
        if kind == "state":
            self.available.append(ws)
            await ws.send_str(json.dumps({"type": "state", "seq": next(self.seq), "state": "available",
                                          "reason": None}))
            return
        chat = self.chats.get(data.get("interaction_id", ""))
        if chat is None:
            return
        if kind == "accept":
            chat.interaction["state"] = "assigned"
            await ws.send_str(json.dumps({"type": "assigned", "seq": next(self.seq),
                                          "interaction": chat.interaction}, ensure_ascii=False))
            await self._to_customer(chat, {"type": "agent_joined", "agent_name": AGENT_NAME,
                                           "conversation_id": chat.id})
        elif kind == "reply":
            at = now()
            touchpoint_id = next(self.touchpoint_ids)
            touchpoint = {"id": touchpoint_id, "body": data["text"], "kind": "outbound_message", "channel": "chat",
                          "payload": {"agent_name": AGENT_NAME, "client_msg_id": data["client_msg_id"]},
                          "actor_id": agent_id, "actor_kind": "agent", "created_at": at,
                          "customer_id": chat.interaction["customer"]["id"], "interaction_id": chat.id}
            await ws.send_str(json.dumps({"type": "ack", "seq": next(self.seq), "touchpoint": touchpoint,
                                          "client_msg_id": data["client_msg_id"], "touchpoint_id": touchpoint_id,
                                          "interaction_id": chat.id}))
            await self._to_customer(chat, {"type": "message", "id": touchpoint_id, "conversation_id": chat.id,
                                           "from": "agent", "text": data["text"], "at": at,
                                           "agent_name": AGENT_NAME})
        elif kind == "close":
            del self.chats[chat.id]
            await ws.send_str(json.dumps({"type": "wrap_up", "seq": next(self.seq), "disposition": None,
                                          "interaction_id": chat.id}))
            await self._to_customer(chat, {"type": "closed", "conversation_id": chat.id,
                                           "transcript_available": True, "reason": "agent"})
            await ws.send_str(json.dumps({"type": "closed", "seq": next(self.seq), "reason": "closed",
                                          "interaction_id": chat.id}))

    @staticmethod
    async def _to_customer(chat: Chat, message: dict[str, Any]) -> None:
        if not chat.customer.closed:
            await chat.customer.send_str(json.dumps(message))


async def serve() -> None:
    floor = Floor()
    app = web.Application()
    app.router.add_get("/chat/ws", floor.chat)
    app.router.add_get("/agent/ws", floor.agent)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
    await site.start()
    port = runner.addresses[0][1]
    print(f"PORT {port}", flush=True)
    try:
        await asyncio.Event().wait()  # until SIGTERM (``exit_on_sigterm``: SystemExit) or SIGINT
    finally:
        await runner.cleanup()


class FloorServer:
    """This module's server in a child process, for a ``with`` block: ``base_url`` and ``process``."""

    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._child: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> FloorServer:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        self._child = subprocess.Popen([sys.executable, "-m", "bench.load.floor_server"], cwd=REPO, env=env, text=True,
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        assert self._child.stdout is not None
        ready, _, _ = select.select([self._child.stdout], [], [], self.timeout)
        line = self._child.stdout.readline() if ready else ""
        if not line.startswith("PORT "):
            self.__exit__()
            raise RuntimeError(f"the floor server did not start within {self.timeout:.0f} s ({line!r})")
        self.port = int(line.split()[1])
        return self

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def process(self) -> psutil.Process:
        assert self._child is not None
        return psutil.Process(self._child.pid)

    def __exit__(self, *exc: object) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(10)


def main() -> None:
    from bench.load.stack import exit_on_sigterm, raise_nofile_limit

    raise_nofile_limit()
    exit_on_sigterm()
    try:
        run_loop(serve(), "uvloop")
    except (KeyboardInterrupt, SystemExit):
        sys.exit(0)


if __name__ == "__main__":
    main()
