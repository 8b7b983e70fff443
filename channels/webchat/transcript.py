"""A chat transcript by e-mail: rendered here, queued in the outbox for the e-mail channel.

The outbox row (channel ``email``, payload ``kind: "transcript"``) is written
in one transaction, so a transcript asked for is sent once the e-mail channel
runs, even across restarts. Because the address is whatever the visitor typed,
each conversation gets at most ``MAX_PER_CONVERSATION`` transcripts: the
widget must not become a way to send mail to strangers.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from channels.webchat import conversations
from contactcenter.store import Tx

MAX_PER_CONVERSATION = 3

_LABELS = {
    "zh-CN": {"subject": "您的聊天记录", "you": "您", "agent": "客服", "intro": "以下是您与我们的聊天记录："},
    "en": {"subject": "Your chat transcript", "you": "You", "agent": "Agent",
           "intro": "Here is the transcript of your chat with us:"},
}


class TranscriptRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def render(messages: list[dict[str, Any]], *, language: str, timezone: str) -> tuple[str, str]:
    """(subject, plain text) of a transcript in ``language`` (``zh-CN`` or ``en``)."""
    labels = _LABELS.get(language, _LABELS["en"])
    zone = ZoneInfo(timezone)
    lines = [labels["intro"], ""]
    for message in messages:
        at = datetime.fromisoformat(message["at"]).astimezone(zone).strftime("%Y-%m-%d %H:%M")
        who = labels["you"] if message["from"] == "customer" else (message.get("agent_name") or labels["agent"])
        lines.append(f"[{at}] {who}: {message['text']}")
    return labels["subject"], "\n".join(lines) + "\n"


async def queue_transcript(
    tx: Tx, conversation_id: uuid.UUID, email: str, *, widget: str, language: str, timezone: str
) -> int:
    """Queue the transcript of ``conversation_id`` to ``email``; return the outbox id. Runs in a transaction."""
    await tx.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"transcript:{conversation_id}")
    sent = await tx.conn.fetchval(
        "SELECT count(*) FROM outbox WHERE channel = 'email' AND interaction_id = $1 "
        "AND payload->>'kind' = 'transcript'",
        conversation_id,
    )
    if sent >= MAX_PER_CONVERSATION:
        raise TranscriptRefused("too_many", f"at most {MAX_PER_CONVERSATION} transcripts per conversation")
    messages = await conversations.messages(tx, conversation_id)
    if not messages:
        raise TranscriptRefused("no_conversation", "there is nothing to send yet")
    subject, text = render(messages, language=language, timezone=timezone)
    payload = {
        "kind": "transcript",
        "to": [email],
        "subject": subject,
        "text": text,
        "language": language,
        "widget": widget,
        "messages": [{k: m.get(k) for k in ("id", "from", "agent_name", "text", "at")} for m in messages],
    }
    return await tx.outbox.enqueue("email", payload, interaction_id=conversation_id)
