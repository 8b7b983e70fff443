"""Property tests: random event sequences against the invariants in ``model.py``.

Each sequence is built step by step from the current state (accept only what was
offered, end only what is assigned, ...), with a sprinkle of deliberately illegal
moves.  Before every event the clock is ticked to the event's time, so the model
can apply the event exactly where the router did.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from routing import (
    AgentStateChanged,
    AgentUpdated,
    Channel,
    EscalationStep,
    InteractionAbandoned,
    InteractionArrived,
    InteractionEnded,
    InteractionRestored,
    InteractionTransferred,
    Offer,
    OfferAccepted,
    OfferRejected,
    QueueSpec,
    Router,
    RoutingConfig,
    RoutingError,
    Tick,
    WrapUpCompleted,
)
from tests.routing.model import Model

AGENTS = ["a0", "a1", "a2", "a3", "a4"]
SKILLS = ["s0", "s1", "s2", "s3"]
TIERS = ["standard", "silver", "gold", "platinum", "diamond"]
STRATEGIES = ["longest_idle", "least_occupied", "most_skilled", "round_robin"]
V, C, S, E = Channel.VOICE, Channel.CHAT, Channel.SMS, Channel.EMAIL


@st.composite
def configs(draw: st.DrawFn) -> RoutingConfig:
    def strategy() -> str:
        return draw(st.sampled_from(STRATEGIES))

    def aging() -> float:
        return draw(st.sampled_from([0, 0, 1, 6, 30]))

    queues = [
        QueueSpec("q0", frozenset({V, C}), {"s0": 3}, strategy(), priority=draw(st.sampled_from([0, 5])),
                  aging_per_minute=aging()),
        QueueSpec("q1", frozenset({C, S}), {"s1": 5}, strategy(), aging_per_minute=aging(),
                  max_wait_s=draw(st.sampled_from([None, 90])),
                  escalation=(EscalationStep(20, {"s1": 2}), EscalationStep(45, None, ("q2",)))),
        QueueSpec("q2", frozenset({C, E, S}), {"s2": 1, "s3": 4}, strategy(), aging_per_minute=aging(),
                  sticky_wait_s=draw(st.sampled_from([0, 15, 40]))),
        QueueSpec("q3", frozenset({V, C, E}), {}, strategy(), max_wait_s=draw(st.sampled_from([None, 40])),
                  no_agent_action="voicemail", sticky_wait_s=draw(st.sampled_from([0, 20])),
                  escalation=(EscalationStep(draw(st.sampled_from([0, 10])), {"s3": 2}, ("q0",)),)),
    ]
    wrap = draw(st.sampled_from([0, 5, 15]))
    return RoutingConfig(
        {q.name: q for q in queues},
        offer_timeout_s={V: 20, C: 30, S: 25, E: 45},
        wrapup_s={V: wrap, C: wrap / 5, S: 0, E: 0},
        default_capacity={V: 1, C: draw(st.sampled_from([1, 2])), S: 2, E: 3},
        voice_exclusive=draw(st.booleans()),
        max_missed_offers=draw(st.sampled_from([0, 1, 2, 3])),
        reject_cooldown_s=draw(st.sampled_from([5, 20])),
    )


KINDS = (["agent"] * 2 + ["presence"] * 3 + ["arrive"] * 6 + ["accept"] * 5 + ["reject"] * 2
         + ["end"] * 3 + ["wrapped", "abandon", "restore", "illegal"] + ["transfer"] * 2)


class Run:
    """A router and the model side by side; every accepted event is checked."""

    def __init__(self, config: RoutingConfig) -> None:
        self.config = config
        self.router = Router(config)
        self.model = Model(config)
        self.t = 1000.0
        self.n = 0
        self.events: list[object] = []
        self.outputs: list[object] = []
        self.queues = sorted(config.queues)
        self.channels = {q: sorted(spec.channels) for q, spec in config.queues.items()}

    def send(self, event: object) -> None:
        out = self.router.handle(event)  # type: ignore[arg-type]
        self.events.append(event)
        self.outputs.append(out)
        self.model.now = self.router.now
        self.model.event(event)
        for d in out:
            self.model.decision(d)
        self.model.check_settled(self.router.now)
        for agent_id, agent in self.model.agents.items():
            assert dict(self.router.agent_load(agent_id)) == agent.load, agent_id
            assert self.router.agent_state(agent_id) is agent.state, agent_id
        offered = sum(1 for ix in self.model.ixs.values() if ix.state == "offered")
        assert self.router.offers_outstanding() == offered
        for q in self.config.queues:
            waiting = sum(1 for ix in self.model.ixs.values() if ix.queue == q and ix.state in ("queued", "offered"))
            assert self.router.waiting(q) == waiting, q
        for iid in self.model.ixs:
            assert self.router.queue_position(iid) == self.model.position(iid, self.router.now), iid

    def refuse(self, event: object) -> None:
        before = self.router.snapshot()
        try:
            self.router.handle(event)  # type: ignore[arg-type]
        except RoutingError as err:
            self.events.append(event)
            self.outputs.append(("refused", err.code))
        else:
            raise AssertionError(f"illegal move accepted: {event!r}")
        assert self.router.snapshot() == before

    def ids(self, *states: str) -> list[str]:
        return sorted(i for i, ix in self.model.ixs.items() if ix.state in states)

    def __repr__(self) -> str:
        steps = zip(self.events, self.outputs, strict=True)
        lines = [f"Run({self.config!r})"] + [f"  {e!r} -> {o!r}" for e, o in steps]
        return "\n".join(lines)

    def new_id(self) -> str:
        self.n += 1
        return f"i{self.n}"


# Strategies are built once: constructing them per draw costs more than the router.
_INDEX: dict[int, st.SearchStrategy[int]] = {}
DT = [0, 0, 0.5, 1, 2, 5, 10, 20, 45]
BACK = [0, 0, 0, 0, 5, 30, 100]
MOVED = [None, None, 0.5, 0]  # enqueued_at: arrived_at (not moved), or this share of ``back`` ago
PRESENCE = ["available", "available", "away", "offline"]
LAST_AGENT = [None, None, "ghost", *AGENTS]
SKILL_SETS = st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 10), max_size=4)
CAPACITIES = st.one_of(st.none(), st.dictionaries(st.sampled_from(list(Channel)), st.integers(0, 3)))


class Picker:
    """Cheap draws: an index into a list, with the strategy cached by list length."""

    def __init__(self, draw: st.DrawFn) -> None:
        self._draw = draw

    def __call__(self, options: list):
        n = len(options)
        index = _INDEX.get(n)
        if index is None:
            index = _INDEX[n] = st.integers(0, n - 1)
        return options[self._draw(index)]

    def draw(self, strategy: st.SearchStrategy):
        return self._draw(strategy)


def step(run: Run, pick: Picker) -> None:
    run.t += pick(DT)
    run.send(Tick(run.t))
    t, model = run.t, run.model
    kind = pick(KINDS)
    known = sorted(model.agents)
    if kind == "agent":
        run.send(AgentUpdated(t, pick(AGENTS), pick.draw(SKILL_SETS), pick.draw(CAPACITIES)))
    elif kind == "presence" and known:
        run.send(AgentStateChanged(t, pick(known), pick(PRESENCE)))
    elif kind == "arrive":
        queue = pick(run.queues)
        channel = pick(run.channels[queue])
        target = pick(known) if known and pick(range(10)) == 0 else None  # type: ignore[arg-type]
        back = pick(BACK)
        # re-fed after a restart, having been moved into this queue half-way or just now
        moved = pick(MOVED) if back else None
        run.send(InteractionArrived(
            t, run.new_id(), queue, channel, tier=pick(TIERS), priority=pick([0, 0, 5]),
            arrived_at=t - back if back else None, last_agent_id=pick(LAST_AGENT), target_agent_id=target,
            enqueued_at=None if moved is None else t - back * moved,
        ))
    elif kind == "restore" and known:
        queue = pick(run.queues)
        run.send(InteractionRestored(t, run.new_id(), queue, pick(run.channels[queue]), pick(known)))
    elif kind in ("accept", "reject") and (offered := run.ids("offered")):
        iid = pick(offered)
        make = OfferAccepted if kind == "accept" else OfferRejected
        run.send(make(t, iid, model.ixs[iid].agent))  # type: ignore[arg-type]
    elif kind == "end" and (assigned := run.ids("assigned")):
        run.send(InteractionEnded(t, pick(assigned)))
    elif kind == "wrapped" and (wrapping := run.ids("wrap_up")):
        run.send(WrapUpCompleted(t, pick(wrapping)))
    elif kind == "abandon" and (waiting := run.ids("queued", "offered")):
        run.send(InteractionAbandoned(t, pick(waiting)))
    elif kind == "transfer" and (movable := run.ids("queued", "offered", "assigned")):
        iid = pick(movable)
        channel = model.ixs[iid].channel
        if known and pick([True, False]):
            run.send(InteractionTransferred(t, iid, to_agent=pick(known)))
        else:
            queues = [q for q in run.queues if channel in run.channels[q]]
            run.send(InteractionTransferred(t, iid, to_queue=pick(queues)))
    elif kind == "illegal":
        illegal(run, pick)


def illegal(run: Run, pick: Picker) -> None:
    t, model = run.t, run.model
    options = [OfferAccepted(t, "nope", "a0"), InteractionArrived(t, run.new_id(), "nowhere", "chat")]
    for iid in run.ids("offered"):
        wrong = [a for a in sorted(model.agents) if a != model.ixs[iid].agent]
        options += [OfferAccepted(t, iid, a) for a in wrong[:1]]
    options += [InteractionEnded(t, iid) for iid in run.ids("queued")[:1]]
    options += [InteractionAbandoned(t, iid) for iid in run.ids("assigned")[:1]]
    options += [OfferRejected(t, iid, model.ixs[iid].agent) for iid in run.ids("assigned")[:1]]  # type: ignore[misc]
    run.refuse(pick(options))


@st.composite
def runs(draw: st.DrawFn, max_steps: int = 40) -> Run:
    """A whole checked run.  The sequence is generated against the live state (so it
    is built inside the strategy), and every step is checked as it is sent."""
    pick = Picker(draw)
    run = Run(draw(configs()))
    for agent_id in AGENTS[: pick(range(len(AGENTS) + 1))]:  # type: ignore[arg-type]
        run.send(AgentUpdated(run.t, agent_id, pick.draw(SKILL_SETS)))
        if pick(range(4)):  # type: ignore[arg-type]
            run.send(AgentStateChanged(run.t, agent_id, "available"))
    for _ in range(pick(range(1, max_steps + 1))):  # type: ignore[arg-type]
        step(run, pick)
    return run


@given(runs())
def test_random_sequences_keep_every_routing_invariant(run: Run) -> None:
    """Skills, capacity, one offer per interaction, priority and FIFO at each offer;
    nothing left unmatched; loads and counts agree with the model (checked while the
    run is generated, at every step)."""
    assert run.events


def replay(config: RoutingConfig, events: list[object]) -> list[object]:
    router = Router(config)
    outputs: list[object] = []
    for event in events:
        try:
            outputs.append(router.handle(event))  # type: ignore[arg-type]
        except RoutingError as err:
            outputs.append(("refused", err.code))
    return outputs


@given(runs())
def test_replaying_the_same_events_gives_the_same_decisions(run: Run) -> None:
    assert replay(run.config, run.events) == run.outputs


@given(runs())
def test_ticks_are_optional(run: Run) -> None:
    """Dropping every Tick (one final tick aside) changes no decision and no final state."""
    lazy = Router(run.config)
    flat: list[object] = []
    for event in [e for e in run.events if not isinstance(e, Tick)] + [Tick(run.t)]:
        # a refused event's deadline decisions come out with the next call
        with contextlib.suppress(RoutingError):
            flat += lazy.handle(event)  # type: ignore[arg-type]
    expected = [d for out in run.outputs if isinstance(out, list) for d in out]
    assert flat == expected
    assert lazy.snapshot() == run.router.snapshot()


@given(
    aging=st.integers(1, 60),
    tier=st.sampled_from(["silver", "gold", "platinum", "diamond"]),
    service=st.integers(5, 60),
    offset=st.floats(0, 120),
)
def test_aging_bounds_the_wait_under_a_stream_of_higher_tiers(aging: int, tier: str, service: int,
                                                               offset: float) -> None:
    """One agent, a higher-tier interaction arriving every service time, one standard one.

    The standard interaction overtakes any higher-tier one that arrived at least
    gap / aging minutes after it, so it waits at most that long plus the few
    service times it takes for the older higher-tier backlog to clear.
    """
    config = RoutingConfig({"q": QueueSpec("q", frozenset({V}), aging_per_minute=aging)},
                           wrapup_s={V: 0}, offer_timeout_s={V: 20}, default_capacity={V: 1})
    gap = config.tier_weights[tier] - config.tier_weights["standard"]
    bound = 60 * gap / aging + 3 * service
    router = Router(config)
    router.handle(AgentUpdated(0, "ann", {}))
    router.handle(AgentStateChanged(0, "ann", "available"))
    low_at = 1 + offset
    next_high, high_n, low_sent, busy_until, current = 1.0, 0, False, None, None
    while True:
        t = min(x for x in (next_high, busy_until, None if low_sent else low_at) if x is not None)
        if not low_sent and t == low_at:
            out, low_sent = router.handle(InteractionArrived(t, "low", "q", V)), True
        elif busy_until == t:
            out, busy_until = router.handle(InteractionEnded(t, current)), None
        else:
            high_n += 1
            out = router.handle(InteractionArrived(t, f"h{high_n}", "q", V, tier=tier))
            next_high += service
        for d in out:
            if isinstance(d, Offer):
                if d.interaction_id == "low":
                    assert d.waited_s <= bound, (d.waited_s, bound)
                    return
                router.handle(OfferAccepted(t, d.interaction_id, d.agent_id))
                current, busy_until = d.interaction_id, t + service
        assert t - low_at <= bound, f"still waiting after {t - low_at}s, bound {bound}s"


def test_without_aging_a_stream_of_higher_tiers_starves_the_lower_one():
    config = RoutingConfig({"q": QueueSpec("q", frozenset({V}))}, wrapup_s={V: 0}, offer_timeout_s={V: 20})
    router = Router(config)
    router.handle(AgentUpdated(0, "ann", {}))
    router.handle(AgentStateChanged(0, "ann", "available"))
    router.handle(InteractionArrived(0, "busy", "q", V))
    router.handle(OfferAccepted(0, "busy", "ann"))
    router.handle(InteractionArrived(1, "low", "q", V))
    current = "busy"
    for n in range(200):
        t = 10.0 * (n + 1)
        router.handle(InteractionArrived(t - 5, f"h{n}", "q", V, tier="gold"))
        (offer,) = [d for d in router.handle(InteractionEnded(t, current)) if isinstance(d, Offer)]
        assert offer.interaction_id != "low"
        router.handle(OfferAccepted(t, offer.interaction_id, "ann"))
        current = offer.interaction_id


SCRIPT = """
import random, sys
from routing import *
sys.path.insert(0, ".")
cfg = RoutingConfig({"q": QueueSpec("q", frozenset(Channel), {"x": 2}, strategy=sys.argv[1]),
                     "r": QueueSpec("r", frozenset(Channel), {"y": 1}, aging_per_minute=5)})
