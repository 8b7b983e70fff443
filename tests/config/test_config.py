"""The configuration layer: shipped files load, and every kind of mistake is reported with file, line and key."""

from __future__ import annotations

import pickle
import typing
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from contactcenter.config import (
    DEFAULT_CONFIG_PATH,
    ConfigError,
    ConfigProblem,
    Settings,
    load_config,
    parse_config,
    parse_duration,
    to_routing_config,
    validate_settings,
)
from contactcenter.model import Channel

HERE = Path(__file__).parent
REPO = HERE.parents[1]
EXAMPLE_ENV = {
    "IMAP_PASSWORD": "imap-secret",
    "SMTP_PASSWORD": "smtp-secret",
    "TWILIO_ACCOUNT_SID": "AC123",
    "TWILIO_AUTH_TOKEN": "token",
    "SMS_WEBHOOK_SECRET": "hmac",
    "SIP_GATEWAY_PASSWORD": "sip-secret",
    "SIP_EVENTS_SECRET": "events",
}
MINIMAL = """\
skills:
  sales: {}
queues:
  sales:
    channels: [chat, email, sms, voice]
    skills: {sales: 1}
"""


def problems_of(text: str, env: dict[str, str] | None = None) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="t.yaml", env=env or {})
    return caught.value.problems


def only_problem(text: str, env: dict[str, str] | None = None) -> ConfigProblem:
    problems = problems_of(text, env)
    assert len(problems) == 1, [str(problem) for problem in problems]
    return problems[0]


# --------------------------------------------------------------------------- shipped files


def test_default_config_loads_without_any_environment() -> None:
    """`make run` must work on a fresh machine: no secrets, no outside servers."""
    settings = load_config(env={})
    assert settings.source_file == DEFAULT_CONFIG_PATH
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8080)
    assert settings.database.url is None
    assert set(settings.tiers) == {"silver", "gold", "platinum", "diamond"}
    assert {"sales", "support"} <= set(settings.queues)
    assert not settings.channels.email.mailboxes
    assert not settings.channels.sms.gateways
    assert settings.channels.voice.sip is None
    (widget,) = settings.channels.webchat.widgets
    assert widget.name == "demo"
    assert widget.allowed_origins == ("http://127.0.0.1:8080", "http://localhost:8080")


def test_default_config_takes_database_url_from_environment() -> None:
    settings = load_config(env={"DATABASE_URL": "postgresql://cc:pw@db:5432/cc"})
    assert settings.database.url == "postgresql://cc:pw@db:5432/cc"


def test_bad_database_url_from_environment_says_where_it_came_from() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(env={"DATABASE_URL": "mysql://secret@db/cc"})
    (problem,) = caught.value.problems
    assert problem.key_path == "database.url"
    assert "$DATABASE_URL" in problem.message
    assert "secret" not in str(problem)


def test_example_config_loads_with_its_secrets_set() -> None:
    settings = load_config(REPO / "config" / "example.yaml", env=EXAMPLE_ENV)
    (mailbox,) = settings.channels.email.mailboxes
    assert mailbox.imap.password == "imap-secret"
    assert settings.channels.sms.gateways[0].auth_token == "token"
    assert settings.channels.sms.gateways[1].numbers[0].number == "+8613900139000"
    assert settings.channels.voice.sip is not None
    assert settings.channels.voice.sip.numbers[0].number == "+864008001234"
    assert settings.server.port == 8080  # "${CC_PORT:-8080}" arrives as text and is read as a number
    assert settings.queues["sales"].escalation[1].after == 180.0


def test_example_config_names_every_missing_secret_with_its_line() -> None:
    path = REPO / "config" / "example.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    missing = {problem.message.split()[2] for problem in caught.value.problems}
    assert missing == set(EXAMPLE_ENV)
    lines = path.read_text(encoding="utf-8").splitlines()
    for problem in caught.value.problems:
        assert problem.file == "config/example.yaml" or problem.file.endswith("example.yaml")
        assert problem.line is not None
        assert "${" + problem.message.split()[2] + "}" in lines[problem.line - 1]


