"""The ``channels`` section: mailboxes, SMS gateways, the SIP endpoint and web-chat widgets.

Rules that stay inside one channel (unique names, unique numbers, settings
that only make sense together) are checked here and raised as
``RuleViolations`` so each one points at its own key. Rules that reach into
other sections (a mailbox's queue must exist and take e-mail) live in
``crosschecks``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time
from ipaddress import IPv4Network, IPv6Network
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from contactcenter.config.durations import PositiveDuration
from contactcenter.config.fields import (
    NO_REPEATS,
    NULL_IS_EMPTY_LIST,
    NULL_IS_EMPTY_MAPPING,
    ConfigModel,
    EmailAddress,
    HttpUrl,
    Label,
    Name,
    NonEmptyStr,
    PhoneNumber,
    Port,
    PortOrZero,
    TimeZoneName,
    duplicates,
)
from contactcenter.config.problems import KeyPath, RuleViolations, format_key_path

TlsMode = Literal["implicit", "starttls", "none"]

# --------------------------------------------------------------------------- e-mail


class Imap(ConfigModel):
    """Where a mailbox's incoming mail is fetched from."""

    host: NonEmptyStr
    port: Port = 993
    tls: TlsMode = "implicit"
    user: NonEmptyStr
    password: NonEmptyStr
    folder: NonEmptyStr = "INBOX"
    poll_interval: PositiveDuration = 60.0
    after_ingest: Literal["seen", "move"] = "seen"
    move_to: NonEmptyStr | None = None

    @model_validator(mode="after")
    def _move_needs_a_folder(self) -> Imap:
        if self.after_ingest == "move" and self.move_to is None:
            raise RuleViolations([(("move_to",), "required when after_ingest is 'move'")])
        if self.after_ingest != "move" and self.move_to is not None:
            raise RuleViolations([(("move_to",), "only used when after_ingest is 'move'; remove it or set that")])
        return self


class Smtp(ConfigModel):
    """How a mailbox's replies are sent."""

    host: NonEmptyStr
    port: Port = 587
    tls: TlsMode = "starttls"
    user: NonEmptyStr | None = None
    password: NonEmptyStr | None = None

    @model_validator(mode="after")
    def _credentials_come_in_pairs(self) -> Smtp:
        if (self.user is None) != (self.password is None):
            missing = "password" if self.password is None else "user"
            raise RuleViolations([((missing,), "user and password must be given together")])
        return self


class AutoAck(ConfigModel):
    """The automatic "we received your mail" reply, at most once per sender per ``period``."""

    enabled: bool = False
    period: PositiveDuration = 86400.0
    subject: Label | None = None
    text: NonEmptyStr | None = None

    @model_validator(mode="after")
    def _enabled_needs_content(self) -> AutoAck:
        if self.enabled:
            missing = [key for key in ("subject", "text") if getattr(self, key) is None]
            if missing:
                raise RuleViolations([((key,), "required when auto_ack is enabled") for key in missing])
        return self


class Mailbox(ConfigModel):
    name: Name
    queue: Name
    address: EmailAddress
    display_name: Label | None = None
    imap: Imap
    smtp: Smtp
    reopen_window: PositiveDuration = 7 * 86400.0
    auto_ack: AutoAck = AutoAck()
    max_attachment_bytes: int = Field(10 * 1024 * 1024, gt=0)


class EmailChannel(ConfigModel):
    mailboxes: Annotated[tuple[Mailbox, ...], NULL_IS_EMPTY_LIST] = ()

    @model_validator(mode="after")
    def _unique(self) -> EmailChannel:
        problems = duplicates("mailboxes", self.mailboxes, "name")
        problems += duplicates("mailboxes", self.mailboxes, "address", lambda box: box.address.lower())
        if problems:
            raise RuleViolations(problems)
        return self


# --------------------------------------------------------------------------- SMS


class SmsNumber(ConfigModel):
    number: PhoneNumber
    queue: Name


class TwilioGateway(ConfigModel):
    name: Name
    type: Literal["twilio"]
    account_sid: NonEmptyStr
    auth_token: NonEmptyStr
    api_base: HttpUrl = "https://api.twilio.com"
    numbers: tuple[SmsNumber, ...] = Field(min_length=1)
    help_text: NonEmptyStr | None = None