rng = random.Random(7)
r = Router(cfg)
out = []
for a in range(6):
    out += r.handle(AgentUpdated(0, f"a{a}", {"x": rng.randint(1, 5), "y": rng.randint(1, 3)}))
    out += r.handle(AgentStateChanged(0, f"a{a}", "available"))
t = 0.0
for i in range(300):
    t += rng.choice([0, 1, 7])
    out += r.handle(InteractionArrived(t, f"i{i}", rng.choice("qr"), rng.choice(list(Channel)),
                                       tier=rng.choice(["standard", "gold"])))
    for d in list(out[-3:]):
        if isinstance(d, Offer) and r.interaction_state(d.interaction_id) == "offered" and rng.random() < 0.7:
            out += r.handle(OfferAccepted(t, d.interaction_id, d.agent_id))
    for iid in [f"i{j}" for j in range(max(0, i - 20), i)]:
        if r.interaction_state(iid) == "assigned" and rng.random() < 0.3:
            out += r.handle(InteractionEnded(t, iid))
print(repr(out))
"""


def test_decisions_do_not_depend_on_the_hash_seed():
    """Same events in another process (another string-hash seed): same decisions."""
    root = Path(__file__).resolve().parents[2]
    results = set()
    for seed, strategy in [("1", "round_robin"), ("2", "round_robin"), ("3", "least_occupied"),
                           ("4", "least_occupied")]:
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run([sys.executable, "-c", SCRIPT, strategy], cwd=root, env=env,
                              capture_output=True, text=True, check=True)
        results.add((strategy, proc.stdout))
    assert len(results) == 2
    assert all("Offer(" in out for _, out in results)
