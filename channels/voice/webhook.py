"""``POST /voice/{gateway}/events``: the PBX or carrier reports what happened to a call after the redirect.

The body is JSON ``{call_id | interaction_id, event, event_id?, talk_time_s?,
target?}`` signed with the gateway's ``secret``: ``X-Signature: sha256=<hex
HMAC-SHA256 of the raw body>``, compared in constant time before the body is
parsed. The event goes through the same ``record_call_event`` as the
console's softphone buttons; ``ended`` ends the interaction (wrap-up follows).
The answer is 200 only after that has committed, so a gateway that sees
anything else retries. ``event_id``, the gateway's own id for the event, is a
dedupe key: a retry after a lost answer, or a captured request sent again, is
answered 200 with ``duplicate: true`` and records nothing. Without it each
delivery is recorded. The gateway's text (``call_id``, ``target``,
``event_id``) is stored with NUL and lone surrogates as U+FFFD
(``storable_text``): PostgreSQL refuses them, and every retry would fail.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from channels.voice.store import VoiceStore
from contactcenter.acd.call_events import CallEventRefused, record_call_event
from contactcenter.api.errors import ApiError
from contactcenter.channel_context import ChannelContext
from contactcenter.config.schema_channels import Sip
from contactcenter.model import ActorKind
from contactcenter.storable import storable_text
from contactcenter.webhook_signatures import SIGNATURE_HEADER, valid_webhook_signature

_REFUSED_STATUS = {"bad_call_event": 400, "unknown_interaction": 404, "not_a_call": 409, "bad_state": 409}


class CallEventBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    call_id: str | None = Field(default=None, min_length=1, max_length=300)
    interaction_id: uuid.UUID | None = None
    event: str = Field(min_length=1, max_length=40)
    event_id: str | None = Field(default=None, min_length=1, max_length=200)
    talk_time_s: float | None = Field(default=None, ge=0, le=7 * 86400)
    target: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _names_the_call(self) -> CallEventBody:
        if (self.call_id is None) == (self.interaction_id is None):
            raise ValueError("give exactly one of call_id and interaction_id")
        return self


def events_handler(context: ChannelContext, sip: Sip, store: VoiceStore) -> web.RequestHandler:
    secrets = {g.name: g.secret for g in sip.gateways}

    async def handle(request: web.Request) -> web.Response:
        name = request.match_info["gateway"]
        if name not in secrets:
            raise ApiError(404, "unknown_gateway", f"no SIP gateway named {name!r}")
        secret = secrets[name]
        body = await request.read()
        given = request.headers.get(SIGNATURE_HEADER, "")
        # a gateway without a secret cannot sign, so nothing it sends is accepted
        if secret is None or not valid_webhook_signature(secret, body, given):
            raise ApiError(403, "bad_signature", f"missing or wrong {SIGNATURE_HEADER}")
        event = CallEventBody.model_validate_json(body)
        iid = event.interaction_id
        if iid is None:
            assert event.call_id is not None
            iid = await store.interaction_for_call(event.call_id)
            if iid is None:
                raise ApiError(404, "unknown_call", f"no call with Call-ID {event.call_id!r}")
        details: dict[str, Any] = {"gateway": name}
        if event.talk_time_s is not None:
            details["talk_time_s"] = event.talk_time_s
        # the Call-ID lookup above needs no cleaning: call_key() makes it the key the SIP side stored
        texts = {"target": event.target, "call_id": event.call_id, "event_id": event.event_id}
        details.update((k, storable_text(v)) for k, v in texts.items() if v is not None)
        event_id = details.get("event_id")
        try:
            recorded = await record_call_event(
                context.db, context.feed, context.router, iid, event.event, actor_kind=ActorKind.SYSTEM,
                actor_id=f"gateway:{name}", details=details,
                dedupe_key=None if event_id is None else f"{name}:{event_id}")
        except CallEventRefused as exc:  # including a router refusing "ended" (bad_state)
            raise ApiError(_REFUSED_STATUS.get(exc.code, 409), exc.code, str(exc)) from None
        return web.json_response({"ok": True, "interaction_id": str(iid), "event": event.event,
                                  "duplicate": not recorded})

    return handle