# --------------------------------------------------------------------------- problems, lines, key paths


def test_three_mistakes_give_exactly_three_problems_with_lines_and_paths() -> None:
    path = HERE / "three_problems.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    problems = caught.value.problems
    assert [(p.line, p.key_path) for p in problems] == [
        (4, "server.prot"),
        (14, "queues.sales.skills.spanish"),
        (15, "queues.sales.priority"),
    ]
    assert all(p.file.endswith("tests/config/three_problems.yaml") for p in problems)
    assert "did you mean 'port'?" in problems[0].message
    assert problems[1].message == "unknown skill 'spanish' (known: sales, billing)"
    assert problems[2].message == "expected a number (got 'high')"


def test_problem_and_error_render_as_the_lines_config_check_prints() -> None:
    problem = ConfigProblem("config/x.yaml", 12, "queues.sales.skills.spanish", "unknown skill 'spanish'")
    assert str(problem) == "config/x.yaml:12: queues.sales.skills.spanish: unknown skill 'spanish'"
    assert str(ConfigProblem("x.yaml", None, "", "cannot read")) == "x.yaml: cannot read"
    error = ConfigError([problem, ConfigProblem("config/x.yaml", 3, "server.port", "bad")])
    assert str(error) == f"{problem}\nconfig/x.yaml:3: server.port: bad"
    assert pickle.loads(pickle.dumps(error)).problems == error.problems


def test_every_missing_key_of_a_mailbox_is_reported() -> None:
    problems = problems_of(MINIMAL + "channels:\n  email:\n    mailboxes:\n      - name: box\n")
    paths = {p.key_path for p in problems}
    prefix = "channels.email.mailboxes[0]."
    assert paths == {prefix + key for key in ("queue", "address", "imap", "smtp")}
    assert {p.line for p in problems} == {10}
    assert {p.message for p in problems} == {"missing required key"}


def test_unknown_key_in_a_gateway_lists_that_gateway_types_keys() -> None:
    problem = only_problem(
        MINIMAL
        + """\
channels:
  sms:
    gateways:
      - name: gw
        type: webhook
        secret: s
        send_url: https://sms.example/send
        account_sid: AC1
        numbers: [{number: "+8613800138000", queue: sales}]
"""
    )
    assert (problem.line, problem.key_path) == (14, "channels.sms.gateways[0].account_sid")
    assert "allowed: name, type, secret, send_url, numbers, help_text" in problem.message


def test_gateway_without_type_is_told_to_add_one() -> None:
    text = MINIMAL + "channels:\n  sms:\n    gateways:\n      - name: gw\n"
    problem = only_problem(text)
    assert (problem.key_path, problem.message) == ("channels.sms.gateways[0].type", "missing required key 'type'")


@pytest.mark.parametrize(
    ("snippet", "path", "message"),
    [
        ("server: {port: 70000}", "server.port", "must be less than or equal to 65535"),
        ("server: {timezone: Mars/Base}", "server.timezone", "unknown time zone 'Mars/Base'"),
        ("server: {default_phone_region: XX}", "server.default_phone_region", "unknown phone region 'XX'"),
        ("server: {language: fr}", "server.language", "must be 'en' or 'zh-CN'"),
        ("server: {session_ttl: 0}", "server.session_ttl", "greater than 0"),
        ("server: {session_ttl: 5 min}", "server.session_ttl", "invalid duration '5 min'"),
        ("database: {pool_min_size: 20}", "database.pool_min_size", "above pool_max_size (10)"),
        ("routing: {capacity: {voice: 2}}", "routing.capacity.voice", "less than or equal to 1"),
        ("tiers: {Gold: {weight: 1}}", "tiers.Gold", "invalid name 'Gold'"),
        ("alerts: {webhook_url: ftp://x}", "alerts.webhook_url", "http:// or https://"),
    ],
)
def test_out_of_range_and_malformed_values_name_their_key(snippet: str, path: str, message: str) -> None:
    problem = only_problem(MINIMAL + snippet + "\n")
    assert problem.key_path == path
    assert message in problem.message
    assert problem.line == 7


