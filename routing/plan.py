"""The configuration compiled into lookup tables the hot path can use directly.

Eligibility is a conjunction "skill >= level" per requirement.  Different
queues and steps often share a requirement (an overflow step reuses another
queue's base skills; a step with ``skills=None`` reuses the previous one), so
each distinct requirement gets a small integer id once, and an agent's profile
is reduced to the set of requirement ids it meets.  From then on "may this
agent take this interaction?" is a set lookup, not a skill comparison.

A queue at escalation step ``k`` is open to the agents meeting any requirement
in ``QueuePlan.step_reqs[k]``: the step's own skills plus the base skills of
every overflow queue named so far (overflow is cumulative across steps).
"""

from __future__ import annotations

from collections.abc import Mapping

from routing.config import CHANNELS, Channel, QueueSpec, RoutingConfig, Strategy

Requirement = tuple[tuple[str, int], ...]


def requirement_of(skills: Mapping[str, int]) -> Requirement:
    return tuple(sorted(skills.items()))


def meets(skills: Mapping[str, int], requirement: Requirement) -> bool:
    return all(skills.get(skill, 0) >= level for skill, level in requirement)


class QueuePlan:
    """One queue's compiled rules: priority base, aging rate, per-step eligibility."""

    __slots__ = ("channels", "index", "name", "pool_kind", "priority", "rate", "spec", "step_reqs", "step_skills")

    def __init__(self, spec: QueueSpec, index: int, step_skills: list[Mapping[str, int]],
                 step_reqs: list[tuple[int, ...]]) -> None:
        self.spec = spec
        self.name = spec.name
        self.index = index
        # aging is configured per minute, time flows in seconds
        self.rate = spec.aging_per_minute / 60.0
        self.priority = spec.priority
        self.channels: tuple[Channel, ...] = tuple(c for c in CHANNELS if c in spec.channels)
        self.step_skills = step_skills
        self.step_reqs = step_reqs
        # agents are ranked the same way in every queue sharing a pool kind;
        # most_skilled ranks by this queue's own skills, so its pools are per queue
        self.pool_kind: str = (
            f"most_skilled:{spec.name}" if spec.strategy is Strategy.MOST_SKILLED else spec.strategy.value
        )


class Plan:
    """All queues compiled, plus the registry of distinct requirements."""

    __slots__ = ("_req_ids", "config", "queues", "requirements")

    def __init__(self, config: RoutingConfig) -> None:
        self.config = config
        self.requirements: list[Requirement] = []
        self._req_ids: dict[Requirement, int] = {}
        self.queues: dict[str, QueuePlan] = {}
        for index, (name, spec) in enumerate(sorted(config.queues.items())):
            skills: Mapping[str, int] = spec.skills
            overflow: list[str] = []
            step_skills = [skills]
            step_reqs = [(self._req_id(skills),)]
            for step in spec.escalation:
                if step.skills is not None:
                    skills = step.skills
                overflow.extend(q for q in step.overflow if q not in overflow)
                ids = [self._req_id(skills)]
                for other in overflow:
                    rid = self._req_id(config.queues[other].skills)
                    if rid not in ids:
                        ids.append(rid)
                step_skills.append(skills)
                step_reqs.append(tuple(ids))
            self.queues[name] = QueuePlan(spec, index, step_skills, step_reqs)

    def _req_id(self, skills: Mapping[str, int]) -> int:
        req = requirement_of(skills)
        rid = self._req_ids.get(req)
        if rid is None:
            rid = self._req_ids[req] = len(self.requirements)
            self.requirements.append(req)
        return rid

    def reqs_met(self, skills: Mapping[str, int]) -> frozenset[int]:
        """Ids of every requirement an agent with ``skills`` meets."""
        return frozenset(rid for rid, req in enumerate(self.requirements) if meets(skills, req))

    def base_priority(self, queue: QueuePlan, tier: str, priority: float) -> float:
        return self.config.tier_weights[tier] + queue.priority + priority
