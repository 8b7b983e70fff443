"""The typed shape of ``contactcenter.yaml``: every key, its type, its default and its bounds.

``docs/config.md`` documents the same keys for people; keep the two in step.
Models are frozen and forbid unknown keys. Rules that relate keys inside one
section are model validators raising ``RuleViolations``; references between
sections (a queue's skills, an overflow's queue) are checked by
``crosschecks`` on the raw document, so that they are reported even when some
unrelated value failed to validate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, PrivateAttr, model_validator

from contactcenter.config.durations import NonNegativeDuration, PositiveDuration, format_duration, parse_duration
from contactcenter.config.fields import (
    NO_REPEATS,
    NULL_IS_EMPTY_LIST,
    NULL_IS_EMPTY_MAPPING,
    ConfigModel,
    FiniteFloat,
    HttpUrl,
    Label,
    Name,
    NonEmptyStr,
    Percentage,
    PhoneRegion,
    PortOrZero,
    SkillLevel,
    TimeZoneName,
    duplicates,
)
from contactcenter.config.problems import KeyPath, RuleViolations
from contactcenter.config.schema_channels import Channels
from contactcenter.model import STANDARD_TIER, Channel

__all__ = [
    "DEFAULT_SERVICE_LEVEL_TARGET",
    "Alerts",
    "CannedResponse",
    "Capacities",
    "Console",
    "Database",
    "Disposition",
    "EscalationStep",
    "OfferTimeouts",
    "Queue",
    "Routing",
    "Server",
    "Settings",
    "Skill",
    "Tier",
    "WrapupTimes",
]

Strategy = Literal["longest_idle", "least_occupied", "most_skilled", "round_robin"]
NoAgentAction = Literal["callback", "voicemail", "email_followup"]

DEFAULT_SERVICE_LEVEL_TARGET = 0.8
"""A queue's service-level goal when the file sets none: 80 % (of contacts answered within ``service_level``).

Defined here, with the key, so that the configuration and the metrics (which
re-export it) cannot disagree about what an unset goal means.
"""


class RateLimit(ConfigModel):
    """``rate`` requests per ``per`` on average, up to ``burst`` at once, per client address."""

    rate: float = Field(gt=0)
    per: PositiveDuration = 1.0
    burst: int = Field(gt=0)


class RateLimits(ConfigModel):
    # Per client address: generous enough for an office of agents behind one NAT reconnecting at once,
    # and for one SMS gateway's busiest minute; tight enough that one address cannot open thousands of
    # sockets or try thousands of passwords. None: not limited.
    connections: RateLimit | None = RateLimit(rate=20, per=1.0, burst=100)
    login: RateLimit | None = RateLimit(rate=5, per=60.0, burst=10)
    intake: RateLimit | None = RateLimit(rate=100, per=1.0, burst=1000)


class Server(ConfigModel):
    host: NonEmptyStr = "127.0.0.1"
    port: PortOrZero = 8080
    public_url: HttpUrl | None = None
    max_body_bytes: int = Field(1024 * 1024, gt=0)
    session_ttl: PositiveDuration = 12 * 3600.0
    timezone: TimeZoneName = "UTC"
    default_phone_region: PhoneRegion = "CN"
    language: Literal["en", "zh-CN"] = "zh-CN"
    agent_disconnect_grace: NonNegativeDuration = 60.0
    rate_limits: RateLimits = RateLimits()
    # uvloop (libuv) runs the same asyncio code with far less overhead per socket event and timer;
    # "asyncio" is the standard library loop, for platforms without uvloop or to rule it out.
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"

    @property
    def base_url(self) -> str:
        """The external base URL: ``public_url`` or ``http://host:port`` (port 0 is only known once bound)."""
        if self.public_url is not None:
            return self.public_url
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def _check_postgres_url(value: str) -> str:
    # The URL usually holds a password: the message must not repeat it.
    if not value.startswith(("postgresql://", "postgres://")):
        raise ValueError("must be a postgresql://user:password@host:port/database URL")
    return value