def test_queue_rules() -> None:
    text = """\
skills: {sales: {}}
queues:
  sales:
    channels: [chat, chat]
    level: 3
    skills: {sales: 11}
    strategy: fastest
    max_wait: 5m
    no_agent_action: voicemail
    escalation:
      - after: 2m
        overflow: [sales, nowhere]
      - after: 1m
      - after: 10m
        skills: {sales: 1}
"""
    found = {(p.line, p.key_path): p.message for p in problems_of(text)}
    assert set(found) == {
        (4, "queues.sales.channels[1]"),
        (5, "queues.sales.level"),
        (6, "queues.sales.skills.sales"),
        (7, "queues.sales.strategy"),
        (12, "queues.sales.escalation[0].overflow[0]"),
        (12, "queues.sales.escalation[0].overflow[1]"),
    }
    assert found[(12, "queues.sales.escalation[0].overflow[0]")] == "a queue cannot overflow into itself"
    assert found[(12, "queues.sales.escalation[0].overflow[1]")] == "unknown queue 'nowhere' (known: sales)"


def test_queue_rules_that_need_valid_fields() -> None:
    text = """\
queues:
  sales:
    channels: [chat]
    max_wait: 5m
    no_agent_action: voicemail
    escalation:
      - after: 2m
        overflow: [support]
      - after: 1m
        skills: {}
      - after: 10m
        skills: {}
  support:
    channels: [chat]
"""
    found = {(p.line, p.key_path): p.message for p in problems_of(text)}
    assert found == {
        (5, "queues.sales.no_agent_action"): "'voicemail' needs 'voice' in the queue's channels",
        (9, "queues.sales.escalation[1].after"): "escalation steps must come in increasing 'after' order",
        (11, "queues.sales.escalation[2].after"): "never reached: max_wait is 5m",
    }


def test_channels_must_feed_existing_queues_that_take_their_channel() -> None:
    text = """\
queues:
  sales: {channels: [chat, sms]}
channels:
  email:
    mailboxes:
      - name: box
        queue: sales
        address: box@shop.example
        imap: {host: imap.example, user: u, password: p}
        smtp: {host: smtp.example}
  sms:
    gateways:
      - name: gw
        type: twilio
        account_sid: AC1
        auth_token: t
        numbers: [{number: "+8613800138000", queue: support}]
  voice:
    sip:
      numbers: [{number: "4008001234", queue: sales}]
  webchat:
    widgets:
      - name: shop
        allowed_origins: [https://shop.example]
        queue: sales
        topics: {售后: support}
"""
    found = {(p.line, p.key_path): p.message for p in problems_of(text)}
    assert found == {
        (7, "channels.email.mailboxes[0].queue"): "queue 'sales' does not take email (its channels: chat, sms)",
        (17, "channels.sms.gateways[0].numbers[0].queue"): "unknown queue 'support' (known: sales)",
        (20, "channels.voice.sip.numbers[0].queue"): "queue 'sales' does not take voice (its channels: chat, sms)",
        (26, "channels.webchat.widgets[0].topics.售后"): "unknown queue 'support' (known: sales)",
    }


CALLBACK_QUEUES = """\
queues:
  hotline:
    channels: [voice]
    max_wait: 5m
    no_agent_action: {action}
    callback_queue: {target}
  callbacks:
    channels: [voice]
  webchat:
    channels: [chat]
  overflow:
    channels: [voice]
    max_wait: 1h
    no_agent_action: callback
"""


def load_callback_queues(tmp_path: Path, target: str, action: str = "callback") -> Settings:
    path = tmp_path / "callbacks.yaml"
    path.write_text(CALLBACK_QUEUES.format(action=action, target=target), encoding="utf-8")
    return load_config(path, env={})