class WebhookGateway(ConfigModel):
    """A generic HTTP gateway: inbound posts are HMAC-signed with ``secret``, replies go to ``send_url``."""

    name: Name
    type: Literal["webhook"]
    secret: NonEmptyStr
    send_url: HttpUrl
    numbers: tuple[SmsNumber, ...] = Field(min_length=1)
    help_text: NonEmptyStr | None = None


SmsGateway = Annotated[TwilioGateway | WebhookGateway, Field(discriminator="type")]


class SmsChannel(ConfigModel):
    gateways: Annotated[tuple[SmsGateway, ...], NULL_IS_EMPTY_LIST] = ()

    @model_validator(mode="after")
    def _unique(self) -> SmsChannel:
        problems = duplicates("gateways", self.gateways, "name")
        problems += _duplicate_numbers(
            (
                (("gateways", g, "numbers", n), entry.number)
                for g, gateway in enumerate(self.gateways)
                for n, entry in enumerate(gateway.numbers)
            ),
            section=("channels", "sms"),
        )
        if problems:
            raise RuleViolations(problems)
        return self


def _duplicate_numbers(entries: Iterable[tuple[KeyPath, str]], *, section: KeyPath) -> list[tuple[KeyPath, str]]:
    """A number can feed only one queue; the same number twice is always a mistake.

    ``section`` is where the calling model sits in the file, to name the first use in full.
    """
    first: dict[str, KeyPath] = {}
    out: list[tuple[KeyPath, str]] = []
    for path, number in entries:
        if number in first:
            where = format_key_path(section + first[number])
            out.append(((*path, "number"), f"duplicate number {number} (already configured at {where})"))
        else:
            first[number] = path
    return out


# --------------------------------------------------------------------------- voice


def _check_sip_uri(value: str) -> str:
    if not value.startswith(("sip:", "sips:")) or len(value) < 5:
        raise ValueError(f"invalid SIP URI {value!r}: write it as sip:user@host")
    return value


class SipGateway(ConfigModel):
    """A carrier/PBX allowed to send us calls, by source network and/or digest credentials."""

    name: Name
    allow: tuple[IPv4Network | IPv6Network, ...] = ()
    username: NonEmptyStr | None = None
    password: NonEmptyStr | None = None
    secret: NonEmptyStr | None = None

    @model_validator(mode="after")
    def _must_admit_someone(self) -> SipGateway:
        if (self.username is None) != (self.password is None):
            missing = "password" if self.password is None else "username"
            raise RuleViolations([((missing,), "username and password must be given together")])
        if not self.allow and self.username is None:
            raise RuleViolations([(("allow",), "give source networks in 'allow' or username/password")])
        return self


class SipNumber(ConfigModel):
    number: PhoneNumber
    queue: Name


class Sip(ConfigModel):
    host: NonEmptyStr = "127.0.0.1"
    port: PortOrZero = 5060
    transports: Annotated[tuple[Literal["udp", "tcp"], ...], NO_REPEATS] = Field(("udp", "tcp"), min_length=1)
    queued_interval: PositiveDuration = 5.0
    realm: NonEmptyStr = "contactcenter"
    voicemail_uri: Annotated[str, AfterValidator(_check_sip_uri)] | None = None
    gateways: Annotated[tuple[SipGateway, ...], NULL_IS_EMPTY_LIST] = ()
    numbers: Annotated[tuple[SipNumber, ...], NULL_IS_EMPTY_LIST] = ()

    @model_validator(mode="after")
    def _unique(self) -> Sip:
        problems = duplicates("gateways", self.gateways, "name")
        problems += _duplicate_numbers(
            ((("numbers", n), entry.number) for n, entry in enumerate(self.numbers)),
            section=("channels", "voice", "sip"),
        )
        if problems:
            raise RuleViolations(problems)
        return self


class VoiceChannel(ConfigModel):
    sip: Sip | None = None


# --------------------------------------------------------------------------- web chat

TimeRange = tuple[time, time]
_END_OF_DAY = time(23, 59, 59, 999999)


def _parse_time(text: str) -> time:
    hours, _, minutes = text.strip().partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError
    if (int(hours), int(minutes)) == (24, 0):
        return _END_OF_DAY
    return time(int(hours), int(minutes))


