"""Run ``contactcenter serve`` as a real process, for kill-and-restart tests."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp

_LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


class ServerProcess:
    def __init__(self, config: Path, database_url: str | None, extra_env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        self.config = config
        self.env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        if database_url is not None:
            self.env["DATABASE_URL"] = database_url
        self.env.update(extra_env or {})
        self.cwd = cwd
        self.process: asyncio.subprocess.Process | None = None
        self.port = 0
        self.log: list[str] = []
        self._drain: asyncio.Task[None] | None = None

    async def start(self, timeout: float = 30) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "contactcenter", "serve", "--config", str(self.config), "--port", "0",
            env=self.env, cwd=self.cwd, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        assert self.process.stderr is not None
        async with asyncio.timeout(timeout):
            while True:
                line = (await self.process.stderr.readline()).decode(errors="replace")
                if not line:
                    raise RuntimeError("server exited:\n" + "".join(self.log))
                self.log.append(line)
                match = _LISTENING.search(line)
                if match:
                    self.port = int(match[1])
                    break
        self._drain = asyncio.create_task(self._read_rest())

    async def _read_rest(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        while line := await self.process.stderr.readline():
            self.log.append(line.decode(errors="replace"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        if self._drain is not None:
            await self._drain

    async def terminate(self, timeout: float = 20) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(timeout):
            code = await self.process.wait()
        if self._drain is not None:
            await self._drain
        return code


class HttpClient:
    """The slice of aiohttp's TestClient the test helpers use, against any base URL."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url
        self.session = session

    def ws_connect(self, path: str, **kwargs: Any) -> Any:
        return self.session.ws_connect(self.base_url + path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.session.post(self.base_url + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.session.get(self.base_url + path, **kwargs)