def test_callback_queue_names_a_voice_queue_that_holds_callbacks(tmp_path: Path) -> None:
    settings = load_callback_queues(tmp_path, "callbacks")
    assert settings.queues["hotline"].callback_queue == "callbacks"
    # without the key, callbacks stay in the queue, max_wait or not: accepted as before, and documented
    assert settings.queues["overflow"].callback_queue is None
    assert settings.queues["overflow"].max_wait == 3600.0
    assert load_callback_queues(tmp_path, "null").queues["hotline"].callback_queue is None


@pytest.mark.parametrize(
    ("target", "action", "message"),
    [
        ("nowhere", "callback", "unknown queue 'nowhere' (known: hotline, callbacks, webchat, overflow)"),
        ("webchat", "callback",
         "queue 'webchat' does not take voice (its channels: chat), and a callback is a voice interaction"),
        ("overflow", "callback",
         "queue 'overflow' has no_agent_action: callback itself: a callback nobody takes there would ask for a "
         "callback of the callback; give that queue no no_agent_action (callbacks keep waiting)"),
        ("hotline", "callback",
         "a queue cannot be its own callback_queue: name a separate queue, or leave the key out to keep "
         "callbacks in this queue"),
        ("callbacks", "voicemail",
         "has no effect: no_agent_action is 'voicemail', not 'callback' "
         "(remove callback_queue or set no_agent_action: callback)"),
        ("callbacks", "null",
         "has no effect: no_agent_action is null, not 'callback' "
         "(remove callback_queue or set no_agent_action: callback)"),
    ],
)
def test_callback_queue_refusals_name_file_line_and_key(tmp_path: Path, target: str, action: str,
                                                        message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_callback_queues(tmp_path, target, action)
    (problem,) = caught.value.problems
    assert problem.file.endswith("callbacks.yaml")
    assert (problem.line, problem.key_path, problem.message) == (6, "queues.hotline.callback_queue", message)
    assert str(problem) == f"{problem.file}:6: queues.hotline.callback_queue: {message}"


def test_names_and_numbers_must_be_unique() -> None:
    text = """\
queues:
  sales: {channels: [chat, sms]}
channels:
  sms:
    gateways:
      - {name: gw, type: webhook, secret: s, send_url: "https://a.example", numbers: [{number: "13800138000", queue: sales}]}
      - {name: gw, type: webhook, secret: s, send_url: "https://a.example", numbers: [{number: "+8613800138000", queue: sales}]}
  webchat:
    widgets:
      - {name: w, allowed_origins: [https://a.example], queue: sales}
      - {name: w, allowed_origins: [https://a.example], queue: sales}
"""  # noqa: E501
    found = {(p.line, p.key_path): p.message for p in problems_of(text)}
    assert found == {
        (7, "channels.sms.gateways[1].name"): "duplicate name 'gw' (already used by gateways[0])",
        (7, "channels.sms.gateways[1].numbers[0].number"): (
            "duplicate number +8613800138000 (already configured at channels.sms.gateways[0].numbers[0])"
        ),
        (11, "channels.webchat.widgets[1].name"): "duplicate name 'w' (already used by widgets[0])",
    }


def test_ports_other_than_server_and_sip_may_not_be_zero() -> None:
    base = MINIMAL + "server: {port: 0}\nchannels:\n  voice:\n    sip: {port: 0}\n"
    settings = parse_config(base, env={})
    assert settings.server.port == 0
    assert settings.channels.voice.sip is not None and settings.channels.voice.sip.port == 0
    text = (
        MINIMAL
        + """\
channels:
  email:
    mailboxes:
      - {name: b, queue: sales, address: b@x.example, imap: {host: h, port: 0, user: u, password: p}, smtp: {host: h}}
"""
    )
    problem = only_problem(text)
    assert problem.key_path == "channels.email.mailboxes[0].imap.port"


# --------------------------------------------------------------------------- YAML-level mistakes


def test_duplicate_key_is_an_error_with_both_lines() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(HERE / "duplicate_key.yaml", env={})
    (problem,) = caught.value.problems
    assert (problem.line, problem.key_path) == (8, "queues.sales")
    assert problem.message == "duplicate key 'sales' (first defined on line 4)"


def test_yaml_syntax_error_is_one_problem_with_its_line() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(HERE / "syntax_error.yaml", env={})
    (problem,) = caught.value.problems
    assert problem.line == 4
    assert problem.key_path == ""
    assert problem.message.startswith("invalid YAML: ")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("server: {}\nqueues: '\x01'\n", 2, "character 0x0001 is not allowed"),
        ("server: {}\n---\nqueues: {}\n", 2, "expected a single document"),
        ("server:\n\thost: x\n", 2, "invalid YAML"),
    ],
)
def test_unreadable_yaml_is_one_problem_with_a_line(text: str, line: int, message: str) -> None:
    problem = only_problem(text)
    assert problem.line == line
    assert message in problem.message


