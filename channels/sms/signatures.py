"""Webhook signatures of the two gateway types: pure functions, compared in constant time.

* Twilio signs ``X-Twilio-Signature`` = base64(HMAC-SHA1(auth token, URL +
  every POST parameter as name+value, sorted by name)). The URL is the one
  Twilio requested, so behind a proxy it is ``server.public_url`` + path +
  query, not what reaches us. Twilio's own libraries accept the URL with and
  without the scheme's default port (their load balancers vary), so we do too.
* The generic webhook gateway sends ``X-Signature: sha256=<hex>`` =
  HMAC-SHA256(secret, raw body).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The signature Twilio computes for a POST of ``params`` to ``url``.

    As in Twilio's libraries: names sorted, and a name given several times
    contributes each of its distinct values in sorted order.
    """
    values: dict[str, set[str]] = {}
    for name, value in params:
        values.setdefault(name, set()).add(value)
    data = url + "".join(name + value for name in sorted(values) for value in sorted(values[name]))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def url_variants(url: str) -> tuple[str, ...]:
    """``url`` as given, plus the same with the scheme's default port added or removed."""
    parts = urlsplit(url)
    default = _DEFAULT_PORTS.get(parts.scheme)
    if default is None or parts.hostname is None:
        return (url,)
    try:
        port = parts.port
    except ValueError:
        return (url,)
    host = parts.netloc.rsplit("@", 1)[-1]
    userinfo = parts.netloc[: len(parts.netloc) - len(host)]
    bare = host.rsplit(":", 1)[0] if port is not None else host
    if port is None:
        other = urlunsplit(parts._replace(netloc=f"{userinfo}{host}:{default}"))
    elif port == default:
        other = urlunsplit(parts._replace(netloc=f"{userinfo}{bare}"))
    else:
        return (url,)
    return (url, other)


def valid_twilio_signature(
    auth_token: str, url: str, params: Iterable[tuple[str, str]], header: str | None
) -> bool:
    """True if ``header`` is Twilio's signature of ``params`` posted to ``url``."""
    if not header:
        return False
    pairs = list(params)
    given = header.strip().encode()
    # Check every variant (no early exit): the time taken does not depend on which one matched.
    matches = [hmac.compare_digest(twilio_signature(auth_token, u, pairs).encode(), given) for u in url_variants(url)]
    return any(matches)


def signed_url(public_url: str | None, *, scheme: str, host: str, raw_path: str) -> str:
    """The URL a gateway signed: the configured public URL when there is one, else what we received.

    ``raw_path`` is the path and query exactly as requested (not re-encoded).
    """
    if public_url is not None:
        return public_url.rstrip("/") + raw_path
    return f"{scheme}://{host}{raw_path}"
