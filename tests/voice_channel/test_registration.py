"""Agents' softphones register with digest authentication and become the Contact of the 302."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from channels.voice import VOICE, VoiceChannel, set_sip_password
from channels.voice.sip import make_authorization
from contactcenter.api import app as app_module
from contactcenter.config import Settings
from contactcenter.db import Database
from harness.sipp import run_sipp
from tests.voice_channel.conftest import REALM
from tests.voice_channel.helpers import UdpPeer, exact, request, while_calling
from tests.voice_channel.sipp import needs_sipp, scenario

pytestmark = needs_sipp

PASSWORD = "softphone-密码-1"


async def test_registered_softphone_becomes_the_contact_of_the_redirect(
    settings: Settings, db: Database, channel: VoiceChannel, sip_port: int, tmp_path: Path,
    console_for: Callable[..., Any],
) -> None:
    """SIPp registers as bob (401, then digest), then a call bob accepts is redirected to that binding."""
    bob = await console_for("bob", sip_uri="sip:bob-desk@127.0.0.1:5999")  # the registration wins over this
    assert await set_sip_password(db, "bob", PASSWORD, REALM)
    await channel.reload_credentials()
    registered = await run_sipp(scenario("register.xml", tmp_path / "reg"), sip_port, workdir=tmp_path / "reg",
                                keys={"user": "bob"}, extra=["-au", "bob", "-ap", PASSWORD])
    assert registered.returncode == 0, registered.explain()
    softphone = f"sip:bob@127.0.0.1:{registered.local_port}"

    await bob.available()
    call = asyncio.create_task(run_sipp(
        scenario("queue_redirect.xml", tmp_path / "call", CONTACT_REGEXP=exact(softphone)), sip_port,
        workdir=tmp_path / "call"))
    offer = await while_calling(bob.expect("offer"), call)
    await bob.accept(offer["interaction"]["id"])
    result = await call
    assert result.returncode == 0, result.explain()
    await channel.desk.settle()

    async with db.connection() as tx:
        rows = await tx.conn.fetch(
            "SELECT username, contact, expires_at > now() + interval '59 minutes' AS fresh FROM sip_registrations")
        stored = await tx.conn.fetchrow("SELECT sip_realm, sip_ha1_md5 FROM agents WHERE login = 'bob'")
    assert [(r["username"], r["contact"], r["fresh"]) for r in rows] == [("bob", softphone, True)]
    assert stored["sip_realm"] == REALM and PASSWORD not in stored["sip_ha1_md5"]
    assert channel.metrics()["registered_users"] == 1

    # a second server on the same database starts with the phone already registered
    second = app_module.build_app(settings, db)
    async with TestClient(TestServer(second, host="127.0.0.1", port=0)):
        restarted = second[VOICE]
        assert restarted.endpoint.registrar.lookup("bob", restarted.shell.now()) == softphone


async def test_wrong_password_and_unknown_users_are_refused(
    db: Database, channel: VoiceChannel, sip_port: int, console_for: Callable[..., Any],
) -> None:
    await console_for("carol")
    assert await set_sip_password(db, "carol", PASSWORD, REALM)
    await channel.reload_credentials()
    peer = await UdpPeer.open()
    try:
        for n, (user, password, status) in enumerate([("carol", "wrong", 403), ("mallory", "x", 403)]):
            peer.send(request("REGISTER", peer.port, call_id=f"reg-{n}", branch=f"r{n}a", service=user), sip_port)
            challenge = (await peer.status(401)).decode()
            header = next(line for line in challenge.split("\r\n") if line.startswith("WWW-Authenticate:"))
            auth = make_authorization(header.partition(":")[2].strip(), username=user, password=password,
                                      method="REGISTER", uri="sip:127.0.0.1")
            peer.send(request("REGISTER", peer.port, call_id=f"reg-{n}", branch=f"r{n}b", service=user, cseq=2,
                              extra=f"Authorization: {auth}\r\n"), sip_port)
            await peer.status(status)
        # an agent's credentials do not admit calls: INVITEs from outside the trusted networks need a gateway user
    finally:
        peer.close()
    assert channel.metrics()["registered_users"] == 0