def test_unreadable_empty_and_non_mapping_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the configuration file"):
        load_config(tmp_path / "nope.yaml", env={})
    (tmp_path / "empty.yaml").write_text("# nothing yet\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="the configuration file is empty"):
        load_config(tmp_path / "empty.yaml", env={})
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        parse_config("- a\n- b\n", env={})


def test_yaml_11_surprises_are_not_applied() -> None:
    """``NO`` is Norway, not false; ``09:30`` is not 570; ``010`` is not 8; keys are the text as written."""
    text = """\
server: {default_phone_region: NO, host: 010}
skills:
  no: {label: 09:30}
queues:
  sales: {channels: [chat], skills: {no: 1}}
"""
    settings = parse_config(text, env={})
    assert settings.server.default_phone_region == "NO"
    assert settings.server.host == "010"
    assert settings.skills["no"].label == "09:30"


def test_anchors_and_merge_keys_share_settings() -> None:
    text = (
        MINIMAL
        + """\
channels:
  email:
    mailboxes:
      - name: a
        queue: sales
        address: a@x.example
        imap: &imap {host: imap.example, user: u, password: p, poll_interval: 30s}
        smtp: &smtp {host: smtp.example}
      - name: b
        queue: sales
        address: b@x.example
        imap: {<<: *imap, user: b}
        smtp: *smtp
"""
    )
    first, second = parse_config(text, env={}).channels.email.mailboxes
    assert (second.imap.host, second.imap.user, second.imap.poll_interval) == ("imap.example", "b", 30.0)
    assert first.imap.user == "u"
    assert second.smtp == first.smtp
    problems = problems_of(text.replace("poll_interval: 30s", "poll_interval: 30s, pol: 1"))
    assert [(p.line, p.key_path) for p in problems] == [  # both mailboxes have it, written on the anchor's line
        (13, "channels.email.mailboxes[0].imap.pol"),
        (13, "channels.email.mailboxes[1].imap.pol"),
    ]


def test_custom_tags_are_rejected() -> None:
    problem = only_problem(MINIMAL + "server: {host: !!python/name:os.system x}\n")
    assert problem.key_path == "server.host"
    assert "cannot read value" in problem.message


# --------------------------------------------------------------------------- environment interpolation


@pytest.mark.parametrize(
    ("value", "env", "expected"),
    [
        ("${HOST}", {"HOST": "10.0.0.1"}, "10.0.0.1"),
        ("${HOST:-0.0.0.0}", {}, "0.0.0.0"),
        ("${HOST:-0.0.0.0}", {"HOST": ""}, "0.0.0.0"),
        ("${HOST:-0.0.0.0}", {"HOST": "h"}, "h"),
        ("db-${HOST}.internal", {"HOST": "3"}, "db-3.internal"),
        ("$${HOST}", {"HOST": "x"}, "${HOST}"),
        ("pa$$word", {}, "pa$$word"),
    ],
)
def test_env_interpolation(value: str, env: dict[str, str], expected: str) -> None:
    settings = parse_config(MINIMAL + f"server:\n  host: '{value}'\n", env=env)
    assert settings.server.host == expected


def test_missing_env_variable_is_an_error_with_line_and_key() -> None:
    problem = only_problem(MINIMAL + "server:\n  port: 8080\n  host: ${CC_HOST}\n")
    assert (problem.file, problem.line, problem.key_path) == ("t.yaml", 9, "server.host")
    assert "environment variable CC_HOST is not set" in problem.message


def test_malformed_reference_is_an_error() -> None:
    problem = only_problem(MINIMAL + "server: {host: '${1X}'}\n")
    assert problem.key_path == "server.host"
    assert "malformed" in problem.message


def test_env_values_are_read_as_numbers_and_durations_where_the_key_wants_them() -> None:
    text = MINIMAL + "server: {port: '${PORT}', session_ttl: '${TTL}'}\n"
    settings = parse_config(text, env={"PORT": "9000", "TTL": "90m"})
    assert (settings.server.port, settings.server.session_ttl) == (9000, 5400.0)
    problem = only_problem(text, env={"PORT": "nine", "TTL": "1h"})
    # the value of an environment variable may be a secret: the message shows the reference instead
    assert (problem.key_path, problem.message) == (
        "server.port", "expected a whole number (got '${PORT}') (the value from the environment is not shown)"
    )


# --------------------------------------------------------------------------- service-level target

def sl_queue(written: str) -> str:
    """MINIMAL with ``service_level_target: written`` on line 7, under ``queues.sales``."""
    return MINIMAL + f"    service_level_target: {written}\n"


@pytest.mark.parametrize(
    ("written", "fraction"),
    [("95%", 0.95), ("80%", 0.8), ("100%", 1.0), ("0.95", 0.95), ("1", 1.0), ("'0.9'", 0.9), ("12.5%", 0.125)],
)
def test_service_level_target_reads_percentages_and_fractions(written: str, fraction: float) -> None:
    settings = parse_config(sl_queue(written), source="t.yaml", env={})
    assert settings.queues["sales"].service_level_target == fraction


def test_service_level_target_defaults_to_80_percent_and_comes_from_env() -> None:
    assert parse_config(MINIMAL, env={}).queues["sales"].service_level_target == 0.8
    from_env = parse_config(sl_queue("'${SL_GOAL:-90%}'"), env={"SL_GOAL": "97.5%"})
    assert from_env.queues["sales"].service_level_target == 0.975
    example = load_config(REPO / "config" / "example.yaml", env=EXAMPLE_ENV).queues
    targets = {name: queue.service_level_target for name, queue in example.items()}
    assert targets == {"sales": 0.8, "support": 0.8, "billing": 0.9, "vip": 0.95, "callbacks": 0.8}


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("150%", "must be above 0% and at most 100% (got '150%')"),
        ("0", "must be above 0% and at most 100% (got 0)"),
        ("0%", "must be above 0% and at most 100% (got '0%')"),
        ("-0.5", "must be above 0% and at most 100% (got -0.5)"),
        ("80", "80 is above 1: a fraction must be at most 1 (0.8 means 80%); to mean 80 percent write 80%"),
        ("high", "invalid percentage 'high'"),
        ("true", "expected a percentage (got True)"),
    ],
)
def test_service_level_target_out_of_range_names_file_line_and_key(tmp_path: Path, written: str,
                                                                   message: str) -> None:
    path = tmp_path / "queues.yaml"
    path.write_text(sl_queue(written), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    (problem,) = caught.value.problems
    assert problem.file.endswith("queues.yaml")
    assert (problem.line, problem.key_path) == (7, "queues.sales.service_level_target")
    assert message in problem.message
    assert str(problem).startswith(f"{problem.file}:7: queues.sales.service_level_target: ")


# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (30, 30.0),
        (1.5, 1.5),
        ("30", 30.0),
        ("30s", 30.0),
        ("5m", 300.0),
        ("4h", 14400.0),
        ("1d", 86400.0),
        ("1h30m", 5400.0),
        ("250ms", 0.25),
        (" 2m ", 120.0),
        ("0.5h", 1800.0),
    ],
)
def test_durations_parse_to_seconds(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["", "5 min", "m", "1y", "1h-30m", True, None, [1], float("nan")])
def test_invalid_durations_are_rejected(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


def test_negative_duration_is_reported_against_the_key() -> None:
    problem = only_problem(MINIMAL + "routing:\n  wrapup: {chat: -5s}\n")
    assert (problem.line, problem.key_path) == (8, "routing.wrapup.chat")


# --------------------------------------------------------------------------- text and phone numbers


def test_chinese_labels_round_trip(tmp_path: Path) -> None:
    settings = load_config(HERE / "chinese_labels.yaml", env={})
    assert settings.tiers["gold"].label == "黄金会员"
    assert settings.queues["sales"].label == "售前咨询（全天）"
    assert settings.console.canned_responses[0].text == "您好，很高兴为您服务！😀"
    widget = settings.channels.webchat.widgets[0]
    assert widget.topics == {"售前问题": "sales"}
    assert widget.allowed_origins == ("https://xn--czrs0t.example",)  # what browsers send for 商店.example
    dumped = yaml.safe_dump(settings.model_dump(mode="json"), allow_unicode=True)
    assert "售前咨询（全天）" in dumped
    assert parse_config(dumped, env={}).model_dump() == settings.model_dump()
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbf" + (HERE / "chinese_labels.yaml").read_bytes())
    assert load_config(bom, env={}).skills["sales"].label == "售前"


def test_non_utf8_file_is_rejected_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "gbk.yaml"
    path.write_bytes(MINIMAL.encode() + "server: {host: 售前}\n".encode("gbk"))
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    (problem,) = caught.value.problems
    assert problem.line == 7
    assert "UTF-8" in problem.message


@pytest.mark.parametrize(
    ("written", "region", "stored"),
    [
        ("+8613800138000", "CN", "+8613800138000"),
        ("13800138000", "CN", "+8613800138000"),
        ("138 0013 8000", "CN", "+8613800138000"),
        ("+1 415-555-0123", "CN", "+14155550123"),
        ("(415) 555-0123", "US", "+14155550123"),
    ],
)
def test_sms_numbers_are_stored_in_e164(written: str, region: str, stored: str) -> None:
    text = (
        MINIMAL
        + f"""\
server: {{default_phone_region: {region}}}
channels:
  sms:
    gateways:
      - name: gw
        type: webhook
        secret: s
        send_url: https://a.example
        numbers: [{{number: "{written}", queue: sales}}]
"""
    )
    settings = parse_config(text, env={})
    assert settings.channels.sms.gateways[0].numbers[0].number == stored


@pytest.mark.parametrize(
    ("written", "message"),
    [('"12345"', "'12345' is not a valid phone number"), ("8613800138000", "must be quoted strings")],
)
def test_invalid_or_unquoted_numbers_are_errors(written: str, message: str) -> None:
    text = (
        MINIMAL
        + f"""\
channels:
  sms:
    gateways:
      - name: gw
        type: webhook
        secret: s
        send_url: https://a.example
        numbers:
          - number: {written}
            queue: sales
"""
    )
    problem = only_problem(text)
    assert (problem.line, problem.key_path) == (15, "channels.sms.gateways[0].numbers[0].number")
    assert message in problem.message


# --------------------------------------------------------------------------- other helpers


def test_validate_settings_runs_the_cross_checks_too() -> None:
    with pytest.raises(ConfigError) as caught:
        validate_settings({"queues": {"sales": {"channels": ["chat"], "skills": {"x": 1}}}})
    (problem,) = caught.value.problems
    assert str(problem) == "<data>: queues.sales.skills.x: unknown skill 'x' (no skills are defined)"


def test_business_hours() -> None:
    settings = load_config(REPO / "config" / "example.yaml", env=EXAMPLE_ENV)
    hours = settings.channels.webchat.widgets[0].business_hours
    assert hours is not None
    friday_lunch = datetime(2024, 5, 3, 4, 30, tzinfo=UTC)  # 12:30 in Shanghai
    friday_afternoon = datetime(2024, 5, 3, 6, 0, tzinfo=UTC)  # 14:00 in Shanghai
    sunday = datetime(2024, 5, 5, 6, 0, tzinfo=UTC)
    assert not hours.is_open(friday_lunch, default_timezone="UTC")
    assert hours.is_open(friday_afternoon, default_timezone="UTC")
    assert not hours.is_open(sunday, default_timezone="UTC")


# --------------------------------------------------------------------------- routing bridge


def test_routing_bridge_maps_every_field() -> None:
    import routing

    settings = load_config(REPO / "config" / "example.yaml", env=EXAMPLE_ENV)
    config = to_routing_config(settings)
    assert isinstance(config, routing.RoutingConfig)
    assert config.tier_weights == {"standard": 0.0, "silver": 10.0, "gold": 20.0, "platinum": 30.0, "diamond": 40.0}
    assert config.offer_timeout_s[routing.Channel.EMAIL] == 120.0
    assert config.wrapup_s[routing.Channel.CHAT] == 15.0
    capacity = {Channel(channel.value): n for channel, n in config.default_capacity.items()}
    assert capacity == {Channel.VOICE: 1, Channel.CHAT: 3, Channel.SMS: 3, Channel.EMAIL: 5}
    assert (config.voice_exclusive, config.max_missed_offers, config.reject_cooldown_s) == (True, 3, 10.0)
    sales = config.queues["sales"]
    assert sales.name == "sales"
    assert sales.channels == frozenset(routing.Channel)
    assert sales.skills == {"sales": 5}
    assert sales.strategy == routing.Strategy.LONGEST_IDLE
    assert (sales.service_level_s, sales.max_wait_s, sales.sticky_wait_s) == (30.0, 600.0, 30.0)
    assert sales.no_agent_action == "callback"
    assert [(s.after_s, s.skills, s.overflow) for s in sales.escalation] == [
        (60.0, {"sales": 3}, ()),
        (180.0, {"sales": 1}, ("support",)),
    ]
    assert config.queues["billing"].max_wait_s is None
    assert config.queues["vip"].escalation[0].skills is None
    default = to_routing_config(load_config(env={}))
    assert set(default.queues) == set(load_config(env={}).queues)


# --------------------------------------------------------------------------- documentation


def _all_keys(model: type[BaseModel], seen: set[type[BaseModel]] | None = None) -> set[str]:
    seen = set() if seen is None else seen
    if model in seen:
        return set()
    seen.add(model)
    keys = set(model.model_fields)
    for field in model.model_fields.values():
        for inner in _models_in(field.annotation):
            keys |= _all_keys(inner, seen)
    return keys


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def test_every_key_is_documented() -> None:
    doc = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
    undocumented = sorted(key for key in _all_keys(Settings) if f"`{key}`" not in doc)
    assert not undocumented


def test_documented_callback_queue_example_loads() -> None:
    """The `callbacks` queue example in docs/config.md is what people copy: it must be valid as written."""
    doc = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
    example = doc.split("**Callbacks.**", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    settings = parse_config("skills: {sales: {}}\n" + example, env={})
    assert settings.queues["hotline"].callback_queue == "callbacks"
    assert settings.queues["callbacks"].max_wait is None


def test_documented_example_is_the_example_file() -> None:
    doc = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
    example = (REPO / "config" / "example.yaml").read_text(encoding="utf-8")
    assert doc.rstrip().endswith("```yaml\n" + example + "```")
