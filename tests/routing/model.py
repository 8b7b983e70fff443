"""A naive reference model of routing, used by the property tests to judge every Offer.

It rebuilds the router's state from the events and the decisions alone (no
peeking inside the router) with the simplest possible data structures -- every
check is a scan -- and asserts the routing invariants at the exact moment each
Offer is made:

* the agent is available, has a free slot on the channel, and voice
  exclusivity holds;
* the agent meets the interaction's current escalation step (or an overflow
  queue's base skills), unless the interaction was transferred to them by name;
* the interaction was queued, so it has at most one outstanding offer;
* reservations (sticky / named target) and reject cool-downs are respected;
* among all interactions the agent could take at that moment, none has a
  strictly higher effective priority, and none with an equal one arrived first.

It also checks the queue clocks, which run from the time the interaction
entered its current queue (``enqueued_at``: on arrival, as the event says; the
transfer time after a transfer), not from its arrival: an ``Escalated`` or a
``NoAgent`` never comes before its deadline.

After each ``handle`` it also checks maximality: no available agent could still
take a queued interaction, and no escalation or max wait whose deadline has
passed is still pending.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from routing import (
    AgentForcedAway,
    AgentState,
    AgentStateChanged,
    AgentUpdated,
    Assigned,
    Channel,
    Escalated,
    InteractionAbandoned,
    InteractionArrived,
    InteractionEnded,
    InteractionRestored,
    InteractionTransferred,
    NoAgent,
    Offer,
    OfferAccepted,
    OfferRejected,
    Requeued,
    RevokeOffer,
    RoutingConfig,
    Tick,
    Transferred,
    WrapUpCompleted,
    WrapUpEnded,
)

EPS = 1e-6


class ModelViolation(AssertionError):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise ModelViolation(message)


@dataclass
class MAgent:
    skills: dict[str, int]
    capacity: dict[Channel, int]
    state: AgentState = AgentState.OFFLINE
    load: dict[Channel, int] = field(default_factory=lambda: dict.fromkeys(Channel, 0))


@dataclass
class MInteraction:
    queue: str
    channel: Channel
    tier: str
    priority: float
    arrived_at: float
    seq: int
    state: str = "queued"
    enqueued_at: float = 0.0  # entered its current queue: escalation and max wait count from here
    keep_waiting: bool = False
    step: int = 0
    agent: str | None = None
    target: str | None = None
    sticky: str | None = None
    sticky_until: float = 0.0
    excluded: dict[str, float] = field(default_factory=dict)  # agent -> until
    offer_expires: float = 0.0


class Model:
    def __init__(self, config: RoutingConfig) -> None:
        self.config = config
        self.agents: dict[str, MAgent] = {}
        self.ixs: dict[str, MInteraction] = {}
        self.seq = 0
        self.offers_checked = 0
        # the router's time after the handle being checked: its decisions were made at or before it
        self.now = 0.0

    # ---------------------------------------------------------------- rules

    def step_skills(self, queue: str, step: int) -> list[dict[str, int]]:
        """Requirement sets (any one suffices) for ``queue`` at ``step``."""
        spec = self.config.queues[queue]
        skills = dict(spec.skills)
        overflow: list[str] = []
        for esc in spec.escalation[:step]:
            if esc.skills is not None:
                skills = dict(esc.skills)
            overflow += esc.overflow
        return [skills] + [dict(self.config.queues[o].skills) for o in overflow]

    def eligible(self, agent: MAgent, ix: MInteraction) -> bool:
        return any(all(agent.skills.get(s, 0) >= lvl for s, lvl in req.items())
                   for req in self.step_skills(ix.queue, ix.step))

    def has_slot(self, agent: MAgent, channel: Channel) -> bool:
        if agent.state is not AgentState.AVAILABLE or agent.load[channel] >= agent.capacity[channel]:
            return False
        if self.config.voice_exclusive:
            if channel is Channel.VOICE:
                return sum(agent.load.values()) == 0
            return agent.load[Channel.VOICE] == 0
        return True

    def effective(self, ix: MInteraction, now: float) -> float:
        """base + rate * (now - arrived_at), evaluated as (base - rate * arrived_at) + rate * now:
        the same float arithmetic as the router, so an exact tie here is one there too."""
        spec = self.config.queues[ix.queue]
        rate = spec.aging_per_minute / 60.0
        base = self.config.tier_weights[ix.tier] + spec.priority + ix.priority
        return (base - rate * ix.arrived_at) + rate * now

    def position(self, iid: str, now: float) -> int | None:
        """1-based rank in its queue among waiting interactions, by priority then FIFO."""
        ix = self.ixs.get(iid)
        if ix is None or ix.state not in ("queued", "offered"):
            return None
        mine = (-self.effective(ix, now), ix.arrived_at, ix.seq)
        return 1 + sum(1 for o in self.ixs.values() if o.queue == ix.queue and o.state in ("queued", "offered")
                       and (-self.effective(o, now), o.arrived_at, o.seq) < mine)

    def could_take(self, agent_id: str, ix: MInteraction, now: float, *, strict: bool) -> bool:
        """Could ``agent_id`` be offered ``ix`` at ``now``?  ``strict`` resolves boundary
        cases (a reservation or cool-down ending exactly now) as the router does; when
        not strict they count as "maybe", which only ever weakens a check."""
        agent = self.agents[agent_id]
        if ix.state != "queued" or not self.has_slot(agent, ix.channel):
            return False
        until = ix.excluded.get(agent_id)
        if until is not None and (now < until if strict else now < until + EPS):
            return False
        if ix.target is not None:
            return ix.target == agent_id
        reserved = now < ix.sticky_until if strict else now < ix.sticky_until + EPS
        if ix.sticky is not None and ix.sticky != agent_id and reserved:
            return False
        return self.eligible(agent, ix)

    # --------------------------------------------------------------- events

    def event(self, e: object) -> None:
        """Apply an event the router accepted (before its decisions)."""
        cfg = self.config
        if isinstance(e, AgentUpdated):
            capacity = {c: cfg.default_capacity.get(c, 0) for c in Channel}
            capacity.update(e.capacity or {})
            old = self.agents.get(e.agent_id)
            if old is None:
                self.agents[e.agent_id] = MAgent(dict(e.skills), capacity)
            else:
                old.skills, old.capacity = dict(e.skills), capacity
        elif isinstance(e, AgentStateChanged):
            self.agents[e.agent_id].state = e.state
            if e.state is AgentState.OFFLINE:  # reservations never survive an offline agent
                for ix in self.ixs.values():
                    if ix.state == "queued" and ix.target == e.agent_id:
                        ix.target = None
                    if ix.state == "queued" and ix.sticky == e.agent_id:
                        ix.sticky = None
        elif isinstance(e, InteractionArrived):
            ix = MInteraction(e.queue, e.channel, e.tier, e.priority, e.arrived_at, self.seq)  # type: ignore[arg-type]
            ix.enqueued_at, ix.keep_waiting = e.enqueued_at, e.keep_waiting  # type: ignore[assignment]
            self.seq += 1
            # an offline agent holds no reservation
            if e.target_agent_id is not None and self.agents[e.target_agent_id].state is not AgentState.OFFLINE:
                ix.target = e.target_agent_id
            spec = cfg.queues[e.queue]
            last = self.agents.get(e.last_agent_id or "")
            if (e.target_agent_id is None and last is not None and spec.sticky_wait_s > 0
                    and last.state is not AgentState.OFFLINE and ix.arrived_at + spec.sticky_wait_s > e.at
                    and self.eligible(last, ix)):
                ix.sticky = e.last_agent_id
                ix.sticky_until = ix.arrived_at + spec.sticky_wait_s
            self.ixs[e.interaction_id] = ix
        elif isinstance(e, InteractionRestored):
            ix = MInteraction(e.queue, e.channel, e.tier, 0.0, e.arrived_at, self.seq, "assigned")  # type: ignore[arg-type]
            self.seq += 1
            ix.agent = e.agent_id
            self.agents[e.agent_id].load[e.channel] += 1
            self.ixs[e.interaction_id] = ix
        elif isinstance(e, InteractionAbandoned):
            ix = self.ixs.pop(e.interaction_id)
            check(ix.state in ("queued", "offered"), f"abandon accepted in state {ix.state}")
            if ix.state == "offered":
                self.agents[ix.agent].load[ix.channel] -= 1  # type: ignore[index]
        elif isinstance(e, InteractionTransferred):
            ix = self.ixs[e.interaction_id]
            previous = None
            if ix.state in ("offered", "assigned"):
                self.agents[ix.agent].load[ix.channel] -= 1  # type: ignore[index]
                if ix.state == "assigned":
                    previous = ix.agent
            ix.queue = e.to_queue or ix.queue
            ix.state, ix.step, ix.agent, ix.sticky = "queued", 0, None, None
            ix.enqueued_at = self.now  # the new queue's clocks start at the transfer
            ix.target = e.to_agent  # cleared by the Requeued that follows if they are offline
            ix.excluded = {}
            if previous is not None and previous != e.to_agent:
                ix.excluded[previous] = e.at + cfg.reject_cooldown_s
        elif isinstance(e, OfferAccepted):
            ix = self.ixs[e.interaction_id]
            check(ix.state == "offered" and ix.agent == e.agent_id, "accept of an offer not made")
            ix.state = "assigned"
        elif isinstance(e, OfferRejected):
            ix = self.ixs[e.interaction_id]
            check(ix.state == "offered" and ix.agent == e.agent_id, "reject of an offer not made")
            self.agents[e.agent_id].load[ix.channel] -= 1
            ix.state, ix.agent = "queued", None
            ix.excluded[e.agent_id] = e.at + cfg.reject_cooldown_s
        elif isinstance(e, InteractionEnded):
            ix = self.ixs[e.interaction_id]
            check(ix.state == "assigned", "end of an unassigned interaction")
            ix.state = "wrap_up"
        elif isinstance(e, WrapUpCompleted):
            ix = self.ixs.pop(e.interaction_id)
            check(ix.state == "wrap_up", "wrap-up completed outside wrap-up")
            self.agents[ix.agent].load[ix.channel] -= 1  # type: ignore[index]
        else:
            assert isinstance(e, Tick), e

    # ------------------------------------------------------------ decisions

    def decision(self, d: object) -> None:
        cfg = self.config
        if isinstance(d, Offer):
            self.check_offer(d)
            ix = self.ixs[d.interaction_id]
            ix.state, ix.agent, ix.target, ix.sticky, ix.excluded = "offered", d.agent_id, None, None, {}
            ix.offer_expires = d.expires_at
            self.agents[d.agent_id].load[d.channel] += 1
        elif isinstance(d, RevokeOffer):
            if d.reason in ("abandoned", "transferred"):
                return  # the event already undid the offer
            ix = self.ixs[d.interaction_id]
            check(ix.state == "offered" and ix.agent == d.agent_id, f"revoke of an offer not made: {d}")
            self.agents[d.agent_id].load[ix.channel] -= 1
            ix.state, ix.agent = "queued", None
            if d.reason == "expired":
                ix.excluded[d.agent_id] = ix.offer_expires + cfg.reject_cooldown_s
        elif isinstance(d, Requeued):
            ix = self.ixs[d.interaction_id]
            check(ix.state == "queued" and ix.queue == d.queue, f"requeue mismatch: {d}")
            ix.target = None
        elif isinstance(d, Assigned):
            check(self.ixs[d.interaction_id].state == "assigned", f"assigned mismatch: {d}")
        elif isinstance(d, Escalated):
            ix = self.ixs[d.interaction_id]
            check(d.step == ix.step + 1 and ix.state in ("queued", "offered"), f"bad escalation {d}")
            check(d.step <= len(cfg.queues[ix.queue].escalation), f"escalation past the last step {d}")
            due = ix.enqueued_at + cfg.queues[ix.queue].escalation[d.step - 1].after_s
            check(due <= self.now + EPS, f"{d} before its time {due} (entered the queue at {ix.enqueued_at})")
            ix.step = d.step
        elif isinstance(d, NoAgent):
            ix = self.ixs.pop(d.interaction_id)
            check(ix.state == "queued", f"NoAgent for a {ix.state} interaction")
            check(d.action == cfg.queues[ix.queue].no_agent_action, "wrong no-agent action")
            max_wait = cfg.queues[ix.queue].max_wait_s
            check(max_wait is not None and not ix.keep_waiting, f"NoAgent without a max wait: {d}")
            due = ix.enqueued_at + max_wait  # type: ignore[operator]
            check(due <= self.now + EPS, f"{d} before its time {due} (entered the queue at {ix.enqueued_at})")
        elif isinstance(d, AgentForcedAway):
            agent = self.agents[d.agent_id]
            check(agent.state is AgentState.AVAILABLE, "forced away while not available")
            agent.state = AgentState.AWAY
        elif isinstance(d, WrapUpEnded):
            ix = self.ixs.pop(d.interaction_id)
            check(ix.state == "wrap_up" and ix.agent == d.agent_id, f"wrap-up end mismatch {d}")
            self.agents[d.agent_id].load[ix.channel] -= 1
        elif isinstance(d, Transferred):
            ix = self.ixs[d.interaction_id]
            check(ix.queue == d.to_queue and ix.target == d.to_agent, f"transfer mismatch {d}")
        else:
            raise ModelViolation(f"unknown decision {d!r}")

    def check_offer(self, d: Offer) -> None:
        self.offers_checked += 1
        ix = self.ixs.get(d.interaction_id)
        check(ix is not None, f"offer of unknown interaction {d}")
        assert ix is not None
        check(ix.state == "queued", f"second outstanding offer for {d.interaction_id} ({ix.state})")
        check((ix.queue, ix.channel) == (d.queue, d.channel), f"offer names the wrong queue/channel {d}")
        agent = self.agents.get(d.agent_id)
        check(agent is not None, f"offer to unknown agent {d}")
        assert agent is not None
        now = d.expires_at - self.config.offer_timeout_s[d.channel]
        check(abs(d.waited_s - (now - ix.arrived_at)) < EPS, f"waited_s wrong in {d}")
        check(agent.state is AgentState.AVAILABLE, f"offer to a {agent.state} agent: {d}")
        check(self.has_slot(agent, d.channel), f"offer beyond capacity or voice exclusivity: {d} load={agent.load}")
        if ix.target is not None:
            check(ix.target == d.agent_id, f"transfer to {ix.target} offered to {d.agent_id}")
        else:
            check(self.eligible(agent, ix), f"agent lacks skills for step {ix.step}: {d} skills={agent.skills}")
        if ix.sticky is not None and ix.sticky != d.agent_id:
            check(now >= ix.sticky_until - EPS, f"sticky for {ix.sticky} offered to {d.agent_id} at {now}")
        until = ix.excluded.get(d.agent_id)
        check(until is None or now >= until - EPS, f"offer to an agent in cool-down: {d}")
        mine = self.effective(ix, now)
        for other_id, other in self.ixs.items():
            if other is ix or not self.could_take(d.agent_id, other, now, strict=False):
                continue
            theirs = self.effective(other, now)
            check(theirs <= mine + EPS, f"{d.agent_id} offered {d.interaction_id} ({mine:.4f}) while "
                                        f"{other_id} ({theirs:.4f}) was open to them at {now}")
            if theirs == mine:
                check((other.arrived_at, other.seq) >= (ix.arrived_at, ix.seq),
                      f"FIFO broken: {d.interaction_id} offered before older {other_id}")

    def check_settled(self, now: float) -> None:
        """After a handle: nothing that could be offered is left unoffered, no queue clock is overdue."""
        for iid, ix in self.ixs.items():
            if ix.state not in ("queued", "offered"):
                continue
            spec = self.config.queues[ix.queue]
            if ix.step < len(spec.escalation):
                due = ix.enqueued_at + spec.escalation[ix.step].after_s
                check(due > now - EPS, f"{iid} not escalated to step {ix.step + 1}, due at {due}, now {now}")
            if ix.state == "queued" and spec.max_wait_s is not None and not ix.keep_waiting:
                due = ix.enqueued_at + spec.max_wait_s
                check(due > now - EPS, f"{iid} still queued past its max wait, due at {due}, now {now}")
        for agent_id, agent in self.agents.items():
            if agent.state is not AgentState.AVAILABLE:
                continue
            for iid, ix in self.ixs.items():
                check(not self.could_take(agent_id, ix, now, strict=True),
                      f"{agent_id} could take {iid} at {now} but nothing was offered")
