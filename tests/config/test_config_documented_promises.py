"""Edge cases of the configuration loader: each test states what docs/config.md promises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contactcenter.config import ConfigError, parse_config
from tests.config.test_config import problems_of

QUEUE = "queues:\n  q:\n    channels: [chat, email, sms]\n"
SECRET = "hunter2-Secret-Value"



@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
def test_unicode_line_separator_inside_a_label_does_not_shift_later_lines(separator: str) -> None:
    """A U+2028 pasted into a quoted label (common when copying Chinese text from web pages or chat apps)
    is one character on one line in every editor; PyYAML counts it as a line break, so every later problem
    is reported one line too low."""
    text = (
        "skills:\n"
        f'  sales: {{label: "售前{separator}咨询"}}\n'  # line 2
        "queues:\n"
        "  q:\n"
        "    channels: [chat]\n"
        "    prot: 1\n"  # line 6 in the editor
    )
    (problem,) = problems_of(text)
    assert problem.key_path == "queues.q.prot"
    assert problem.line == 6, str(problem)


@pytest.mark.parametrize(
    ("section", "text"),
    [
        ("skills", "skills:\n#  sales: {label: 售前}\n" + QUEUE),
        ("tiers", "tiers:\n#  gold: {weight: 20}\n" + QUEUE),
        ("mailboxes", "channels:\n  email:\n    mailboxes:\n" + QUEUE),
        ("widgets", "channels:\n  webchat:\n    widgets:\n" + QUEUE),
    ],
)
def test_empty_section_means_defaults(section: str, text: str) -> None:
    """docs/config.md: 'A section key with nothing under it (email:) means "all defaults".'
    Commenting out every skill, tier, mailbox or widget leaves such a key, and the file is refused."""
    parse_config(text, source="t.yaml", env={})


def test_business_hours_that_never_open_are_refused() -> None:
    """A widget with business_hours but no ``days`` key would be closed every minute of every week, and
    customers would only ever see 'closed' (``days: {}`` says that on purpose and is accepted)."""
    text = (
        "channels:\n"
        "  webchat:\n"
        "    widgets:\n"
        "      - name: shop\n"
        "        queue: q\n"
        "        allowed_origins: ['https://shop.example']\n"
        "        business_hours: {timezone: Asia/Shanghai}\n"  # line 7
        + QUEUE
    )
    try:
        settings = parse_config(text, source="t.yaml", env={})
    except ConfigError as exc:
        assert any(p.line == 7 and "business_hours" in p.key_path for p in exc.problems), str(exc)
        return
    hours = settings.channels.webchat.widgets[0].business_hours
    assert hours is not None
    start = datetime(2025, 1, 6, tzinfo=UTC)
    never_open = not any(
        hours.is_open(start + timedelta(minutes=15 * i), default_timezone="UTC") for i in range(7 * 24 * 4)
    )
    assert not never_open, "business_hours that never open were accepted without a word"


@pytest.mark.parametrize(
    "snippet",
    [
        "server:\n  timezone: ${V}\n",
        "channels:\n  voice:\n    sip:\n      voicemail_uri: ${V}\n",
        "channels:\n  webchat:\n    widgets:\n      - {name: w, queue: q, allowed_origins: ['${V}']}\n",
        "channels:\n  email:\n    mailboxes:\n      - name: m\n        queue: q\n        address: ${V}\n"
        "        imap: {host: h, user: u, password: p}\n        smtp: {host: h}\n",
    ],
    ids=["timezone", "voicemail_uri", "allowed_origins", "mailbox-address"],
)
def test_text_value_from_environment_is_not_repeated_in_errors(snippet: str) -> None:
    """docs/config.md: 'Error messages never repeat the value of a text key, so secrets do not end up in logs.'"""
    problems = problems_of(snippet + QUEUE, env={"V": SECRET})
    assert problems
    leaked = [str(p) for p in problems if SECRET in str(p)]
    assert not leaked, leaked


@pytest.mark.parametrize(
    "snippet",
    ["server:\n  port: ${V}\n", "server:\n  language: ${V}\n", "routing:\n  voice_exclusive: ${V}\n"],
    ids=["port", "language", "bool"],
)
def test_env_value_in_a_number_enum_or_bool_key_is_not_repeated(snippet: str) -> None:
    """problems._ECHO_INPUT echoes inputs of number/enum/bool errors on the grounds they are 'never secrets';
    with ${VAR} the input is whatever the variable holds (``port: ${SMTP_PASSWORD}`` after a copy-paste)."""
    problems = problems_of(snippet + QUEUE, env={"V": SECRET})
    assert problems
    leaked = [str(p) for p in problems if SECRET in str(p)]
    assert not leaked, leaked


def test_empty_environment_variable_is_named_in_the_error() -> None:
    """IMAP_PASSWORD exported but empty: the error says only 'must not be empty', with no mention of the
    variable, while an unset one is named. The reader has to guess the value came from the environment."""
    text = (
        "channels:\n  email:\n    mailboxes:\n      - name: m\n        queue: q\n        address: a@b.cn\n"
        "        imap: {host: h, user: u, password: '${IMAP_PASSWORD}'}\n        smtp: {host: h}\n" + QUEUE
    )
    (problem,) = problems_of(text, env={"IMAP_PASSWORD": ""})
    assert problem.line == 7 and problem.key_path == "channels.email.mailboxes[0].imap.password"
    assert "IMAP_PASSWORD" in problem.message, str(problem)
