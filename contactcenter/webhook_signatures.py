"""``X-Signature: sha256=<hex HMAC-SHA256 of the raw body>``: how our own webhooks are signed.

The generic SMS gateway and the voice gateways' call events use the same
scheme, so it is written once here (channels may not import each other).
Comparison is in constant time and before the body is parsed.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Signature"


def webhook_signature(secret: str, body: bytes) -> str:
    """The ``X-Signature`` header value for ``body``: ``sha256=<hex>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def valid_webhook_signature(secret: str, body: bytes, header: str | None) -> bool:
    """True if ``header`` is ``sha256=<hex>`` of ``body`` under ``secret`` (hex in either case)."""
    if not header:
        return False
    scheme, _, given = header.strip().partition("=")
    if scheme.lower() != "sha256":
        return False
    expected = webhook_signature(secret, body).partition("=")[2]
    return hmac.compare_digest(expected.encode(), given.lower().encode())
