"""What an agent can do from the console, checked and carried out.

Moves that routing decides (accept, reject, state, transfer, wrap-up, close) go
through the router service; replies and notes are written directly, each in
one transaction with the touchpoint, the outbox row and the console event (a
reply, the commonest console action, in one statement: ``cc_agent_reply``).
A refused action raises ``ActionError`` and changes nothing.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import routing as r
from contactcenter.acd.call_events import CallEventRefused, record_call_event
from contactcenter.acd.feed import AgentFeed
from contactcenter.acd.rebuild import agent_updated
from contactcenter.acd.service import RouterService
from contactcenter.db import Database
from contactcenter.hub import protocol as p
from contactcenter.model import ActorKind, InteractionState, TouchpointKind
from contactcenter.store import AgentEvent, InteractionNotFound, Tx
from contactcenter.store.records import Agent, Interaction, Touchpoint, to_json

# Called after a reply commits, per channel, so the channel can deliver at once (chat) or wake its sender.
OutboundHook = Callable[[Interaction, Touchpoint], Awaitable[None]]
# Called when the agent types in a conversation (chat shows "agent is typing").
TypingHook = Callable[[Interaction, Agent], Awaitable[None]]
# Checked inside the reply's transaction; raises ActionError to refuse (SMS opt-out).
ReplyGuard = Callable[[Tx, Interaction], Awaitable[None]]

# The states in which the agent holding an interaction may reply to it.
_REPLYABLE = (InteractionState.ASSIGNED, InteractionState.WRAP_UP)
# The whole reply in one statement (migration 0008): agent, interaction, text, client_msg_id, agent name,
# dedupe key, channels with a reply guard.
_REPLY = "SELECT * FROM cc_agent_reply($1, $2, $3, $4, $5, $6, $7)"

_R = TypeVar("_R")


class ActionError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _refusal(code: str, iid: uuid.UUID) -> ActionError:
    """The console error for an interaction the agent may not act on (one wording, Python or SQL check)."""
    if code == "unknown_interaction":
        return ActionError(code, f"no such interaction: {iid}")
    return ActionError(code, "this interaction is not assigned to you")


class _NotHeld(r.RoutingError):
    """An ownership check made in the router task failed; carries the console's refusal.

    A ``RoutingError`` because ``RouterService`` hands a RoutingError (or
    ValueError) raised by a job's ``make`` to that job's submitter alone; any
    other exception would fail the whole batch and force a rebuild.
    """

    def __init__(self, refusal: ActionError) -> None:
        super().__init__(r.ErrorCode.BAD_STATE, refusal.message)
        self.refusal = refusal


def _refuse_if_error(row: Mapping[str, Any], iid: uuid.UUID) -> None:
    if row["o_error"] is not None:
        raise _refusal(row["o_error"], iid)


def _prefixed(cls: type[_R], row: Mapping[str, Any], prefix: str) -> _R:
    """Record ``cls`` from the row's columns named ``prefix`` + field (a function's OUT parameters)."""
    return cls(**{f.name: row[prefix + f.name] for f in dataclasses.fields(cls)})


class AgentActions:
    def __init__(
        self,
        db: Database,
        feed: AgentFeed,
        router: RouterService,
        *,
        dispositions: frozenset[str] = frozenset(),
        queues: frozenset[str] = frozenset(),
    ) -> None:
        self.db = db
        self.feed = feed
        self.router = router
        self.dispositions = dispositions
        self.queues = queues
        self.outbound_hooks: dict[str, OutboundHook] = {}
        self.typing_hooks: dict[str, TypingHook] = {}
        self.reply_guards: dict[str, ReplyGuard] = {}

    async def handle(self, agent: Agent, message: Any) -> dict[str, Any] | None:
        """Carry out one console message; return an immediate (unnumbered) answer, if any."""
        match message:
            case p.PingMessage():
                return {"type": "pong"}
            case p.CallEventMessage(interaction_id=iid, event=event, talk_time_s=talk, target=target):
                details = {k: v for k, v in (("talk_time_s", talk), ("target", target)) if v is not None}
                try:
                    await record_call_event(self.db, self.feed, self.router, iid, event, actor_kind=ActorKind.AGENT,
                                            actor_id=str(agent.id), details=details, agent_id=agent.id)
                except CallEventRefused as exc:
                    raise ActionError(exc.code, str(exc)) from None
            case p.TypingMessage(interaction_id=iid):
                interaction = await self._own(agent, iid, InteractionState.ASSIGNED)
                hook = self.typing_hooks.get(interaction.channel)
                if hook is not None:
                    await hook(interaction, agent)
            case p.StateMessage(state=state, reason=reason):
                await self._route(agent, lambda at: r.AgentStateChanged(
                    at=at, agent_id=str(agent.id), state=r.AgentState(state), reason=reason))
            case p.AcceptMessage(interaction_id=iid):
                await self._route(agent, lambda at: r.OfferAccepted(
                    at=at, interaction_id=str(iid), agent_id=str(agent.id)))
            case p.RejectMessage(interaction_id=iid):
                await self._route(agent, lambda at: r.OfferRejected(
                    at=at, interaction_id=str(iid), agent_id=str(agent.id)))
            case p.ReplyMessage():
                await self._reply(agent, message)
            case p.NoteMessage(interaction_id=iid, text=text):
                await self._note(agent, iid, text)
            case p.TransferMessage():
                await self._transfer(agent, message)
            case p.WrapUpMessage(interaction_id=iid, disposition=disposition, notes=notes):
                if self.dispositions and disposition not in self.dispositions:
                    raise ActionError("unknown_disposition",
                                      f"unknown disposition {disposition!r}; use one of {sorted(self.dispositions)}")
                await self._routed_state(agent, iid, InteractionState.ASSIGNED)
                await self._route(agent, lambda at: r.InteractionEnded(at=at, interaction_id=str(iid)),
                                  disposition=disposition, notes=notes)
            case p.CloseMessage(interaction_id=iid):
                state = await self._routed_state(agent, iid, InteractionState.ASSIGNED, InteractionState.WRAP_UP)
                if state == InteractionState.ASSIGNED:
                    decisions = await self._route(agent, lambda at: r.InteractionEnded(at=at, interaction_id=str(iid)))
                    if any(isinstance(d, r.WrapUpEnded) for d in decisions):
                        return None  # no wrap-up time on this channel: ending it closed it
                await self._route(agent, lambda at: r.WrapUpCompleted(at=at, interaction_id=str(iid)))
        return None

    async def sync_profile(self, agent: Agent) -> None:
        """Tell the router the agent's current skills and capacity (on every console connect)."""
        await self.router.submit(lambda at: agent_updated(agent, at))

    async def _route(self, agent: Agent, make: Callable[[float], object], **extra: Any) -> list[object]:
        try:
            return await self.router.submit(make, actor=str(agent.id), **extra)
        except _NotHeld as exc:
            raise exc.refusal from None
        except r.RoutingError as exc:
            raise ActionError(exc.code, str(exc)) from None
        except ValueError as exc:
            raise ActionError("invalid", str(exc)) from None

    async def _own(self, agent: Agent, iid: uuid.UUID, *states: InteractionState) -> Interaction:
        async with self.db.connection() as tx:
            return await self._owned(tx, agent, iid, states)

    async def _routed_state(self, agent: Agent, iid: uuid.UUID, *states: InteractionState) -> str:
        """The interaction's state, which must be one of ``states`` with ``agent`` holding it.

        The router's memory answers without a database read (it is what the
        routing move will be checked against anyway); when it does not confirm,
        the store does, so a refusal says precisely why (unknown or not yours).
        """
        held = self.router.router.interaction_holder(str(iid))
        if held is not None and held[1] == str(agent.id) and held[0] in states:
            return str(held[0])
        return str((await self._own(agent, iid, *states)).state)

    @staticmethod
    async def _owned(tx: Tx, agent: Agent, iid: uuid.UUID, states: tuple[InteractionState, ...]) -> Interaction:
        try:
            interaction = await tx.interactions.get(iid)
        except InteractionNotFound:
            raise _refusal("unknown_interaction", iid) from None
        if interaction.agent_id != agent.id or interaction.state not in states:
            raise _refusal("not_assigned", iid)
        return interaction

    async def _reply(self, agent: Agent, message: p.ReplyMessage) -> None:
        """Store the reply, queue it for delivery and ack it: one statement (``cc_agent_reply``).

        The function is the only write path. On a channel with a reply guard it
        writes nothing and says so, since the guard is Python that must run in
        the reply's transaction; then the guard and the same function run in
        one transaction (a few more round trips, only on guarded channels).
        """
        args = (agent.id, message.interaction_id, message.text, message.client_msg_id, agent.display_name,
                f"{agent.id}:{message.client_msg_id}")
        async with self.db.connection() as tx:
            row = await tx.conn.fetchrow(_REPLY, *args, list(self.reply_guards))
        _refuse_if_error(row, message.interaction_id)
        if row["o_guarded"]:
            async with self.db.transaction() as tx:
                interaction = await self._owned(tx, agent, message.interaction_id, _REPLYABLE)
                guard = self.reply_guards.get(interaction.channel)
                if guard is not None:
                    await guard(tx, interaction)
                row = await tx.conn.fetchrow(_REPLY, *args, [])
            _refuse_if_error(row, message.interaction_id)
        interaction = _prefixed(Interaction, row, "i_")
        touchpoint = None if row["o_duplicate"] else _prefixed(Touchpoint, row, "t_")
        self.feed.publish([AgentEvent(agent.id, int(row["o_seq"]), "ack", row["o_event"])])
        hook = self.outbound_hooks.get(interaction.channel)
        if touchpoint is not None and hook is not None:
            await hook(interaction, touchpoint)

    async def _note(self, agent: Agent, iid: uuid.UUID, text: str) -> None:
        async with self.db.transaction() as tx:
            interaction = await self._owned(
                tx, agent, iid, (InteractionState.OFFERED, InteractionState.ASSIGNED, InteractionState.WRAP_UP)
            )
            touchpoint = await tx.touchpoints.append(
                customer_id=interaction.customer_id, interaction_id=interaction.id, kind=TouchpointKind.NOTE,
                channel=interaction.channel, actor_kind=ActorKind.AGENT, actor_id=str(agent.id), body=text,
                payload={"agent_name": agent.display_name},
            )
            event = await tx.agent_events.append(
                agent.id, "message", {"interaction_id": str(interaction.id), "touchpoint": to_json(touchpoint)})
        self.feed.publish([event])

    async def _transfer(self, agent: Agent, message: p.TransferMessage) -> None:
        """Hand the interaction over, if ``agent`` still holds it when the router takes the transfer.

        The first check gives a precise refusal early; the target lookup awaits
        the database, during which the interaction may move on (another of the
        agent's consoles transfers it, a colleague accepts it), so the check is
        made again inside ``make``, which the router task runs in order with
        every other routing event. A target the router has not heard of (added
        after start, no console since) is told to it first, as a connect would.
        """
        iid = message.interaction_id
        await self._routed_state(agent, iid, InteractionState.ASSIGNED)
        to_agent: str | None = None
        if message.queue is not None and message.queue not in self.queues:
            raise ActionError("unknown_queue", f"unknown queue {message.queue!r}")
        if message.agent is not None:
            async with self.db.connection() as tx:
                target = await tx.agents.by_login(message.agent)
                if target is None:
                    try:
                        target = await tx.agents.get(uuid.UUID(message.agent))
                    except ValueError:
                        target = None
            if target is None:
                raise ActionError("unknown_agent", f"no agent {message.agent!r}")
            to_agent = str(target.id)
            if not target.disabled and self.router.router.agent_state(to_agent) is None:
                known = target
                await self._route(agent, lambda at: agent_updated(known, at))

        def transferred(at: float) -> r.InteractionTransferred:
            held = self.router.router.interaction_holder(str(iid))
            if held is None or held[1] != str(agent.id) or held[0] is not r.InteractionState.ASSIGNED:
                raise _NotHeld(_refusal("not_assigned", iid))
            return r.InteractionTransferred(at=at, interaction_id=str(iid), to_queue=message.queue, to_agent=to_agent)

        await self._route(agent, transferred)