def _parse_opening_hours(value: object) -> tuple[TimeRange, ...]:
    """``"09:00-12:00,13:30-18:00"`` → ((09:00, 12:00), (13:30, 18:00)); ``24:00`` ends the day."""
    if not isinstance(value, str):
        raise ValueError('opening hours must be text like "09:00-18:00" or "09:00-12:00,13:30-18:00"')
    ranges: list[TimeRange] = []
    for part in value.split(","):
        start_text, dash, end_text = part.partition("-")
        try:
            if not dash:
                raise ValueError
            start, end = _parse_time(start_text), _parse_time(end_text)
        except ValueError:
            raise ValueError(f'invalid opening hours {part.strip()!r}: write "HH:MM-HH:MM"') from None
        if end <= start:
            raise ValueError(f"{part.strip()!r}: end must be after start (split overnight hours over two days)")
        ranges.append((start, end))
    return tuple(sorted(ranges))


OpeningHours = Annotated[tuple[TimeRange, ...], BeforeValidator(_parse_opening_hours)]


class WeekHours(ConfigModel):
    """Opening hours per weekday; a day left out (or null) is closed."""

    mon: OpeningHours | None = None
    tue: OpeningHours | None = None
    wed: OpeningHours | None = None
    thu: OpeningHours | None = None
    fri: OpeningHours | None = None
    sat: OpeningHours | None = None
    sun: OpeningHours | None = None


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class BusinessHours(ConfigModel):
    timezone: TimeZoneName | None = None
    days: WeekHours = WeekHours()

    @model_validator(mode="after")
    def _opens_at_some_time(self) -> BusinessHours:
        """``business_hours`` without ``days`` is refused: closed all week is never what a forgotten key meant.

        Leaving out ``business_hours`` means always open. A widget that should only
        ever show the offline form says so with an explicit ``days: {}``.
        """
        if "days" not in self.model_fields_set:
            raise RuleViolations([(("days",), "business_hours needs days, or the widget would never open: "
                                              'list days such as mon: "09:00-18:00", write days: {} for a widget '
                                              "that only takes the offline form, or remove business_hours to be "
                                              "always open")])
        return self

    def is_open(self, at: datetime, *, default_timezone: str) -> bool:
        """Whether ``at`` (timezone-aware) falls in the opening hours; ``default_timezone`` is server's."""
        local = at.astimezone(ZoneInfo(self.timezone or default_timezone))
        ranges = getattr(self.days, _WEEKDAYS[local.weekday()]) or ()
        now = local.time().replace(tzinfo=None)
        return any(start <= now < end for start, end in ranges)


def _check_origin(value: str) -> str:
    """Normalise to what a browser sends in ``Origin``: lowercase, punycode host, no default port."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(f"invalid origin {value!r}: write scheme://host[:port], e.g. https://shop.example")
    if parts.query or parts.fragment or parts.username:
        raise ValueError(f"invalid origin {value!r}: an origin has no query, fragment or user")
    try:
        port = parts.port
        host = parts.hostname.encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        raise ValueError(f"invalid origin {value!r}: bad host or port") from None
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != {"http": 80, "https": 443}[parts.scheme]:
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}"


Origin = Annotated[str, AfterValidator(_check_origin)]


class Widget(ConfigModel):
    name: Name
    allowed_origins: tuple[Origin, ...] = Field(min_length=1)
    queue: Name
    topics: Annotated[dict[Label, Name], NULL_IS_EMPTY_MAPPING] = Field(default_factory=dict)
    greeting: NonEmptyStr | None = None
    business_hours: BusinessHours | None = None
    prechat_fields: Annotated[tuple[Literal["name", "email", "phone"], ...], NO_REPEATS] = ()


class WebchatChannel(ConfigModel):
    widgets: Annotated[tuple[Widget, ...], NULL_IS_EMPTY_LIST] = ()

    @model_validator(mode="after")
    def _unique(self) -> WebchatChannel:
        problems = duplicates("widgets", self.widgets, "name")
        if problems:
            raise RuleViolations(problems)
        return self


class Channels(ConfigModel):
    email: EmailChannel = EmailChannel()
    sms: SmsChannel = SmsChannel()
    voice: VoiceChannel = VoiceChannel()
    webchat: WebchatChannel = WebchatChannel()
