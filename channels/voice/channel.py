"""The voice channel assembled: endpoint, shell, desk and writer, with their start and stop in order.

Start-up order matters and is kept here in one place:

1. calls left waiting by a previous run are closed as abandoned (their SIP
   transactions died with that process) — before the router's rebuild,
   which runs after the channels' start-up, so it never queues them;
2. softphone credentials (HA1) and registrations are loaded from the store;
3. the writer starts, then the sockets open.

Credentials are looked up synchronously inside the SIP core, so they are
kept in memory: reloaded every ``CREDENTIALS_REFRESH`` seconds, and sooner
(at most once a second) when an unknown user tries to authenticate.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
from collections.abc import AsyncIterator

from aiohttp import web

from channels.voice.desk import CallDesk
from channels.voice.shell import SipShell
from channels.voice.sip import EndpointConfig, Ha1, SipEndpoint, Trunk
from channels.voice.store import VoiceStore
from contactcenter.channel_context import ChannelContext
from contactcenter.config.schema_channels import Sip

log = logging.getLogger(__name__)

CREDENTIALS_REFRESH = 30.0
CREDENTIALS_MIN_GAP = 1.0


class VoiceChannel:
    """Everything the voice channel runs; ``lifecycle`` is its ``cleanup_ctx`` entry."""

    def __init__(self, context: ChannelContext, sip: Sip, *, max_calls: int = 10_000) -> None:
        self.ctx = context
        self.sip = sip
        self.store = VoiceStore(context.db)
        self.desk = CallDesk(context, sip, self.store)
        self._gateways = {g.username: g.password for g in sip.gateways if g.username and g.password}
        self._agents: dict[str, Ha1] = {}
        self.endpoint = SipEndpoint(EndpointConfig(
            realm=sip.realm,
            nonce_secret=secrets.token_bytes(32),
            tag_secret=secrets.token_bytes(32),
            trunks=tuple(Trunk(g.name, g.allow) for g in sip.gateways if g.allow),
            credentials=self._credential,
            invite_auth=bool(self._gateways),
            queued_interval=sip.queued_interval,
            max_calls=max_calls,
        ))
        self.shell = SipShell(self.endpoint, self.desk.on_events)
        self.desk.attach(self.shell)
        self.restart_abandoned = 0
        self._refresh_wanted = asyncio.Event()
        self._refresher: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    async def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    async def start(self) -> None:
        self.restart_abandoned, notices = await self.store.close_calls_lost_in_restart()
        self.ctx.feed.publish(notices)
        if self.restart_abandoned:
            log.warning("voice: %d calls waiting at the last shutdown were closed as abandoned",
                        self.restart_abandoned)
        await self.reload_credentials()
        await self._restore_registrations()
        self.desk.writer.start()
        sip = self.sip
        await self.shell.start(sip.host, sip.port, sip.transports)
        self._refresher = asyncio.create_task(self._refresh_loop(), name="voice-credentials")
        log.info("voice: SIP on %s udp=%s tcp=%s", sip.host, self.shell.udp_port, self.shell.tcp_port)

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.desk.hang_up_all()
        if self._refresher is not None:
            self._refresher.cancel()
            await asyncio.gather(self._refresher, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                await self.desk.writer.idle()  # registrations and touchpoints already queued
        await self.desk.close()
        await self.desk.writer.stop()
        await self.shell.stop()

    # -- credentials and registrations ---------------------------------------------------------

    def _credential(self, user: str) -> str | Ha1 | None:
        """Digest secret for ``user``: a gateway's password, else an agent's stored HA1."""
        password = self._gateways.get(user)
        if password is not None:
            return password
        ha1 = self._agents.get(user)
        if ha1 is None:
            self._refresh_wanted.set()  # perhaps set a moment ago: reload soon, the phone retries
        return ha1

    async def reload_credentials(self) -> None:
        agents = await self.store.credentials(self.sip.realm)
        clashes = sorted(set(agents) & set(self._gateways))
        if clashes:
            log.warning("voice: agent logins %s equal gateway usernames; the gateway credentials win", clashes)
        self._agents = agents

    async def _refresh_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CREDENTIALS_REFRESH):
                    await self._refresh_wanted.wait()
            try:
                await self.reload_credentials()
            except Exception as exc:
                log.warning("voice: could not reload SIP credentials: %s", exc)
            await asyncio.sleep(CREDENTIALS_MIN_GAP)  # rate limit: a scanner cannot make us query in a loop
            self._refresh_wanted.clear()

    async def _restore_registrations(self) -> None:
        """Put the stored bindings back into the in-memory registrar (lapsing ones are left to re-register)."""
        registrar = self.endpoint.registrar
        now = self.shell.now()
        restored = 0
        for reg in await self.store.live_registrations():
            if reg.remaining_s < registrar.min_expires:
                continue
            outcome = registrar.register(reg.user, [f"<{reg.contact}>"], str(int(reg.remaining_s)),
                                         f"restored-{restored}", 0, now)
            restored += outcome.status == 200
        if restored:
            log.info("voice: %d softphone registrations restored", restored)

    # -- metrics -------------------------------------------------------------------------------

    def metrics(self) -> dict[str, int]:
        """Monotonic counters and current gauges, flat, for a metrics exporter."""
        out: dict[str, int] = {}
        for prefix, counters in (("sip", self.endpoint.counters), ("shell", self.shell.counters),
                                 ("desk", self.desk.counters), ("writer", self.desk.writer.counters)):
            for item in dataclasses.fields(counters):  # type: ignore[arg-type]
                out[f"{prefix}_{item.name}"] = int(getattr(counters, item.name))
        sip = self.endpoint.counters
        out["sip_dropped_malformed"] = sip.malformed - sip.malformed_answered
        out["sip_retransmissions_absorbed"] = self.endpoint.retransmissions_absorbed
        out["active_calls"] = self.endpoint.active_calls
        out["waiting_calls"] = self.desk.waiting
        out["registered_users"] = len(self.endpoint.registrar.users())
        out["restart_abandoned"] = self.restart_abandoned
        return out
