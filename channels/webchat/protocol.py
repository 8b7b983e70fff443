"""The customer chat protocol (``/chat/ws``): what a widget may send, and the limits.

Pure: parsing and validation only, no I/O. Each message is a JSON object with
``type``; anything else is refused with an ``error`` and the connection stays
open. The full protocol, both directions, is in docs/protocol.md.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError, field_validator

MAX_FRAME_BYTES = 16 * 1024  # one websocket message; a chat line is far smaller
MAX_TEXT = 5_000  # characters in one customer message
MAX_NAME = 100
MAX_EMAIL = 320


# The widget's own id for a message, echoed in ``ack``: opaque, so kept exactly as sent (the model
# strips whitespace from texts and names; an id stripped would be acked under another id).
ClientMsgId = Annotated[str, StringConstraints(strip_whitespace=False, min_length=1, max_length=100)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        """PostgreSQL text holds neither NUL nor lone surrogates (which JSON can carry): refuse them here."""
        if isinstance(value, str):
            if "\x00" in value:
                raise ValueError("text must not contain NUL characters")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("text must be valid Unicode (no lone surrogates)") from None
        return value


class Hello(_Message):
    """First message on every connection; may be sent again to add pre-chat details."""

    type: Literal["hello"]
    widget: str = Field(min_length=1, max_length=64)
    visitor_token: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=MAX_NAME)
    email: str | None = Field(default=None, max_length=MAX_EMAIL)
    phone: str | None = Field(default=None, max_length=40)
    topic: str | None = Field(default=None, max_length=200)
    last_id: int | None = Field(default=None, ge=0, le=2**63 - 1)
    language: Literal["zh-CN", "en"] | None = None  # of the visitor's browser: for the transcript e-mail


class ChatText(_Message):
    type: Literal["message"]
    client_msg_id: ClientMsgId
    text: str = Field(min_length=1, max_length=MAX_TEXT)


class Typing(_Message):
    type: Literal["typing"]


class TranscriptRequest(_Message):
    type: Literal["transcript"]
    email: str = Field(min_length=3, max_length=MAX_EMAIL)


class OfflineForm(_Message):
    type: Literal["offline"]
    name: str = Field(default="", max_length=MAX_NAME)
    email: str = Field(min_length=3, max_length=MAX_EMAIL)
    message: str = Field(min_length=1, max_length=MAX_TEXT)
    client_msg_id: ClientMsgId | None = None


class Ping(_Message):
    type: Literal["ping"]


ClientMessage = Annotated[
    Hello | ChatText | Typing | TranscriptRequest | OfflineForm | Ping, Field(discriminator="type")
]
_client_message: TypeAdapter[Any] = TypeAdapter(ClientMessage)


class BadMessage(ValueError):
    """The client sent something we cannot use; ``code`` goes into the ``error`` answer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse_client_message(data: Any) -> Hello | ChatText | Typing | TranscriptRequest | OfflineForm | Ping:
    """One decoded JSON value → a validated message, or ``BadMessage`` naming the first problem."""
    if not isinstance(data, dict):
        raise BadMessage("bad_message", "messages must be JSON objects with a type")
    try:
        return _client_message.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadMessage("bad_message", f"{where}: {first['msg']}" if where else first["msg"]) from None


def error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}
