"""Routing configuration: plain frozen dataclasses the shell builds from validated YAML.

The core trusts nothing: each dataclass re-validates in ``__post_init__`` and
fails loudly with the key path (``queues['billing'].escalation[1].overflow``)
rather than falling back to a default, because a silently ignored queue rule is a
customer who is never answered.  Strings are accepted wherever an enum is
expected (``"chat"`` for ``Channel.CHAT``) and normalised, so YAML loaders do not
need to know the enums.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from routing import checks


class Channel(StrEnum):
    VOICE = "voice"
    CHAT = "chat"
    SMS = "sms"
    EMAIL = "email"


CHANNELS: tuple[Channel, ...] = tuple(Channel)


class Strategy(StrEnum):
    """How a queue picks among several eligible free agents."""

    LONGEST_IDLE = "longest_idle"
    LEAST_OCCUPIED = "least_occupied"
    MOST_SKILLED = "most_skilled"
    ROUND_ROBIN = "round_robin"


class NoAgentAction(StrEnum):
    """What the channel does with an interaction whose max wait passed."""

    CALLBACK = "callback"
    VOICEMAIL = "voicemail"
    EMAIL_FOLLOWUP = "email_followup"


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """After ``after_s`` in the queue, relax (or change) who may answer.

    ``skills`` replaces the minimum levels (``None`` keeps the previous step's);
    agents who meet the *base* skills of a queue named in ``overflow`` also become
    eligible.  Overflow is cumulative: a later step keeps earlier steps' overflow.
    """

    after_s: float
    skills: Mapping[str, int] | None = None
    overflow: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _set(self, "after_s", checks.number("after_s", self.after_s, minimum=0))
        if self.skills is not None:
            _set(self, "skills", checks.skills("skills", self.skills))
        _set(self, "overflow", checks.names("overflow", self.overflow))


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """One queue: who may answer, in which order, and what happens on a long wait.

    ``skills`` may be empty (any agent).  ``service_level_s`` is carried for
    reporting; routing itself does not use it.
    """

    name: str
    channels: frozenset[Channel]
    skills: Mapping[str, int] = field(default_factory=dict)
    strategy: Strategy = Strategy.LONGEST_IDLE
    priority: float = 0
    aging_per_minute: float = 0
    service_level_s: float = 20.0
    max_wait_s: float | None = None
    no_agent_action: NoAgentAction | None = None
    sticky_wait_s: float = 0
    escalation: tuple[EscalationStep, ...] = ()

    def __post_init__(self) -> None:
        name = checks.ident("queue name", self.name)
        where = f"queues[{name!r}]"
        if isinstance(self.channels, str) or not self.channels:
            raise ValueError(f"{where}.channels must be a non-empty set of channels, got {self.channels!r}")
        _set(
            self,
            "channels",
            frozenset(checks.member(f"{where}.channels", Channel, c) for c in self.channels),
        )
        _set(self, "skills", checks.skills(f"{where}.skills", self.skills))
        _set(self, "strategy", checks.member(f"{where}.strategy", Strategy, self.strategy))
        _set(self, "priority", checks.number(f"{where}.priority", self.priority))
        _set(
            self, "aging_per_minute", checks.number(f"{where}.aging_per_minute", self.aging_per_minute, minimum=0)
        )
        _set(
            self,
            "service_level_s",
            checks.number(f"{where}.service_level_s", self.service_level_s, positive=True),
        )
        if self.max_wait_s is not None:
            _set(self, "max_wait_s", checks.number(f"{where}.max_wait_s", self.max_wait_s, positive=True))
        if self.no_agent_action is not None:
            _set(
                self,
                "no_agent_action",
                checks.member(f"{where}.no_agent_action", NoAgentAction, self.no_agent_action),
            )
        _set(self, "sticky_wait_s", checks.number(f"{where}.sticky_wait_s", self.sticky_wait_s, minimum=0))
        steps = tuple(self.escalation)
        previous = -1.0
        for i, step in enumerate(steps):
            if not isinstance(step, EscalationStep):
                raise ValueError(f"{where}.escalation[{i}] must be an EscalationStep, got {step!r}")
            if step.after_s < previous:
                raise ValueError(f"{where}.escalation must be sorted by after_s; step {i} is {step.after_s}")
            if name in step.overflow:
                raise ValueError(f"{where}.escalation[{i}].overflow names the queue itself")
            previous = step.after_s
        _set(self, "escalation", steps)


DEFAULT_TIER_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"standard": 0.0, "silver": 10.0, "gold": 20.0, "platinum": 30.0, "diamond": 40.0}
)
DEFAULT_OFFER_TIMEOUT_S: Mapping[Channel, float] = MappingProxyType(
    {Channel.VOICE: 20.0, Channel.CHAT: 30.0, Channel.SMS: 60.0, Channel.EMAIL: 120.0}
)
DEFAULT_WRAPUP_S: Mapping[Channel, float] = MappingProxyType(
    {Channel.VOICE: 30.0, Channel.CHAT: 10.0, Channel.SMS: 0.0, Channel.EMAIL: 0.0}
)
DEFAULT_CAPACITY: Mapping[Channel, int] = MappingProxyType(
    {Channel.VOICE: 1, Channel.CHAT: 3, Channel.SMS: 3, Channel.EMAIL: 5}
)


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    """Everything the router needs to know that is not an event.

    Per-channel mappings may omit channels no queue uses; a channel some queue
    uses must have an offer timeout, a wrap-up time and a default capacity, so a
    missing key is an error here instead of an interaction nobody can be offered.
    ``reject_cooldown_s`` (an addition to the original API) is how long an agent
    who rejected or missed an offer is kept from being offered the same
    interaction again, unless someone else is offered it first.
    """

    queues: Mapping[str, QueueSpec]
    tier_weights: Mapping[str, float] = field(default_factory=lambda: DEFAULT_TIER_WEIGHTS)
    offer_timeout_s: Mapping[Channel, float] = field(default_factory=lambda: DEFAULT_OFFER_TIMEOUT_S)
    wrapup_s: Mapping[Channel, float] = field(default_factory=lambda: DEFAULT_WRAPUP_S)
    default_capacity: Mapping[Channel, int] = field(default_factory=lambda: DEFAULT_CAPACITY)
    voice_exclusive: bool = True
    max_missed_offers: int = 3
    reject_cooldown_s: float = 10.0

    def __post_init__(self) -> None:
        if not isinstance(self.queues, Mapping) or not self.queues:
            raise ValueError(f"queues must be a non-empty mapping of name -> QueueSpec, got {self.queues!r}")
        queues: dict[str, QueueSpec] = {}
        for key in sorted(self.queues):
            spec = self.queues[key]
            if not isinstance(spec, QueueSpec):
                raise ValueError(f"queues[{key!r}] must be a QueueSpec, got {spec!r}")
            if spec.name != key:
                raise ValueError(f"queues[{key!r}] has name {spec.name!r}; the key and the name must match")
            queues[key] = spec
        for key, spec in queues.items():
            for i, step in enumerate(spec.escalation):
                for target in step.overflow:
                    if target not in queues:
                        raise ValueError(f"queues[{key!r}].escalation[{i}].overflow names unknown queue {target!r}")
        _set(self, "queues", MappingProxyType(queues))

        if not isinstance(self.tier_weights, Mapping):
            raise ValueError(f"tier_weights must be a mapping of tier -> weight, got {self.tier_weights!r}")
        tiers = {checks.ident("tier_weights key", t): checks.number(f"tier_weights[{t!r}]", w)
                 for t, w in sorted(self.tier_weights.items())}
        if "standard" not in tiers:
            raise ValueError("tier_weights must define the default tier 'standard'")
        _set(self, "tier_weights", MappingProxyType(tiers))

        used = sorted({c for spec in queues.values() for c in spec.channels})
        timeouts = checks.per_channel("offer_timeout_s", Channel, self.offer_timeout_s, kind="float", positive=True)
        wrapups = checks.per_channel("wrapup_s", Channel, self.wrapup_s, kind="float")
        capacity = checks.per_channel("default_capacity", Channel, self.default_capacity, kind="int")
        for channel in used:
            for name, mapping in (("offer_timeout_s", timeouts), ("wrapup_s", wrapups),
                                  ("default_capacity", capacity)):
                if channel not in mapping:
                    raise ValueError(f"{name} has no value for channel {channel.value!r}, which a queue uses")
        _set(self, "offer_timeout_s", timeouts)
        _set(self, "wrapup_s", wrapups)
        _set(self, "default_capacity", capacity)
        if not isinstance(self.voice_exclusive, bool):
            raise ValueError(f"voice_exclusive must be true or false, got {self.voice_exclusive!r}")
        _set(self, "max_missed_offers", checks.integer("max_missed_offers", self.max_missed_offers))
        _set(self, "reject_cooldown_s", checks.number("reject_cooldown_s", self.reject_cooldown_s, positive=True))