class Retention(ConfigModel):
    """How long rows that are only kept for a while stay (see ``contactcenter.db.retention``)."""

    # Console events serve resuming after a disconnect; an hour is the least that still covers
    # a console left closed over a break. The protocol promises a day by default.
    agent_events: Annotated[float, BeforeValidator(parse_duration), Field(ge=3600)] = 24 * 3600.0
    every: PositiveDuration = 600.0


class Database(ConfigModel):
    """``url`` None means: the loader's ``DATABASE_URL``, else the embedded server in ``data_dir``."""

    url: Annotated[str, AfterValidator(_check_postgres_url)] | None = None
    data_dir: Path = Path("var/pgdata")
    pool_min_size: int = Field(2, ge=0)
    pool_max_size: int = Field(10, ge=1)
    retention: Retention = Retention()

    @model_validator(mode="after")
    def _pool_fits(self) -> Database:
        if self.pool_min_size > self.pool_max_size:
            message = f"{self.pool_min_size} is above pool_max_size ({self.pool_max_size})"
            raise RuleViolations([(("pool_min_size",), message)])
        return self


class Tier(ConfigModel):
    """A customer membership level; ``weight`` is added to the priority of its customers' interactions."""

    weight: FiniteFloat = Field(ge=0)
    label: Label | None = None


class Skill(ConfigModel):
    label: Label | None = None


class _PerChannel(ConfigModel):
    """One value per channel, a field named after each."""

    def by_channel(self) -> dict[Channel, float]:
        return {channel: getattr(self, channel.value) for channel in Channel}


class OfferTimeouts(_PerChannel):
    voice: PositiveDuration = 20.0
    chat: PositiveDuration = 30.0
    sms: PositiveDuration = 60.0
    email: PositiveDuration = 120.0


class WrapupTimes(_PerChannel):
    voice: NonNegativeDuration = 30.0
    chat: NonNegativeDuration = 15.0
    sms: NonNegativeDuration = 15.0
    email: NonNegativeDuration = 30.0


class Capacities(_PerChannel):
    """How many interactions of each channel an agent handles at once (0: none of that channel)."""

    voice: int = Field(1, ge=0, le=1)
    chat: int = Field(3, ge=0, le=50)
    sms: int = Field(3, ge=0, le=50)
    email: int = Field(5, ge=0, le=50)


class Routing(ConfigModel):
    offer_timeout: OfferTimeouts = OfferTimeouts()
    wrapup: WrapupTimes = WrapupTimes()
    capacity: Capacities = Capacities()
    voice_exclusive: bool = True
    max_missed_offers: int = Field(3, ge=0)
    reject_cooldown: PositiveDuration = 10.0


class EscalationStep(ConfigModel):
    """After ``after`` seconds of waiting: lower the skill minimums and/or widen to other queues' agents."""

    after: PositiveDuration
    skills: dict[Name, SkillLevel] | None = None
    overflow: Annotated[tuple[Name, ...], NO_REPEATS] = ()


class Queue(ConfigModel):
    label: Label | None = None
    channels: Annotated[tuple[Channel, ...], NO_REPEATS] = Field(min_length=1)
    skills: Annotated[dict[Name, SkillLevel], NULL_IS_EMPTY_MAPPING] = Field(default_factory=dict)
    strategy: Strategy = "longest_idle"
    priority: FiniteFloat = 0.0
    aging_per_minute: FiniteFloat = Field(1.0, ge=0)
    service_level: PositiveDuration = 30.0
    # the share of contacts to answer within service_level: alerts, the API and /metrics compare against it
    service_level_target: Percentage = DEFAULT_SERVICE_LEVEL_TARGET
    max_wait: PositiveDuration | None = None
    no_agent_action: NoAgentAction | None = None
    # where a voice callback waits: another queue, so this queue's max_wait does not close it unanswered
    callback_queue: Name | None = None
    sticky_wait: NonNegativeDuration = 0.0
    alert_waiting_above: int | None = Field(None, ge=1)
    escalation: Annotated[tuple[EscalationStep, ...], NULL_IS_EMPTY_LIST] = ()

    @model_validator(mode="after")
    def _checks(self) -> Queue:
        problems: list[tuple[KeyPath, str]] = []
        if self.no_agent_action == "voicemail" and Channel.VOICE not in self.channels:
            problems.append((("no_agent_action",), "'voicemail' needs 'voice' in the queue's channels"))
        if self.callback_queue is not None and self.no_agent_action != "callback":
            # a key that is in the file is used (docs/config.md): one that would be ignored is an error
            action = "null" if self.no_agent_action is None else repr(self.no_agent_action)
            problems.append((("callback_queue",), f"has no effect: no_agent_action is {action}, not 'callback' "
                                                  "(remove callback_queue or set no_agent_action: callback)"))
        previous = 0.0
        for index, step in enumerate(self.escalation):
            where: KeyPath = ("escalation", index)
            if step.after <= previous:
                problems.append(((*where, "after"), "escalation steps must come in increasing 'after' order"))
            elif self.max_wait is not None and step.after >= self.max_wait:
                problems.append(((*where, "after"), f"never reached: max_wait is {format_duration(self.max_wait)}"))
            previous = max(previous, step.after)
            if step.skills is None and not step.overflow:
                problems.append((where, "an escalation step must set 'skills', 'overflow' or both"))
        if problems:
            raise RuleViolations(problems)
        return self


