"""The command line and start-up when something around the config is wrong: what IT sees, and what is left running."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from contactcenter import cli, runtime
from contactcenter import server as server_module
from contactcenter.config import Settings, load_config
from tests.cli.test_cli import REPO, run_cli

TEST_CONFIG = REPO / "tests" / "fixtures" / "test.yaml"


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_serve_on_a_port_in_use_prints_a_message_not_a_traceback(db_url: str, busy_port: int) -> None:
    result = run_cli("serve", "--config", str(TEST_CONFIG), "--port", str(busy_port), env={"DATABASE_URL": db_url})
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert str(busy_port) in result.stderr


@pytest.mark.parametrize("port", ["70000", "-1"])
def test_serve_port_override_is_validated_like_the_file(monkeypatch: pytest.MonkeyPatch, port: str) -> None:
    """``--port`` goes through ``model_copy(update=...)``, which skips validation (server.port is 0-65535).
    With uvloop (the default loop) ``--port 70000`` then silently listens on 70000 % 65536 = 4464; with
    ``-1`` serve crashes with a traceback after creating the admin account."""
    served: list[int] = []

    async def fake_serve(settings: Settings, **_: object) -> None:
        served.append(settings.server.port)

    monkeypatch.setattr(server_module, "serve", fake_serve)
    try:
        status = cli.run(["serve", "--config", str(TEST_CONFIG), "--port", port])
    except SystemExit as exc:  # argparse refusing the value is fine too
        status = exc.code
    assert status == 2 and not served, (status, served)


@pytest.mark.parametrize("password", ["p", "   "], ids=["one-letter", "blanks"])
def test_agent_add_does_not_take_a_weak_password_silently(db_url: str, password: str) -> None:
    result = run_cli("agent", "add", "--config", str(TEST_CONFIG), "--login", "lei", "--name", "李雷",
                     "--password-stdin", stdin=password + "\n", env={"DATABASE_URL": db_url})
    refused = result.returncode != 0 and "password" in (result.stdout + result.stderr).lower()
    warned = any(word in (result.stdout + result.stderr).lower() for word in ("weak", "short", "at least"))
    assert refused or warned, (result.returncode, result.stdout, result.stderr)


@pytest.mark.parametrize("password", ["p", "   ", " " * 12, "1234567"])
def test_check_password_refuses_weak_ones(password: str) -> None:
    with pytest.raises(cli.UsageError):
        cli.check_password(password)


def test_check_password_keeps_generated_ones_and_good_ones() -> None:
    generated = secrets.token_urlsafe(12)  # what agent add / sip-password generate without --password-stdin
    assert cli.check_password(generated) == generated
    assert cli.check_password("s3cret-pass") == "s3cret-pass"


def test_embedded_database_in_a_data_dir_with_a_space(tmp_path: Path) -> None:
    """``config check`` accepts ``data_dir: "客服 数据/pgdata"``; the embedded server then cannot start, because
    the wheel hands ``-k <socket dir>`` to postgres through pg_ctl's shell unquoted."""
    config = tmp_path / "cc.yaml"
    data_dir = tmp_path / "客服 数据" / "pgdata"
    text = TEST_CONFIG.read_text(encoding="utf-8") + f"database:\n  data_dir: '{data_dir}'\n"
    config.write_text(text, encoding="utf-8")
    assert load_config(config, env={}).database.data_dir == data_dir  # config check passes it
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["XDG_RUNTIME_DIR"] = str(tmp_path / "run")
    (tmp_path / "run").mkdir(mode=0o700)
    result = subprocess.run([sys.executable, "-m", "contactcenter", "migrate", "--config", str(config)],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False)
    try:
        assert result.returncode == 0, result.stderr[-2000:]
    finally:
        if (data_dir / "postmaster.pid").exists():
            from contactcenter.db.embedded import EmbeddedPostgres

            leftover = EmbeddedPostgres(data_dir)
            leftover.start()
            leftover.stop()


class _SlowEmbedded:
    """Stands in for EmbeddedPostgres: ``start`` blocks until released, like initdb + pg_ctl on a slow disk."""

    instances: ClassVar[list[_SlowEmbedded]] = []
    entered_any = threading.Event()

    def __init__(self, data_dir: object) -> None:
        self.data_dir = data_dir
        self.entered = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()
        self.stopped = False
        _SlowEmbedded.instances.append(self)

    def start(self) -> str:
        self.entered.set()
        _SlowEmbedded.entered_any.set()
        self.release.wait(30)
        self.finished.set()
        return "postgresql://postgres:@/postgres?host=/nonexistent"

    def stop(self) -> None:
        self.stopped = True


async def test_ctrl_c_during_embedded_start_stops_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C cancels the main task while ``embedded.start`` runs in a thread. The thread goes on and starts
    PostgreSQL, but ``open_database`` only stops it inside the ``try`` entered after start returned."""
    monkeypatch.setattr(runtime, "EmbeddedPostgres", _SlowEmbedded)
    settings = load_config(TEST_CONFIG, env={})
    assert settings.database.url is None

    async def start_up() -> None:
        async with runtime.open_database(settings):
            pass

    _SlowEmbedded.instances.clear()
    _SlowEmbedded.entered_any.clear()
    task = asyncio.create_task(start_up())
    assert await asyncio.to_thread(_SlowEmbedded.entered_any.wait, 30)
    (embedded,) = _SlowEmbedded.instances
    task.cancel()  # what asyncio.run does on SIGINT
    embedded.release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.to_thread(embedded.finished.wait, 30)
    assert embedded.stopped, "PostgreSQL started by a cancelled start-up is left running"



def test_an_unknown_host_is_named_in_one_line() -> None:
    error = server_module._listen_error("no-such-host.invalid", 8080, socket.gaierror(-2, "Name or service not known"))
    assert str(error) == ("cannot listen on no-such-host.invalid:8080: unknown host 'no-such-host.invalid' "
                          "(server.host or --host)")


def test_serve_host_override_must_not_be_blank() -> None:
    with pytest.raises(SystemExit) as exited:
        cli.run(["serve", "--config", str(TEST_CONFIG), "--host", " "])
    assert exited.value.code == 2
