"""Parse fetched messages without stalling the event loop on a backlog.

Parsing is pure Python (a few milliseconds a message, more with HTML), so a
thread would not run it beside the event loop: the GIL serialises both.
A backlog (hundreds of messages after downtime, or a first sync) goes to
worker processes instead, in chunks, while the loop keeps serving agents and
writing the previous batch; a handful of messages (the usual IDLE wake-up) is
parsed inline, which is faster than a round trip to a worker.

Workers are started with ``spawn`` (never ``fork``: the parent holds database
connections and a running loop), die with the server even when it is
killed, and a broken pool falls back to parsing inline, so parsing never
stops ingestion.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from channels.email.model import ParsedEmail
from channels.email.parse import parse_message

log = logging.getLogger(__name__)

DEFAULT_INLINE_BELOW = 16
_CHUNK = 25


def parse_safely(raw: bytes, max_attachment_bytes: int) -> ParsedEmail:
    """``parse_message``, and a malformed result if it breaks its never-raise contract anyway."""
    try:
        return parse_message(raw, max_attachment_bytes=max_attachment_bytes)
    except Exception as exc:  # a parser bug must cost one message its fields, not stop the mailbox
        log.exception("email parser raised; message kept raw for review")
        return ParsedEmail(malformed=True, problems=[f"parser failed: {type(exc).__name__}: {str(exc)[:200]}"])


def _parse_chunk(raws: list[bytes], max_attachment_bytes: int) -> list[ParsedEmail]:
    return [parse_safely(raw, max_attachment_bytes) for raw in raws]


def _follow_parent(parent_pid: int) -> None:
    """Worker initializer: die with the server.

    A worker blocks reading its task queue, and holds both ends of that pipe,
    so it would outlive a server killed with SIGKILL (or by the OOM killer)
    forever, holding memory and the server's stderr. On Linux the kernel kills
    it with its parent (``PR_SET_PDEATHSIG``); elsewhere a thread notices the
    parent is gone within a second.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:  # already orphaned before the line above took effect
        os._exit(0)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class ParserPool:
    """Parses inline below ``inline_below`` messages, else in up to ``workers`` processes (0 = always inline)."""

    def __init__(self, workers: int = 1, *, inline_below: int = DEFAULT_INLINE_BELOW) -> None:
        if workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        self.workers = workers
        self.inline_below = inline_below
        self._pool: ProcessPoolExecutor | None = None

    async def parse(self, raws: list[bytes], max_attachment_bytes: int) -> list[ParsedEmail]:
        if self.workers == 0 or len(raws) < self.inline_below:
            return _parse_chunk(raws, max_attachment_bytes)
        loop = asyncio.get_running_loop()
        pool = self._ensure_pool()
        chunks = [raws[i : i + _CHUNK] for i in range(0, len(raws), _CHUNK)]
        try:
            results: list[Any] = await asyncio.gather(
                *(loop.run_in_executor(pool, _parse_chunk, chunk, max_attachment_bytes) for chunk in chunks))
        except (BrokenProcessPool, OSError, RuntimeError) as exc:
            log.warning("email parser workers failed (%s); parsing inline", exc)
            self.close()
            return _parse_chunk(raws, max_attachment_bytes)
        return [parsed for chunk in results for parsed in chunk]

    def warm(self) -> None:
        """Start the worker processes now (they take a few hundred ms to import), not at the first backlog."""
        if self.workers:
            self._ensure_pool().submit(_parse_chunk, [], 0)

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_follow_parent, initargs=(os.getpid(),))
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