class Disposition(ConfigModel):
    code: Name
    label: Label


class CannedResponse(ConfigModel):
    id: Name
    title: Label
    text: NonEmptyStr


class Console(ConfigModel):
    dispositions: Annotated[tuple[Disposition, ...], NULL_IS_EMPTY_LIST] = ()
    canned_responses: Annotated[tuple[CannedResponse, ...], NULL_IS_EMPTY_LIST] = ()
    away_reasons: Annotated[tuple[Name, ...], NO_REPEATS] = ("break", "lunch", "training", "meeting")

    @model_validator(mode="after")
    def _unique(self) -> Console:
        problems = duplicates("dispositions", self.dispositions, "code")
        problems += duplicates("canned_responses", self.canned_responses, "id")
        if problems:
            raise RuleViolations(problems)
        return self


class Alerts(ConfigModel):
    webhook_url: HttpUrl | None = None


class Settings(ConfigModel):
    """The whole validated configuration. Build it with ``load_config`` (or ``parse_config``).

    Constructing it with ``Settings.model_validate`` skips the cross-section
    reference checks and reads phone numbers without a default region; the
    loader functions do both.
    """

    server: Server = Server()
    database: Database = Database()
    tiers: Annotated[dict[Name, Tier], NULL_IS_EMPTY_MAPPING] = Field(default_factory=dict)
    skills: Annotated[dict[Name, Skill], NULL_IS_EMPTY_MAPPING] = Field(default_factory=dict)
    routing: Routing = Routing()
    queues: dict[Name, Queue] = Field(min_length=1)
    console: Console = Console()
    alerts: Alerts = Alerts()
    channels: Channels = Channels()

    _source_file: Path | None = PrivateAttr(default=None)

    @property
    def source_file(self) -> Path | None:
        """The absolute path of the file this was loaded from; None when built from text or a dict."""
        return self._source_file

    def tier_weights(self) -> dict[str, float]:
        """Every tier's weight: the implicit ``standard`` tier (0 unless the file sets it) and the file's.

        Routing orders by it and a customer merge keeps the heavier tier: both read it here.
        """
        return {STANDARD_TIER: 0.0, **{name: float(tier.weight) for name, tier in self.tiers.items()}}

    def summary(self) -> str:
        """One line for ``config check``: what is configured, so a typo'd but valid file still stands out."""
        sip = self.channels.voice.sip
        parts = [
            _count(len(self.queues), "queue") + f" ({', '.join(self.queues)})",
            _count(len(self.skills), "skill"),
            _count(len(self.tiers), "tier"),
            _count(len(self.channels.email.mailboxes), "mailbox", "mailboxes"),
            _count(len(self.channels.sms.gateways), "SMS gateway"),
            f"SIP on port {sip.port}" if sip is not None else "SIP off",
            _count(len(self.channels.webchat.widgets), "chat widget"),
            "external database" if self.database.url else f"embedded database in {self.database.data_dir}",
        ]
        return ", ".join(parts)


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"
