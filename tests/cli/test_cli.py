"""The command line as IT uses it: config check, agent add/list, and serve on a fresh machine."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import aiohttp
import asyncpg

from contactcenter.config import load_config
from tests.server_process import ServerProcess

REPO = Path(__file__).parents[2]


def run_cli(*args: str, stdin: str = "", env: dict[str, str] | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "contactcenter", *args], input=stdin, capture_output=True, text=True,
        env={**os.environ, **(env or {})}, cwd=cwd or REPO, timeout=120, check=False,
    )


def test_config_check_reports_each_problem_with_file_line_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "server:\n"
        "  port: 8080\n"
        "  colour: blue\n"              # line 3: unknown key
        "skills:\n"
        "  sales: {}\n"
        "queues:\n"
        "  sales:\n"
        "    channels: [chat]\n"
        "    skills: {spanish: 3}\n"    # line 9: unknown skill
        "    service_level: soon\n",    # line 10: wrong type
        encoding="utf-8",
    )
    result = run_cli("config", "check", str(bad))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3, lines
    joined = "\n".join(lines)
    assert f"{bad}:3: server.colour" in joined
    assert f"{bad}:9: queues.sales.skills.spanish" in joined
    assert f"{bad}:10: queues.sales.service_level" in joined


def test_config_check_accepts_the_shipped_configs() -> None:
    for name in ("contactcenter.yaml", "example.yaml"):
        path = REPO / "config" / name
        secrets = {var: "secret" for var in re.findall(r"\$\{([A-Z0-9_]+)\}", path.read_text(encoding="utf-8"))}
        result = run_cli("config", "check", str(path), env=secrets)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("ok:")


def test_default_config_serves_on_loopback_8080() -> None:
    settings = load_config()
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8080)
    assert settings.database.url is None  # embedded by default


def test_agent_add_and_list(db_url: str) -> None:
    env = {"DATABASE_URL": db_url}
    config = str(REPO / "tests" / "fixtures" / "test.yaml")
    added = run_cli("agent", "add", "--config", config, "--login", "mei", "--name", "韩梅梅", "--role", "supervisor",
                    "--skills", "sales:7,billing:3", "--password-stdin", stdin="s3cret-pass\n", env=env)
    assert added.returncode == 0, added.stderr
    assert "created supervisor mei" in added.stdout
    again = run_cli("agent", "add", "--config", config, "--login", "mei", "--name", "x", "--password-stdin",
                    stdin="other-pass\n", env=env)
    assert again.returncode == 1 and "already exists" in again.stderr
    unknown = run_cli("agent", "add", "--config", config, "--login", "z", "--name", "z", "--skills", "cooking:3",
                      "--password-stdin", stdin="other-pass\n", env=env)
    assert unknown.returncode == 2 and "unknown skill 'cooking'" in unknown.stderr
    listed = run_cli("agent", "list", "--config", config, env=env)
    assert listed.returncode == 0, listed.stderr
    line = next(x for x in listed.stdout.splitlines() if x.startswith("mei "))
    assert "supervisor" in line and "韩梅梅" in line and "billing:3,sales:7" in line


async def test_first_start_on_the_embedded_database(tmp_path: Path) -> None:
    """A fresh machine: no database URL, so an embedded PostgreSQL starts; admin is created; healthz answers."""
    config = tmp_path / "cc.yaml"
    config.write_text((REPO / "config" / "contactcenter.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "run").mkdir()
    server = ServerProcess(config, None, cwd=tmp_path, extra_env={
        "CONTACTCENTER_ADMIN_PASSWORD": "first-admin-pass", "XDG_RUNTIME_DIR": str(tmp_path / "run")})
    await server.start(timeout=60)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(server.url + "/healthz") as response:
                assert response.status == 200
            async with session.get(server.url + "/readyz") as response:
                assert response.status == 200
            async with session.post(server.url + "/api/login",
                                    json={"login": "admin", "password": "first-admin-pass"}) as response:
                assert response.status == 200
        assert (tmp_path / "var" / "pgdata" / "PG_VERSION").exists()
        assert any("created account 'admin'" in line for line in server.log)
    finally:
        assert await server.terminate() == 0
    assert any("embedded PostgreSQL stopped" in line for line in server.log)


def test_agent_sip_password_stores_only_a_realm_bound_hash(db_url: str, tmp_path: Path) -> None:
    config = tmp_path / "voice.yaml"
    config.write_text(
        (REPO / "tests" / "fixtures" / "test.yaml").read_text(encoding="utf-8")
        + "channels:\n  voice:\n    sip:\n      host: 127.0.0.1\n      port: 0\n      realm: shop\n"
        + "      numbers: [{number: '+864008001234', queue: sales}]\n",
        encoding="utf-8",
    )
    env = {"DATABASE_URL": db_url}
    added = run_cli("agent", "add", "--config", str(config), "--login", "lei", "--name", "李雷", "--password-stdin",
                    stdin="web-pass\n", env=env)
    assert added.returncode == 0, added.stderr
    done = run_cli("agent", "sip-password", "--config", str(config), "--login", "lei", "--password-stdin",
                   stdin="phone-pass\n", env=env)
    assert done.returncode == 0, done.stderr
    assert "realm shop" in done.stdout
    row = asyncio.run(_fetch_sip_columns(db_url, "lei"))
    assert row["sip_ha1_md5"] == hashlib.md5(b"lei:shop:phone-pass").hexdigest()
    assert "phone-pass" not in str(dict(row))
    missing = run_cli("agent", "sip-password", "--config", str(config), "--login", "nobody", "--password-stdin",
                      stdin="phone-pass\n", env=env)
    assert missing.returncode == 2 and "no agent 'nobody'" in missing.stderr


async def _fetch_sip_columns(db_url: str, login: str) -> asyncpg.Record:
    conn = await asyncpg.connect(db_url)
    try:
        return await conn.fetchrow("SELECT sip_realm, sip_ha1_md5, sip_ha1_sha256 FROM agents WHERE login = $1", login)
    finally:
        await conn.close()


def test_the_server_runs_on_the_configured_event_loop() -> None:
    from contactcenter.cli import run_loop

    async def loop_module() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert run_loop(loop_module(), "uvloop").startswith("uvloop")
    assert run_loop(loop_module(), "asyncio").startswith("asyncio")
