"""A scripted agent console over the real websocket, for tests.

It records every message, tracks the last ``seq`` and checks that numbered
events arrive without gaps or repeats; ``expect`` waits (with a timeout, never
a sleep) for the next message of a type.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from tests.ws_client import AgentSocket


class AgentConsole(AgentSocket):
    async def _on_message(self, data: dict[str, Any]) -> bool:
        if data.get("seq") is not None:
            assert data["seq"] == self.last_seq + 1, f"gap or repeat: {self.last_seq} then {data}"
            self.last_seq = data["seq"]
        return await super()._on_message(data)

    async def disconnect(self) -> None:
        await self.close()
        self._inbox = asyncio.Queue()

    async def offer(self, timeout: float = 10) -> str:
        """Wait for an offer; return its interaction id."""
        return (await self.expect("offer", timeout))["interaction"]["id"]

    async def available(self) -> None:
        await self.send("state", state="available")
        await self.expect("state", state="available")

    async def accept(self, interaction_id: str) -> dict[str, Any]:
        await self.send("accept", interaction_id=interaction_id)
        return await self.expect("assigned")

    async def reply(self, interaction_id: str, text: str) -> dict[str, Any]:
        msg_id = uuid.uuid4().hex
        await self.send("reply", interaction_id=interaction_id, text=text, client_msg_id=msg_id)
        return await self.expect("ack", client_msg_id=msg_id)


async def connected_console(client: Any, db: Any, login_name: str, **agent: Any) -> AgentConsole:
    """A new agent (``agent`` as ``make_agent`` takes it), logged in with a console connected."""
    from tests.support import login, make_agent

    await make_agent(db, login_name, **agent)
    console = AgentConsole(client, await login(client, login_name))
    await console.connect()
    return console
