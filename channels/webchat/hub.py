"""``/chat/ws``: the customer's live connection from the embedded widget.

The Origin of the upgrade request is the page that embeds the widget; it must
be one of the widget's ``allowed_origins``, checked before the upgrade (403
JSON otherwise) so that no other site can script a chat in our name.

Everything a customer writes goes through ``Intake`` and is acknowledged only
after it is committed. The dedupe key is visitor + ``client_msg_id``, so a
widget resending unacknowledged messages after a reconnect stores each once,
and because each connection handles its messages one after the other (and a
resend of message N waits on the first copy's dedupe row), they are stored in
the order the customer wrote them. Refused input is answered with ``error``
and the connection stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

from channels.webchat import conversations
from channels.webchat.availability import Availability
from channels.webchat.connection import ChatConnection
from channels.webchat.live import LiveChats
from channels.webchat.protocol import (
    MAX_FRAME_BYTES,
    BadMessage,
    ChatText,
    Hello,
    OfflineForm,
    Ping,
    TranscriptRequest,
    Typing,
    error,
    parse_client_message,
)
from channels.webchat.transcript import TranscriptRefused, queue_transcript
from channels.webchat.visitors import Visitor, VisitorStore, link_customer
from channels.webchat.waiting import WaitEstimator
from contactcenter.acd.intake import InboundMessage, IntakeResult
from contactcenter.api.errors import ApiError
from contactcenter.channel_context import ChannelContext
from contactcenter.config.schema_channels import Widget
from contactcenter.db import StoreError
from contactcenter.identity import normalise_email, normalise_phone
from contactcenter.model import KEEP_WAITING, Channel, IdentityKind, InteractionState
from contactcenter.store.records import Interaction
from contactcenter.websocket_shutdown import close_websockets

log = logging.getLogger(__name__)

HEARTBEAT_S = 25.0  # server pings: a vanished phone is noticed, NAT entries stay open
TYPING_EVERY_S = 1.0  # customer typing forwarded to the agent at most this often


class ChatHub:
    def __init__(self, context: ChannelContext) -> None:
        self.settings = context.settings
        self.db = context.db
        self.intake = context.intake
        self.feed = context.feed
        self.widgets: dict[str, Widget] = {w.name: w for w in context.settings.channels.webchat.widgets}
        self.availability = Availability(context.settings, context.db)
        defaults = {name: queue.service_level for name, queue in context.settings.queues.items()}
        self.live = LiveChats(context.db, context.router, self.availability, WaitEstimator(defaults))
        self.connections: set[ChatConnection] = set()

    # -- lifecycle -----------------------------------------------------------------------------

    async def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        """cleanup_ctx: seed the wait estimates, run the queue-position updates."""
        await self.live.seed_estimates()
        updates = asyncio.create_task(self.live.run_queue_updates(), name="chat-queue-updates")
        yield
        updates.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await updates

    async def close_all(self, app: web.Application) -> None:
        await close_websockets(conn.ws for conn in list(self.connections))

    # -- the websocket -------------------------------------------------------------------------

    def _checked_widget(self, request: web.Request) -> tuple[Widget | None, str]:
        """The widget named in ``?widget=`` (if any) and the request's Origin, refused unless allowed."""
        origin = (request.headers.get("Origin") or "").strip().lower().rstrip("/")
        name = request.query.get("widget")
        widget = None
        if name is not None:
            widget = self.widgets.get(name)
            if widget is None:
                raise ApiError(404, "unknown_widget", f"no chat widget named {name!r}")
            allowed = set(widget.allowed_origins)
        else:
            allowed = {o for w in self.widgets.values() for o in w.allowed_origins}
        if origin not in allowed:
            raise ApiError(403, "bad_origin", "this page's origin may not open the chat; add it to allowed_origins")
        return widget, origin

    async def handle(self, request: web.Request) -> web.StreamResponse:
        widget, origin = self._checked_widget(request)
        # The frame limit is a hard stop (1009); texts over MAX_TEXT are refused with an error instead.
        # aiohttp refuses a frame of max_msg_size bytes or more, and a frame of exactly 64 KiB is allowed.
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=MAX_FRAME_BYTES * 4 + 1)
        await ws.prepare(request)
        conn = ChatConnection(ws, widget, origin)
        conn.transport = request.transport
        conn.start()
        self.connections.add(conn)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._dispatch(conn, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    conn.send(error("bad_message", "send JSON text messages"))
        finally:
            self.live.unregister(conn)
            self.connections.discard(conn)
            await conn.stop()
            await ws.close()
        return ws

    async def _dispatch(self, conn: ChatConnection, text: str) -> None:
        ref: dict[str, Any] = {}
        try:
            data = json.loads(text)
            if isinstance(data, dict) and isinstance(data.get("client_msg_id"), str):
                ref = {"client_msg_id": data["client_msg_id"][:100]}
            message = parse_client_message(data)
            if isinstance(message, Hello):
                await self._hello(conn, message)
            elif isinstance(message, Ping):
                conn.send({"type": "pong"})
            elif conn.visitor is None or conn.widget is None:
                raise BadMessage("hello_first", "send hello first")
            elif isinstance(message, ChatText):
                await self._message(conn, conn.visitor, conn.widget, message)
            elif isinstance(message, Typing):
                await self._typing(conn)
            elif isinstance(message, TranscriptRequest):
                await self._transcript(conn, conn.visitor, conn.widget, message)
            elif isinstance(message, OfflineForm):
                await self._offline(conn, conn.visitor, conn.widget, message)
        except json.JSONDecodeError:
            conn.send(error("bad_json", "messages must be JSON objects"))
        except BadMessage as exc:
            conn.send({**error(exc.code, exc.message), **ref})
        except TranscriptRefused as exc:
            conn.send(error(exc.code, exc.message))
        except StoreError as exc:
            log.warning("chat message not handled: %s", exc)
            conn.send({**error("unavailable", "we cannot take messages right now; retrying"), **ref})
        except Exception:  # our bug: say so, keep the connection (the widget does not resend on this code)
            log.exception("chat message failed")
            conn.send({**error("internal", "this message could not be handled"), **ref})

    # -- hello ---------------------------------------------------------------------------------

    async def _hello(self, conn: ChatConnection, hello: Hello) -> None:
        widget = self.widgets.get(hello.widget)
        if widget is None or (conn.widget is not None and conn.widget.name != widget.name):
            raise BadMessage("unknown_widget", f"no chat widget named {hello.widget!r} on this connection")
        if conn.origin not in widget.allowed_origins:
            await conn.finish(error("bad_origin", "this page's origin may not use this widget"), 1008,
                              b"origin not allowed")
            return
        conn.widget = widget
        if hello.language is not None:
            conn.language = hello.language
        prechat, claims = self._prechat(widget, hello)
        conn.hold()
        try:
            token, visitor, created = await self._identify(widget, hello.visitor_token, prechat, claims)
            self.live.unregister(conn)
            conn.visitor = visitor
            self.live.register(conn)  # before the snapshot: what commits meanwhile is held, not lost
            interaction: Interaction | None = None
            if created:
                # Nothing to read: a visitor created by this hello has no conversation, and none can
                # start before its welcome. Its visitor_id was drawn just now and its token is only in
                # that welcome, so the only thing that can start one is this connection's next message,
                # which waits for this hello (a connection's messages are handled one at a time). With
                # no interaction on the thread no reply, routing change or other tab's message can
                # commit for it meanwhile, so registering first still loses nothing.
                view = conversations.empty_view()
            else:
                async with self.db.transaction(isolation="repeatable_read") as tx:
                    view, interaction = await conversations.snapshot(tx, visitor.thread_key,
                                                                     after_id=hello.last_id or 0)
            online, reason = await self.availability.status(widget, self._queue(widget, visitor))
        except BaseException:
            conn.welcome_failed()
            raise
        conn.queue = None if interaction is None else interaction.queue
        conn.welcome({
            "type": "welcome",
            "visitor_token": token,
            "conversation": view,
            "greeting": widget.greeting,
            "online": online,
            "offline_reason": reason,
            "prechat_fields": list(widget.prechat_fields),
            "prechat_done": visitor.prechat is not None,
            "topics": list(widget.topics),
        })
        self.live.queue_update(conn)

    async def _identify(self, widget: Widget, token: str | None, prechat: dict[str, str],
                        claims: list[tuple[IdentityKind, str]]) -> tuple[str, Visitor, bool]:
        """The visitor holding ``token`` on ``widget``, or a new one: (token, visitor, created by this call).

        Without pre-chat answers (and so without identity claims) each statement
        stands alone: looking the token up is one UPDATE, creating a visitor one
        INSERT, each its own transaction. So they run outside an explicit one and
        a new visitor's hello costs a single round trip, not BEGIN + INSERT + COMMIT.
        Pre-chat answers and the customer link commit together with the visitor,
        so with them everything runs in one transaction.
        """
        if not prechat and not claims:
            async with self.db.connection() as tx:
                return await self._find_or_create(VisitorStore(tx.conn), widget, token, None)
        async with self.db.transaction() as tx:
            visitors = VisitorStore(tx.conn)
            token, visitor, created = await self._find_or_create(visitors, widget, token, prechat)
            if not created:  # a new visitor's row was inserted with the answers already
                visitor = await visitors.save_prechat(visitor, prechat)
            if claims or prechat.get("name"):
                await link_customer(tx, visitor, claims, prechat.get("name"))
        return token, visitor, created

    @staticmethod
    async def _find_or_create(visitors: VisitorStore, widget: Widget, token: str | None,
                              prechat: dict[str, str] | None) -> tuple[str, Visitor, bool]:
        """The visitor of ``token`` (marked as seen), else a new one with ``prechat``; and whether it is new."""
        if token:
            visitor = await visitors.by_token(token, widget.name)
            if visitor is not None:
                return token, visitor, False
        token, visitor = await visitors.create(widget.name, prechat)
        return token, visitor, True

    def _prechat(self, widget: Widget, hello: Hello) -> tuple[dict[str, str], list[tuple[IdentityKind, str]]]:
        """The pre-chat answers in ``hello``, checked, and the identities they claim (normalised)."""
        prechat: dict[str, str] = {}
        claims: list[tuple[IdentityKind, str]] = []
        if hello.name:
            prechat["name"] = hello.name
        if hello.email:
            prechat["email"] = _email(hello.email)
            claims.append((IdentityKind.EMAIL, prechat["email"]))
        if hello.phone:
            try:
                prechat["phone"] = normalise_phone(hello.phone, self.settings.server.default_phone_region)
            except ValueError as exc:
                raise BadMessage("bad_phone", str(exc)) from None
            claims.append((IdentityKind.PHONE, prechat["phone"]))
        if hello.topic:
            if hello.topic not in widget.topics:
                raise BadMessage("bad_topic", f"unknown topic; choose one of {list(widget.topics)}")
            prechat["topic"] = hello.topic
        return prechat, claims

    @staticmethod
    def _queue(widget: Widget, visitor: Visitor) -> str:
        topic = (visitor.prechat or {}).get("topic")
        return widget.topics.get(topic, widget.queue) if topic else widget.queue

    # -- customer messages ---------------------------------------------------------------------

    async def _receive(self, conn: ChatConnection, visitor: Visitor, widget: Widget, text: str,
                       client_msg_id: str | None, *, keep_waiting: bool = False, **extra: Any) -> IntakeResult:
        """Store one customer message through intake: join the open conversation, or start one.

        ``keep_waiting``: a conversation it starts waits for an agent however long that takes (the
        queue's ``max_wait`` does not close it): an offline form is a message left, not a customer
        still watching the widget.
        """
        prechat = visitor.prechat or {}
        attributes: dict[str, Any] = {"widget": widget.name, "visitor_id": visitor.visitor_id, "origin": conn.origin}
        if prechat.get("topic"):
            attributes["topic"] = prechat["topic"]
        if prechat.get("email"):
            attributes.update(claimed_email=prechat["email"], email_verified=False)
        payload: dict[str, Any] = {"widget": widget.name}
        if client_msg_id is not None:
            payload["client_msg_id"] = client_msg_id
        attributes.update(extra)
        payload.update(extra)
        if keep_waiting:
            attributes[KEEP_WAITING] = True
        queue = self._queue(widget, visitor)
        result = await self.intake.receive(InboundMessage(
            channel=Channel.CHAT, identity_kind=IdentityKind.CHAT, address=visitor.visitor_id, queue=queue,
            body=text, subject=prechat.get("topic"), display_name=prechat.get("name", ""),
            dedupe_key=None if client_msg_id is None else f"{visitor.visitor_id}:{client_msg_id}",
            thread_key=visitor.thread_key, payload=payload, attributes=attributes,
        ))
        if not result.duplicate:
            conn.adopt(result.interaction_id)
            if result.created:
                conn.state, conn.queue = "waiting", queue
            self._echo(conn, visitor, result, text, client_msg_id, queue)
        if result.touchpoint_id is not None:
            conn.remember(result.touchpoint_id)
        return result

    def _echo(self, conn: ChatConnection, visitor: Visitor, result: IntakeResult, text: str,
              client_msg_id: str | None, queue: str) -> None:
        """Show the message in the visitor's other tabs (which, for a new conversation, wait in ``queue`` too)."""
        message = {"type": "message", "id": result.touchpoint_id, "conversation_id": str(result.interaction_id),
                   "from": "customer", "text": text, "at": datetime.now(UTC).isoformat()}
        if client_msg_id is not None:
            message["client_msg_id"] = client_msg_id
        for other in self.live.of_visitor(visitor.visitor_id):
            if other is not conn:
                other.adopt(result.interaction_id)
                if result.created:
                    other.state, other.queue = "waiting", queue
                other.push(message)

    async def _message(self, conn: ChatConnection, visitor: Visitor, widget: Widget, message: ChatText) -> None:
        result = await self._receive(conn, visitor, widget, message.text, message.client_msg_id)
        conn.send({"type": "ack", "client_msg_id": message.client_msg_id, "id": result.touchpoint_id,
                   "conversation_id": str(result.interaction_id), "duplicate": result.duplicate})
        if result.created:
            self.live.queue_update(conn)

    async def _offline(self, conn: ChatConnection, visitor: Visitor, widget: Widget, form: OfflineForm) -> None:
        """The offline form: a queued chat marked ``offline_form`` (answered by e-mail once that channel runs)."""
        email = _email(form.email)
        async with self.db.transaction() as tx:
            visitors = VisitorStore(tx.conn)
            prechat = {"email": email, **({"name": form.name} if form.name else {})}
            visitor = await visitors.save_prechat(visitor, prechat)
            await link_customer(tx, visitor, [(IdentityKind.EMAIL, email)], form.name or None)
        conn.visitor = visitor
        mailbox = self._offline_mailbox(self._queue(widget, visitor))
        if mailbox is not None:
            # With e-mail wired, the answer goes by e-mail: the form is an e-mail interaction.
            result = await self.intake.receive(InboundMessage(
                channel=Channel.EMAIL, identity_kind=IdentityKind.EMAIL, address=email, queue=mailbox.queue,
                body=form.message, subject=OFFLINE_SUBJECT.get(conn.language, OFFLINE_SUBJECT["en"]),
                display_name=form.name or "",
                dedupe_key=None if form.client_msg_id is None else f"offline:{visitor.visitor_id}:{form.client_msg_id}",
                payload={"widget": widget.name, "offline_form": True},
                attributes={"offline_form": True, KEEP_WAITING: True, "widget": widget.name,
                            "email_mailbox": mailbox.name,
                            "visitor_id": visitor.visitor_id},
            ))
        else:
            result = await self._receive(conn, visitor, widget, form.message, form.client_msg_id, keep_waiting=True,
                                         offline_form=True)
        conn.send({"type": "offline_received", "id": result.touchpoint_id, "client_msg_id": form.client_msg_id,
                   "conversation_id": str(result.interaction_id)})

    def _offline_mailbox(self, queue: str) -> Any:
        """The mailbox that answers offline forms for ``queue``: one feeding it, else the first; None without e-mail."""
        mailboxes = self.settings.channels.email.mailboxes
        if not mailboxes:
            return None
        return next((m for m in mailboxes if m.queue == queue), mailboxes[0])

    async def _typing(self, conn: ChatConnection) -> None:
        now = asyncio.get_running_loop().time()
        if conn.conversation_id is None or now - conn.last_typing < TYPING_EVERY_S:
            return
        conn.last_typing = now
        async with self.db.connection() as tx:
            interaction = await tx.interactions.get(conn.conversation_id)
        if interaction.state == InteractionState.ASSIGNED and interaction.agent_id is not None:
            self.feed.signal(interaction.agent_id, {"type": "typing", "interaction_id": str(interaction.id)})

    async def _transcript(self, conn: ChatConnection, visitor: Visitor, widget: Widget,
                          request: TranscriptRequest) -> None:
        email = _email(request.email)
        async with self.db.transaction() as tx:
            interaction = await conversations.latest(tx, visitor.thread_key)
            if interaction is None:
                raise BadMessage("no_conversation", "there is no conversation to send")
            await queue_transcript(tx, interaction.id, email, widget=widget.name, language=conn.language,
                                   timezone=self.settings.server.timezone)
        conn.send({"type": "transcript_queued", "email": email, "conversation_id": str(interaction.id)})


OFFLINE_SUBJECT = {"zh-CN": "网页留言", "en": "Message from the web chat"}


def _email(text: str) -> str:
    try:
        return normalise_email(text)
    except ValueError:
        raise BadMessage("bad_email", "that is not an e-mail address") from None
