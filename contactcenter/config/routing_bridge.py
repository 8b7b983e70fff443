"""Translate validated ``Settings`` into the routing core's own ``RoutingConfig``.

The router is a stdlib-only, sans-I/O package and must not know about YAML,
pydantic or this package; this function is the one place where the two
vocabularies meet. Everything it hands over has already been validated, so it
only converts: durations to ``*_s`` float seconds, channel strings to the
router's ``Channel``, lists to tuples. ``routing`` is imported lazily so that
loading or checking a configuration never depends on the router importing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contactcenter.config.schema import Queue, Settings

if TYPE_CHECKING:
    import routing

__all__ = ["to_routing_config"]


def to_routing_config(settings: Settings) -> routing.RoutingConfig:
    """The router's configuration for ``settings``.

    ``tier_weights`` always has the implicit ``standard`` tier, weight 0 unless the file sets it.
    """
    from routing import Channel, RoutingConfig

    tier_weights = settings.tier_weights()
    per_channel = settings.routing
    return RoutingConfig(
        queues={name: _queue_spec(name, queue) for name, queue in settings.queues.items()},
        tier_weights=tier_weights,
        offer_timeout_s={Channel(c.value): s for c, s in per_channel.offer_timeout.by_channel().items()},
        wrapup_s={Channel(c.value): s for c, s in per_channel.wrapup.by_channel().items()},
        default_capacity={Channel(c.value): n for c, n in per_channel.capacity.by_channel().items()},
        voice_exclusive=per_channel.voice_exclusive,
        max_missed_offers=per_channel.max_missed_offers,
        reject_cooldown_s=per_channel.reject_cooldown,
    )


def _queue_spec(name: str, queue: Queue) -> routing.QueueSpec:
    from routing import Channel, EscalationStep, QueueSpec, Strategy

    return QueueSpec(
        name=name,
        channels=frozenset(Channel(channel.value) for channel in queue.channels),
        skills=dict(queue.skills),
        strategy=Strategy(queue.strategy),
        priority=float(queue.priority),
        aging_per_minute=float(queue.aging_per_minute),
        service_level_s=queue.service_level,
        max_wait_s=queue.max_wait,
        no_agent_action=queue.no_agent_action,
        sticky_wait_s=queue.sticky_wait,
        escalation=tuple(
            EscalationStep(
                after_s=step.after,
                skills=dict(step.skills) if step.skills is not None else None,
                overflow=tuple(step.overflow),
            )
            for step in queue.escalation
        ),
    )
