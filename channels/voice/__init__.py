"""Voice channel: calls from a SIP trunk or PBX queue here and are redirected to agents.

``setup(app, context)`` is the composition root's entry point: with
``channels.voice.sip`` configured it adds the SIP listening point (UDP and/or
TCP), the call desk wired to the router (``assigned`` listener, no-agent
handler) and the gateways' ``POST /voice/{gateway}/events`` webhook. The
running channel is ``app[VOICE]``: its bound ports (``shell.udp_port``,
``shell.tcp_port``) and ``metrics()``.
"""

from __future__ import annotations

from aiohttp import web

from channels.voice.channel import VoiceChannel
from channels.voice.store import set_sip_password
from channels.voice.webhook import events_handler
from contactcenter.channel_context import ChannelContext

VOICE = web.AppKey("voice", VoiceChannel)


def setup(app: web.Application, context: ChannelContext, *, max_calls: int = 10_000) -> None:
    """Add the voice channel when ``channels.voice.sip`` is configured; ``max_calls`` bounds waiting calls
    (beyond it INVITEs get 503 with Retry-After), a memory guard the benchmark raises."""
    sip = context.settings.channels.voice.sip
    if sip is None:
        return
    channel = VoiceChannel(context, sip, max_calls=max_calls)
    app[VOICE] = channel
    context.router.channel_listeners["voice"] = channel.desk.on_change
    context.router.no_agent_handlers["voice"] = channel.desk.on_no_agent
    app.router.add_post("/voice/{gateway}/events", events_handler(context, sip, channel.store))
    app.cleanup_ctx.append(channel.lifecycle)


__all__ = ["VOICE", "VoiceChannel", "set_sip_password", "setup"]
