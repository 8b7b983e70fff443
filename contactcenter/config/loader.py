"""Load ``contactcenter.yaml``: read, parse, interpolate, validate, cross-check; report every problem at once.

The stages and what each contributes:

1. read and decode (UTF-8, with or without BOM): an unreadable or non-UTF-8
   file is one problem;
2. ``yamldoc``: syntax errors (one problem with the line of the mark), plus
   duplicate keys, bad tags and unset ``${VAR}`` references, all collected;
3. pydantic validation of the whole document into ``Settings``: unknown keys,
   wrong types, out-of-range values, broken intra-section rules;
4. ``crosschecks``: references between sections.

Stages 3 and 4 both run even when the other fails, and everything found is
raised together as one ``ConfigError`` sorted by line.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import phonenumbers
from pydantic import ValidationError

from contactcenter.config.crosschecks import reference_problems
from contactcenter.config.fields import PHONE_REGION_CONTEXT
from contactcenter.config.problems import (
    ConfigError,
    ConfigProblem,
    KeyPath,
    format_key_path,
    line_for,
    problems_from_validation_error,
)
from contactcenter.config.schema import Settings
from contactcenter.config.yamldoc import FromEnvironment, YamlDocument, read_yaml

__all__ = ["DEFAULT_CONFIG_PATH", "load_config", "parse_config", "validate_settings"]

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parents[2] / "config" / "contactcenter.yaml"
"""The configuration a fresh checkout runs with (``make run``)."""

DATABASE_URL_ENV = "DATABASE_URL"


def load_config(path: str | Path | None = None, *, env: Mapping[str, str] | None = None) -> Settings:
    """Load and fully validate the configuration file, or raise ``ConfigError`` listing every problem.

    ``path`` None means ``DEFAULT_CONFIG_PATH``. ``env`` (default
    ``os.environ``) feeds ``${VAR}`` interpolation and ``DATABASE_URL``.
    """
    file_path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    shown = _display_name(file_path)
    try:
        raw = file_path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError([ConfigProblem(shown, None, "", f"cannot read the configuration file: {reason}")]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        message = "the file is not UTF-8 text: save it as UTF-8 (GBK and other encodings are not supported)"
        raise ConfigError([ConfigProblem(shown, line, "", message)]) from None
    environment = _environment(env)
    settings = _settle(read_yaml(text, environment), file=shown, env=environment)
    settings._source_file = file_path.resolve()
    return settings


def parse_config(text: str, *, source: str = "<string>", env: Mapping[str, str] | None = None) -> Settings:
    """Like ``load_config`` for YAML already in memory; ``source`` names it in problems (tests, tools)."""
    environment = _environment(env)
    return _settle(read_yaml(text, environment), file=source, env=environment)


def validate_settings(
    data: Mapping[str, Any], *, source: str = "<data>", env: Mapping[str, str] | None = None
) -> Settings:
    """Validate an already-parsed document (plain dicts and lists) with every check ``load_config`` runs.

    Prefer this to ``Settings.model_validate``: it also checks references
    between sections and reads phone numbers in ``server.default_phone_region``.
    No ``${VAR}`` interpolation happens here; problems carry no line numbers.
    """
    return _settle(YamlDocument(dict(data)), file=source, env=_environment(env))


def _environment(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def _settle(document: YamlDocument, *, file: str, env: Mapping[str, str]) -> Settings:
    """Run validation and cross-checks on a parsed document; return ``Settings`` or raise everything found."""
    reading = [ConfigProblem(file, issue.line, format_key_path(issue.path), issue.message) for issue in document.issues]
    data = document.data
    if not isinstance(data, dict):
        if not reading:
            message = (
                "the configuration file is empty"
                if data is None
                else "the top level must be a mapping of sections (server:, queues:, channels: ...)"
            )
            reading.append(ConfigProblem(file, document.lines.get(()), "", message))
        raise ConfigError(reading)

    data, injected = _with_database_url(data, env)
    checking: list[tuple[KeyPath, ConfigProblem]] = []
    settings: Settings | None = None
    try:
        settings = Settings.model_validate(data, context={PHONE_REGION_CONTEXT: _phone_region(data)})
    except ValidationError as exc:
        checking += problems_from_validation_error(exc, root_model=Settings, data=data, lines=document.lines, file=file)
    for path, message in reference_problems(data):
        checking.append((path, ConfigProblem(file, line_for(path, document.lines), format_key_path(path), message)))

    # A value replaced by a placeholder while reading (an unset ${VAR} became "") was already reported.
    lost = [issue.path for issue in document.issues if issue.value_lost]
    problems = reading + [
        _hide_environment(
            _mention_environment(problem) if injected and path == ("database", "url") else problem,
            document.environment.get(path),
            document.environment.values(),
        )
        for path, problem in checking
        if not any(path[: len(gone)] == gone for gone in lost)
    ]
    if problems or settings is None:
        problems.sort(key=lambda problem: (problem.line is None, problem.line or 0))
        raise ConfigError(problems)
    return settings


def _mention_environment(problem: ConfigProblem) -> ConfigProblem:
    """The file said null; tell the reader the bad URL came from the environment."""
    message = f"{problem.message} (from ${DATABASE_URL_ENV})"
    return ConfigProblem(problem.file, problem.line, problem.key_path, message)


def _hide_environment(
    problem: ConfigProblem, own: FromEnvironment | None, everything: Iterable[FromEnvironment]
) -> ConfigProblem:
    """Never repeat a value that came from ``${VAR}``; name a variable that was set but empty.

    Validators echo what they refuse (``unknown time zone 'x'``), which is
    helpful for text typed in the file but not for an environment value: that
    is where passwords and tokens live, and ``port: ${SMTP_PASSWORD}`` after a
    copy-paste must not print the password. So every such value is replaced by
    the reference as written in the file. ``own`` is the environment value of
    the problem's key, if any: when its variable was empty, the bare "must not
    be empty" would leave the reader guessing where the emptiness came from.
    """
    message = problem.message
    hidden = False
    for origin in everything:
        if not origin.value:
            continue
        for shown in {origin.value, origin.value.strip(), origin.value.strip().lower()}:
            if shown and repr(shown) in message:
                message = message.replace(repr(shown), repr(origin.written))
                hidden = True
            if len(shown) >= 4 and shown in message:  # echoed without quotes; short ones would garble text
                message = message.replace(shown, origin.written)
                hidden = True
    if hidden:
        message += " (the value from the environment is not shown)"
    if own is not None and own.empty:
        names = ", ".join(own.empty)
        message += f" (environment variable {names} {'is' if len(own.empty) == 1 else 'are'} set but empty)"
    if message == problem.message:
        return problem
    return ConfigProblem(problem.file, problem.line, problem.key_path, message)


def _with_database_url(data: dict[str, Any], env: Mapping[str, str]) -> tuple[dict[str, Any], bool]:
    """Fill ``database.url`` from ``$DATABASE_URL`` when the file leaves it null.

    Resolving it here means the rest of the server reads one value and never the environment.
    """
    from_env = env.get(DATABASE_URL_ENV)
    database = data.get("database")
    if not from_env or not (database is None or isinstance(database, dict)):
        return data, False
    if database is not None and database.get("url") is not None:
        return data, False
    return {**data, "database": {**(database or {}), "url": from_env}}, True


def _phone_region(data: dict[str, Any]) -> str | None:
    """The region national-format phone numbers are read in; None if the configured one is invalid.

    With None only ``+country`` numbers parse, so an invalid region produces
    errors on the numbers that needed it rather than numbers silently read in
    some other country.
    """
    server = data.get("server")
    region = server.get("default_phone_region", "CN") if isinstance(server, dict) else "CN"
    return region if isinstance(region, str) and region in phonenumbers.SUPPORTED_REGIONS else None


def _display_name(path: Path) -> str:
    """How the file is named in problems: relative to the working directory when it lies below it."""
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)
    return str(path)
