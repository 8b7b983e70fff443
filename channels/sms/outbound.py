"""Outbound messages as HTTP requests, and gateway answers as outcomes: pure, no sockets.

The sender turns a ``GatewayRequest`` into one aiohttp call and hands the
status and body back to ``interpret``, which decides: accepted (with the
provider's id), retry later (5xx, 408, 425, 429) or never (any other 4xx,
with the provider's own message so the agent sees why). Ids and messages
come out storable (``contactcenter.storable``).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from channels.sms.gateways import Gateway
from channels.sms.parse import MAX_ERROR, MAX_ID
from contactcenter.config.schema_channels import TwilioGateway
from contactcenter.storable import storable_text
from contactcenter.webhook_signatures import webhook_signature

_RETRYABLE_4XX = frozenset({408, 425, 429})


@dataclass(frozen=True, slots=True)
class GatewayRequest:
    url: str
    body: bytes
    headers: dict[str, str]
    # True when the gateway de-duplicates a resend (Idempotency-Key): sending again after a lost
    # answer is then safe. Twilio's Messages API has no such key: a resend is a second text.
    idempotent: bool = False


@dataclass(frozen=True, slots=True)
class Accepted:
    provider_id: str


@dataclass(frozen=True, slots=True)
class Refused:
    message: str
    retry: bool


def status_url(public_url: str | None, gateway: str, outbox_id: int) -> str | None:
    """Where the gateway should post delivery receipts, or None when we have no public address.

    The outbox id rides in the query (covered by the signature), so a receipt
    that overtakes our own record of the provider id still finds its message.
    """
    if public_url is None:
        return None
    return f"{public_url.rstrip('/')}/sms/{quote(gateway, safe='')}/status?outbox_id={outbox_id}"


def build_request(
    gateway: Gateway, *, outbox_id: int, sender: str, recipient: str, text: str, callback: str | None
) -> GatewayRequest:
    """The HTTP POST that hands one message to ``gateway``."""
    if isinstance(gateway, TwilioGateway):
        sid = gateway.account_sid
        url = f"{gateway.api_base.rstrip('/')}/2010-04-01/Accounts/{quote(sid, safe='')}/Messages.json"
        fields = [("To", recipient), ("From", sender), ("Body", text)]
        if callback is not None:
            fields.append(("StatusCallback", callback))
        credentials = base64.b64encode(f"{sid}:{gateway.auth_token}".encode()).decode("ascii")
        return GatewayRequest(url, urlencode(fields).encode(), {
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "Authorization": f"Basic {credentials}",
            "Accept": "application/json",
        })
    body = json.dumps(
        {"id": str(outbox_id), "from": sender, "to": recipient, "text": text, "status_url": callback},
        ensure_ascii=False,
    ).encode()
    return GatewayRequest(gateway.send_url, body, {
        "Content-Type": "application/json; charset=utf-8",
        "X-Signature": webhook_signature(gateway.secret, body),
        "Idempotency-Key": str(outbox_id),
        "Accept": "application/json",
    }, idempotent=True)


def _json(body: bytes) -> dict[str, object]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _provider_message(status: int, body: bytes) -> str:
    data = _json(body)
    message = data.get("message") or data.get("error")
    code = data.get("code") or data.get("error_code")
    if isinstance(message, str) and message:
        message = storable_text(message[:MAX_ERROR])
        return f"{message} (code {storable_text(str(code)[:50])})" if code is not None else message
    text = storable_text(body.decode("utf-8", "replace").strip())
    return f"HTTP {status}: {text[:300]}" if text else f"HTTP {status}"


def interpret(status: int, body: bytes, *, fallback_id: str) -> Accepted | Refused:
    """What the gateway's answer means for this message.

    A 2xx without an id still means accepted: sending again would duplicate
    the customer's message, so we keep our own id (the idempotency key). An
    id is made storable and cut to ``MAX_ID`` (receipts refuse longer ones);
    one that cannot be stored would leave the acceptance unrecorded, and the
    message would be sent again after every lease.
    """
    if 200 <= status < 300:
        data = _json(body)
        provider_id = data.get("sid") or data.get("id")
        text = "" if provider_id in (None, "") else storable_text(str(provider_id)[:MAX_ID])
        return Accepted(text or fallback_id)
    message = _provider_message(status, body)
    if status >= 500 or status in _RETRYABLE_4XX:
        return Refused(message, retry=True)
    return Refused(message, retry=False)
