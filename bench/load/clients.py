"""The load: agent consoles on ``/agent/ws`` and chat widgets on ``/chat/ws``, as the real clients speak.

Times are read with ``CLOCK_MONOTONIC``, which is one clock for the whole
machine, so a customer's send time taken in one process and an agent's offer
receipt taken in another can be subtracted.

Every client connects from its own loopback address (``127.1.x.y``): real
customers come from many addresses, per-address limits (connection rate
limiting, ephemeral ports in TIME_WAIT) then apply as they would in
production instead of throttling the whole benchmark as one client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.load.stack import raise_nofile_limit
from contactcenter.cli import run_loop

AGENT_REPLY = "您好，这里是客服，很高兴为您服务。"


def clock() -> float:
    """Seconds on the machine-wide monotonic clock (comparable between processes)."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def source_host(n: int) -> str:
    """Loopback address number ``n``: 127.1.0.1, 127.1.0.2, ... (62,500 of them)."""
    return f"127.1.{n // 250 % 250}.{n % 250 + 1}"


def session_from(n: int) -> aiohttp.ClientSession:
    """A client session whose connections leave from ``source_host(n)``, without a connection cap."""
    connector = aiohttp.TCPConnector(local_addr=(source_host(n), 0), limit=0)
    return aiohttp.ClientSession(connector=connector)


