"""Web chat, the customer side: the embeddable widget and its websocket, ``/chat/ws``.

``setup(app, context)`` is all the composition root calls. It serves
``/widget.js`` (and its stylesheet), accepts widget connections on
``/chat/ws``, and hooks the channel into the agent side: agent replies and
typing reach the customer at once, routing changes become ``agent_joined`` /
``queue`` / ``closed``, and the router's no-agent decision offers the offline
form. Customer messages enter only through ``context.intake``.
"""

from __future__ import annotations

from aiohttp import web

from channels.webchat import assets
from channels.webchat.hub import ChatHub
from contactcenter.channel_context import ChannelContext
from contactcenter.model import Channel

CHAT_HUB = web.AppKey("chat_hub", ChatHub)

__all__ = ["CHAT_HUB", "ChatHub", "setup"]


def setup(app: web.Application, context: ChannelContext) -> None:
    hub = ChatHub(context)
    app[CHAT_HUB] = hub
    assets.add_routes(app)
    app.router.add_get("/chat/ws", hub.handle)
    chat = str(Channel.CHAT)
    context.actions.outbound_hooks[chat] = hub.live.agent_replied
    context.actions.typing_hooks[chat] = hub.live.agent_typing
    context.router.channel_listeners[chat] = hub.live.conversation_changed
    context.router.no_agent_handlers[chat] = hub.live.no_agent
    app.cleanup_ctx.append(hub.lifecycle)
    app.on_shutdown.append(hub.close_all)
