"""Gateway webhooks in, typed values out: pure parsing of Twilio forms and the generic JSON.

Numbers leave here in E.164 (``contactcenter.identity``), so one customer is
one identity whichever way their gateway writes the number. Anything a
gateway must fix raises ``SmsInputError`` with a message fit for a 400.
Every text taken from a gateway goes through ``contactcenter.storable.storable_text`` so that it
can be stored.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from contactcenter.identity import normalise_phone
from contactcenter.storable import storable_text

MAX_TEXT = 20_000  # far above any gateway's limit (Twilio: 1,600); protects the store, not the customer
MAX_MEDIA = 10  # Twilio's MMS maximum
MAX_ID = 200
MAX_ERROR = 500
FAILURE_STATUSES = frozenset({"failed", "undelivered"})
_STATUS = re.compile(r"^[a-z_]{1,32}$")


class SmsInputError(ValueError):
    """The gateway sent something we cannot take; the message says what."""


@dataclass(frozen=True, slots=True)
class Media:
    url: str
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class InboundSms:
    """One customer text: ``sender`` is the customer, ``recipient`` our number, both E.164."""

    provider_id: str
    sender: str
    recipient: str
    text: str
    media: tuple[Media, ...] = ()

    def media_json(self) -> list[dict[str, str | None]]:
        return [{"url": m.url, "content_type": m.content_type} for m in self.media]


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A delivery receipt for a message we sent."""

    provider_id: str
    status: str
    error_code: str | None = None
    error_message: str | None = None

    @property
    def failed(self) -> bool:
        return self.status in FAILURE_STATUSES

    def error_text(self) -> str | None:
        """What the agent is shown for a failure."""
        if not self.failed:
            return None
        detail = " ".join(x for x in (self.error_message, f"(error {self.error_code})" if self.error_code else None)
                          if x)
        return f"{self.status}: {detail}" if detail else self.status


def form_pairs(raw: bytes) -> list[tuple[str, str]]:
    """An ``application/x-www-form-urlencoded`` body as (name, value) pairs, blanks kept."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SmsInputError("the form body is not UTF-8") from None
    try:
        return parse_qsl(text, keep_blank_values=True, strict_parsing=False, errors="strict", max_num_fields=200)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SmsInputError(f"the form body cannot be read: {exc}") from None


def _one(fields: dict[str, str], name: str, *, required: bool = True, limit: int = MAX_ID) -> str:
    value = fields.get(name)
    if value is None or (required and not value.strip()):
        if required:
            raise SmsInputError(f"{name} is missing")
        return ""
    if len(value) > limit:
        raise SmsInputError(f"{name} is longer than {limit} characters")
    return storable_text(value)


def _optional(fields: dict[str, str], name: str, *, limit: int) -> str | None:
    """An optional field we only show: cut to ``limit`` rather than refused, None when blank."""
    value = fields.get(name)
    return storable_text(value[:limit]) if value else None


def _phone(value: str, what: str, region: str) -> str:
    try:
        return normalise_phone(value, region)
    except ValueError as exc:
        raise SmsInputError(f"{what}: {exc}") from None


def twilio_inbound(pairs: list[tuple[str, str]], *, region: str) -> InboundSms:
    """A Twilio incoming-message webhook (From, To, Body, MessageSid, NumMedia, MediaUrlN, MediaContentTypeN)."""
    fields = dict(pairs)
    if "MessageSid" not in fields and "SmsSid" in fields:  # the older name of the same field
        fields["MessageSid"] = fields["SmsSid"]
    sid = _one(fields, "MessageSid")
    text = _one(fields, "Body", required=False, limit=MAX_TEXT)
    count_text = fields.get("NumMedia", "0").strip() or "0"
    if not count_text.isdigit() or int(count_text) > MAX_MEDIA:
        raise SmsInputError(f"NumMedia must be a number from 0 to {MAX_MEDIA}")
    media = tuple(
        Media(_one(fields, f"MediaUrl{n}", limit=2000), _optional(fields, f"MediaContentType{n}", limit=MAX_ID))
        for n in range(int(count_text))
    )
    return InboundSms(
        provider_id=sid,
        sender=_phone(_one(fields, "From"), "From", region),
        recipient=_phone(_one(fields, "To"), "To", region),
        text=text,
        media=media,
    )


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise SmsInputError(f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SmsInputError("the body must be a JSON object")
    return data


def _text_field(data: dict[str, Any], name: str, *, required: bool = True, limit: int = MAX_ID) -> str:
    value = data.get(name)
    if value is None and not required:
        return ""
    if isinstance(value, int) and not isinstance(value, bool) and name == "id":
        value = str(value)  # gateways that number their messages
    if not isinstance(value, str) or (required and not value.strip()):
        raise SmsInputError(f"'{name}' must be a non-empty string")
    if len(value) > limit:
        raise SmsInputError(f"'{name}' is longer than {limit} characters")
    return storable_text(value)


def _media(value: Any) -> tuple[Media, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_MEDIA:
        raise SmsInputError(f"'media' must be a list of at most {MAX_MEDIA} items")
    out = []
    for item in value:
        if isinstance(item, str):
            out.append(Media(storable_text(item)))
        elif isinstance(item, dict) and isinstance(item.get("url"), str):
            kind = item.get("content_type")
            out.append(Media(storable_text(item["url"]), storable_text(kind) if isinstance(kind, str) else None))
        else:
            raise SmsInputError("each 'media' item must be a URL or {\"url\", \"content_type\"}")
    return tuple(out)


def webhook_inbound(raw: bytes, *, region: str) -> InboundSms:
    """The generic gateway's JSON: ``{"from", "to", "text", "id", "media"?}``."""
    data = _json_object(raw)
    return InboundSms(
        provider_id=_text_field(data, "id"),
        sender=_phone(_text_field(data, "from"), "from", region),
        recipient=_phone(_text_field(data, "to"), "to", region),
        text=_text_field(data, "text", required=False, limit=MAX_TEXT),
        media=_media(data.get("media")),
    )


def _status(value: str) -> str:
    status = value.strip().lower()
    if not _STATUS.match(status):
        raise SmsInputError("the status must be a word such as queued, sent, delivered, undelivered or failed")
    return status


def twilio_status(pairs: list[tuple[str, str]]) -> StatusReport:
    """A Twilio status callback (MessageSid, MessageStatus, ErrorCode?, ErrorMessage?)."""
    fields = dict(pairs)
    return StatusReport(
        provider_id=_one(fields, "MessageSid"),
        status=_status(_one(fields, "MessageStatus")),
        error_code=_optional(fields, "ErrorCode", limit=50),
        error_message=_optional(fields, "ErrorMessage", limit=MAX_ERROR),
    )


def webhook_status(raw: bytes) -> StatusReport:
    """The generic gateway's receipt: ``{"id", "status", "error_code"?, "error"?}``."""
    data = _json_object(raw)
    code = data.get("error_code")
    error = data.get("error")
    return StatusReport(
        provider_id=_text_field(data, "id"),
        status=_status(_text_field(data, "status")),
        error_code=None if code is None else storable_text(str(code)[:50]),
        error_message=storable_text(error[:MAX_ERROR]) if isinstance(error, str) and error else None,
    )