class LoopLag:
    """How late this process's event loop runs a 20 ms timer: a load generator that lags is the bottleneck."""

    def __init__(self) -> None:
        self.late_ms: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            due = clock() + 0.02
            await asyncio.sleep(0.02)
            self.late_ms.append((clock() - due) * 1000)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def stop(self) -> dict[str, float]:
        if self._task is not None:
            self._task.cancel()
        late = sorted(self.late_ms) or [0.0]
        return {"p50": round(late[len(late) // 2], 1), "p99": round(late[int(0.99 * (len(late) - 1))], 1),
                "max": round(late[-1], 1)}


class ServerRefused(Exception):
    """The server answered ``error`` (or closed) where the scenario expected progress."""


# -- agents --------------------------------------------------------------------------------------


@dataclass
class AgentTally:
    """What the consoles saw: offers by preview text (the customer's message), counts, first errors."""

    offered_at: dict[str, float] = field(default_factory=dict)
    steps_ms: dict[str, list[float]] = field(default_factory=lambda: {"accept": [], "reply": [], "close": []})
    counts: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def error(self, text: str) -> None:
        self.counts["errors"] += 1
        if len(self.errors) < 20:
            self.errors.append(text)


async def agent_console(session: aiohttp.ClientSession, base: str, token: str, tally: AgentTally,
                        available: asyncio.Event, *, auto: bool = True) -> None:
    """One console: set available, then (``auto``) accept every offer, reply once, and close.

    Runs until the socket closes. Each step is sent as soon as the previous
    one's answer arrives; the server handles one console's messages in order.
    How long each step took to be answered (accept → ``assigned``, reply →
    ``ack``, close → ``closed``) is kept: it shows which server path is slow.
    """
    asked: dict[tuple[str, str], float] = {}  # (step, interaction id) -> when it was sent

    def answered(step: str, iid: str | None) -> None:
        began = asked.pop((step, iid or ""), None)
        if began is not None:
            tally.steps_ms[step].append((clock() - began) * 1000)

    async with session.ws_connect(base + "/agent/ws", headers={"Authorization": f"Bearer {token}"},
                                  max_msg_size=0) as ws:
        hello = await ws.receive_json(timeout=30)
        if hello.get("type") != "hello":
            raise ServerRefused(f"agent socket opened with {hello}")
        await ws.send_str(json.dumps({"type": "state", "state": "available"}))
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            kind = data.get("type")
            tally.counts[kind] += 1
            if kind == "offer":
                tally.offered_at[data["interaction"].get("preview") or ""] = clock()
                if auto:
                    iid = data["interaction"]["id"]
                    asked["accept", iid] = clock()
                    await ws.send_str(json.dumps({"type": "accept", "interaction_id": iid}))
            elif kind == "assigned" and auto:
                iid = data["interaction"]["id"]
                answered("accept", iid)
                asked["reply", iid] = clock()
                await ws.send_str(json.dumps({"type": "reply", "interaction_id": iid, "text": AGENT_REPLY,
                                              "client_msg_id": f"r-{iid}"}))
            elif kind == "ack" and auto and data.get("interaction_id"):
                iid = data["interaction_id"]
                answered("reply", iid)
                asked["close", iid] = clock()
                await ws.send_str(json.dumps({"type": "close", "interaction_id": iid}))
            elif kind == "closed":
                answered("close", data.get("interaction_id"))
            elif kind == "state" and data.get("state") == "available":
                available.set()
            elif kind == "error":
                tally.error(f"{data.get('code')}: {data.get('message')}")


async def run_agents(base: str, tokens: list[str], tally: AgentTally, *, auto: bool = True,
                     first_source: int = 20_000, timeout: float = 60.0) -> tuple[list[asyncio.Task[None]],
                                                                                 list[aiohttp.ClientSession]]:
    """Connect every console and wait until each is available; returns their tasks and sessions."""
    sessions = [session_from(first_source + n) for n in range(len(tokens))]
    ready = [asyncio.Event() for _ in tokens]
    tasks = [asyncio.create_task(agent_console(s, base, t, tally, e, auto=auto))
             for s, t, e in zip(sessions, tokens, ready, strict=True)]
    all_ready = asyncio.ensure_future(asyncio.gather(*(e.wait() for e in ready)))
    try:
        async with asyncio.timeout(timeout):
            done, _ = await asyncio.wait([all_ready, *tasks], return_when=asyncio.FIRST_COMPLETED)
    except TimeoutError:
        await stop_clients(tasks, sessions)
        raise RuntimeError(f"the agent consoles were not all available within {timeout:.0f} s") from None
    finally:
        if not all_ready.done():
            all_ready.cancel()
    if all_ready not in done:
        failed = next(t for t in tasks if t.done())
        await stop_clients(tasks, sessions)
        raise RuntimeError(f"an agent console ended while connecting: {failed.exception()!r}")
    return tasks, sessions


async def stop_clients(tasks: list[asyncio.Task[Any]], sessions: list[aiohttp.ClientSession]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    for session in sessions:
        await session.close()


# -- customers -----------------------------------------------------------------------------------


async def _until(ws: aiohttp.ClientWebSocketResponse, wanted: str, **match: Any) -> dict[str, Any]:
    """The next message of type ``wanted`` (others are skipped); ``error`` or a close raises."""
    while True:
        msg = await ws.receive()
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise ServerRefused(f"socket {msg.type.name.lower()} while waiting for {wanted}")
        data = json.loads(msg.data)
        if data.get("type") == wanted and all(data.get(k) == v for k, v in match.items()):
            return data
        if data.get("type") == "error":
            raise ServerRefused(f"{data.get('code')}: {data.get('message')}")


async def conversation(session: aiohttp.ClientSession, url: str, origin: str, widget: str, text: str,
                       timeout: float) -> tuple[float, float]:
    """One new customer: hello, one message, wait for the agent's reply, leave.

    Returns (when the message was sent, when the reply arrived).
    """
    async with asyncio.timeout(timeout), session.ws_connect(url, headers={"Origin": origin}) as ws:
        await ws.send_str(json.dumps({"type": "hello", "widget": widget}))
        await _until(ws, "welcome")
        sent = clock()
        await ws.send_str(json.dumps({"type": "message", "client_msg_id": "1", "text": text}))
        await _until(ws, "message", **{"from": "agent"})
        return sent, clock()


@dataclass
class PhaseResult:
    """One customer process's run of ``count`` conversations."""

    count: int
    started: float = 0.0
    finished: float = 0.0
    sent_at: dict[str, float] = field(default_factory=dict)
    reply_s: list[float] = field(default_factory=list)
    done_at: list[float] = field(default_factory=list)
    failed: int = 0
    errors: list[str] = field(default_factory=list)


async def customer_phase(base: str, origin: str, widget: str, sessions: list[aiohttp.ClientSession], prefix: str,
                         count: int, concurrency: int, timeout: float) -> PhaseResult:
    """``count`` conversations, ``concurrency`` at a time, each with a unique message text."""
    url = f"{base}/chat/ws?widget={widget}"
    result = PhaseResult(count)
    numbers = iter(range(count))

    async def worker() -> None:
        for n in numbers:
            text = f"您好，我想查询订单 {prefix}-{n}"
            try:
                sent, replied = await conversation(sessions[n % len(sessions)], url, origin, widget, text, timeout)
            except (ServerRefused, aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
                result.failed += 1
                if len(result.errors) < 20:
                    result.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            result.sent_at[text] = sent
            result.reply_s.append(replied - sent)
            result.done_at.append(replied)

    result.started = clock()
    async with asyncio.timeout(timeout * (1 + count / max(1, concurrency))):
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.finished = clock()
    return result


def customer_process(base: str, origin: str, widget: str, index: int, concurrency: int, warmup: int, count: int,
                     timeout: float, conn: Any) -> None:
    """Child process: ``warmup`` conversations, report ``warm``, wait for ``go``, run ``count``, report ``done``."""
    raise_nofile_limit()
    run_loop(_customer_process(base, origin, widget, index, concurrency, warmup, count, timeout, conn), "uvloop")


async def _customer_process(base: str, origin: str, widget: str, index: int, concurrency: int, warmup: int,
                            count: int, timeout: float, conn: Any) -> None:
    sessions = [session_from(index * 250 + n) for n in range(250)]
    try:
        warm = await customer_phase(base, origin, widget, sessions, f"w{index}", warmup, concurrency, timeout)
        conn.send(("warm", {"failed": warm.failed, "errors": warm.errors}))
        order = await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        if order != "go":
            return
        lag = LoopLag()
        lag.start()
        result = await customer_phase(base, origin, widget, sessions, f"m{index}", count, concurrency, timeout)
        conn.send(("done", {**result.__dict__, "loop_lag_ms": lag.stop()}))
    except Exception as exc:  # reported to the parent, which fails the run with it
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
    finally:
        for session in sessions:
            await session.close()


def agent_process(base: str, tokens: list[str], conn: Any) -> None:
    """Child process: auto-answering consoles; reports ``ready``, runs until ``stop``, then sends its tally."""
    raise_nofile_limit()
    run_loop(_agent_process(base, tokens, conn), "uvloop")


async def _agent_process(base: str, tokens: list[str], conn: Any) -> None:
    tally = AgentTally()
    tasks: list[asyncio.Task[None]] = []
    sessions: list[aiohttp.ClientSession] = []
    try:
        tasks, sessions = await run_agents(base, tokens, tally)
        conn.send(("ready", len(tasks)))
        lag = LoopLag()
        lag.start()
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # any message means stop
        tally.counts["consoles_ended_early"] = sum(t.done() for t in tasks)
        conn.send(("done", {"offered_at": tally.offered_at, "steps_ms": tally.steps_ms, "counts": dict(tally.counts),
                            "errors": tally.errors, "loop_lag_ms": lag.stop()}))
    except Exception as exc:
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
    finally:
        await stop_clients(tasks, sessions)
