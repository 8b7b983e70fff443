"""HTTP digest authentication as SIP uses it (RFC 2617, RFC 7616 algorithms, RFC 8760 in SIP).

Nonces are stateless: ``<timestamp-hex>.<hmac>`` where the HMAC binds the
timestamp to the realm under a server secret.  Any process holding the
secret can verify them, nothing is stored per challenge, and an expired
nonce with a correct response is reported as *stale* so the client
re-authenticates silently (``stale=true``) instead of asking its user for a
password again.  The price of statelessness: nonce-count replay within the
nonce lifetime is not detected.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_NONCE_TTL = 300.0
_CLOCK_SKEW = 5.0
_HASHES: dict[str, Callable[[bytes], str]] = {
    "MD5": lambda data: hashlib.md5(data, usedforsecurity=False).hexdigest(),
    "SHA-256": lambda data: hashlib.sha256(data).hexdigest(),
}
ALGORITHMS = frozenset(_HASHES) | frozenset(f"{name}-sess" for name in _HASHES)


@dataclass(frozen=True, slots=True)
class Ha1:
    """``H(username:realm:password)`` per hash, stored instead of the password.

    A credential lookup may return this rather than the password so the
    server never keeps plaintext: HA1 is all the digest check needs.  It is
    bound to the realm it was computed for; an algorithm without a stored
    hash is refused.
    """

    md5: str | None = None
    sha256: str | None = None

    def for_hash(self, base: str) -> str | None:
        return self.md5 if base == "MD5" else self.sha256 if base == "SHA-256" else None

    @classmethod
    def compute(cls, username: str, realm: str, password: str) -> Ha1:
        raw = f"{username}:{realm}:{password}".encode("utf-8", "surrogateescape")
        return cls(_HASHES["MD5"](raw), _HASHES["SHA-256"](raw))


class DigestStatus(StrEnum):
    OK = "ok"
    STALE = "stale"
    BAD = "bad"


@dataclass(frozen=True, slots=True)
class DigestResult:
    status: DigestStatus
    username: str | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status is DigestStatus.OK


def make_nonce(realm: str, nonce_secret: bytes, now: float) -> str:
    stamp = f"{int(now * 1000):x}"
    return f"{stamp}.{_nonce_mac(stamp, realm, nonce_secret)}"


def _nonce_mac(stamp: str, realm: str, secret: bytes) -> str:
    return hmac.new(secret, f"{stamp}:{realm}".encode(), hashlib.sha256).hexdigest()[:32]


def make_challenge(realm: str, nonce_secret: bytes, now: float, *, algorithm: str = "MD5", stale: bool = False) -> str:
    """A ``WWW-Authenticate``/``Proxy-Authenticate`` value offering qop=auth with a fresh nonce."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unsupported digest algorithm {algorithm!r}")
    value = (
        f'Digest realm="{_quote(realm)}", nonce="{make_nonce(realm, nonce_secret, now)}", '
        f'algorithm={algorithm}, qop="auth"'
    )
    return value + (", stale=true" if stale else "")


def parse_digest(header: str) -> dict[str, str]:
    """``Digest a=b, c="d"`` -> ``{"a": "b", "c": "d"}``; raises ValueError when not digest."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "digest":
        raise ValueError("not a Digest credential")
    params: dict[str, str] = {}
    i, n = 0, len(rest)
    while i < n:
        while i < n and rest[i] in " \t,":
            i += 1
        if i >= n:
            break
        eq = rest.find("=", i)
        if eq < 0:
            raise ValueError("malformed digest parameter")
        name = rest[i:eq].strip().lower()
        i = eq + 1
        while i < n and rest[i] in " \t":
            i += 1
        if i < n and rest[i] == '"':
            chars: list[str] = []
            i += 1
            while i < n and rest[i] != '"':
                if rest[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(rest[i])
                i += 1
            if i >= n:
                raise ValueError("unterminated quoted string")
            value = "".join(chars)
            i += 1
        else:
            end = rest.find(",", i)
            end = n if end < 0 else end
            value = rest[i:end].strip()
            i = end
        if not name or name in params:
            raise ValueError("empty or repeated digest parameter")
        params[name] = value
    return params


def digest_response(
    *,
    algorithm: str,
    username: str,
    realm: str,
    password: str | Ha1,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None = None,
    nc: str | None = None,
    cnonce: str | None = None,
) -> str:
    """The ``response`` value both sides compute (RFC 2617 §3.2.2, RFC 7616 §3.4.1).

    ``password`` may be a stored :class:`Ha1`; a missing hash raises KeyError.
    """
    base, sess = (algorithm[:-5], True) if algorithm.endswith("-sess") else (algorithm, False)
    digest = _HASHES[base]
    if isinstance(password, Ha1):
        stored = password.for_hash(base)
        if stored is None:
            raise KeyError(base)
        ha1 = stored
    else:
        ha1 = digest(f"{username}:{realm}:{password}".encode("utf-8", "surrogateescape"))
    if sess:
        ha1 = digest(f"{ha1}:{nonce}:{cnonce or ''}".encode())
    ha2 = digest(f"{method}:{uri}".encode("utf-8", "surrogateescape"))
    if qop:
        return digest(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}".encode())
    return digest(f"{ha1}:{nonce}:{ha2}".encode())


def verify(
    authorization_header: str,
    method: str,
    password_lookup: Callable[[str], str | Ha1 | None],
    realm: str,
    nonce_secret: bytes,
    now: float,
    *,
    request_uri: str | None = None,
    nonce_ttl: float = DEFAULT_NONCE_TTL,
) -> DigestResult:
    """Check one ``Authorization``/``Proxy-Authorization`` value.

    OK means the password matched under a nonce we issued that is still
    fresh; STALE means it matched under a nonce that is expired or not ours
    (answer with a new challenge carrying ``stale=true``; nothing is granted);
    BAD is everything else, a wrong password included.  When
    ``request_uri`` is given the credential's ``uri`` must equal it, so a
    response cannot be replayed against another target.
    """
    try:
        params = parse_digest(authorization_header)
    except ValueError:
        return DigestResult(DigestStatus.BAD, reason="malformed credentials")
    username = params.get("username")
    nonce = params.get("nonce", "")
    uri = params.get("uri")
    response = params.get("response", "").lower()
    algorithm = params.get("algorithm", "MD5").upper().replace("-SESS", "-sess")
    qop = params.get("qop")
    if not username or not uri or not response:
        return DigestResult(DigestStatus.BAD, username, "incomplete credentials")
    if params.get("realm") != realm:
        return DigestResult(DigestStatus.BAD, username, "wrong realm")
    if algorithm not in ALGORITHMS:
        return DigestResult(DigestStatus.BAD, username, "unsupported algorithm")
    if qop is not None and qop.lower() != "auth":
        return DigestResult(DigestStatus.BAD, username, "unsupported qop")
    nc, cnonce = params.get("nc"), params.get("cnonce")
    if qop is not None and (not nc or not cnonce or len(nc) != 8):
        return DigestResult(DigestStatus.BAD, username, "qop=auth needs nc and cnonce")
    if request_uri is not None and uri != request_uri:
        return DigestResult(DigestStatus.BAD, username, "uri does not match Request-URI")
    password = password_lookup(username)
    if password is None:
        return DigestResult(DigestStatus.BAD, username, "unknown user")
    if isinstance(password, Ha1) and password.for_hash(algorithm.removesuffix("-sess")) is None:
        return DigestResult(DigestStatus.BAD, username, "no stored hash for this algorithm")
    expected = digest_response(
        algorithm=algorithm,
        username=username,
        realm=realm,
        password=password,
        method=method,
        uri=uri,
        nonce=nonce,
        qop=qop and "auth",
        nc=nc,
        cnonce=cnonce,
    )
    if not hmac.compare_digest(expected.encode(), response.encode("utf-8", "surrogateescape")):
        return DigestResult(DigestStatus.BAD, username, "wrong password")
    issued = _nonce_time(nonce, realm, nonce_secret)
    if issued is None or issued > now + _CLOCK_SKEW:
        # The client knows the password but not a nonce of ours (a rotated secret, a
        # restart): ask again with stale=true rather than locking the phone out.
        return DigestResult(DigestStatus.STALE, username, "nonce not ours")
    if now - issued > nonce_ttl:
        return DigestResult(DigestStatus.STALE, username, "nonce expired")
    return DigestResult(DigestStatus.OK, username)


def _nonce_time(nonce: str, realm: str, secret: bytes) -> float | None:
    stamp, dot, mac = nonce.partition(".")
    if not dot or not stamp or len(stamp) > 16 or not stamp.isascii() or not stamp.isalnum():
        return None
    expected = _nonce_mac(stamp, realm, secret).encode()
    if not hmac.compare_digest(mac.encode("utf-8", "surrogateescape"), expected):
        return None
    try:
        return int(stamp, 16) / 1000
    except ValueError:
        return None


def make_authorization(
    challenge: str,
    *,
    username: str,
    password: str,
    method: str,
    uri: str,
    cnonce: str = "0a4f113b",
    nc: int = 1,
) -> str:
    """A client's ``Authorization`` value answering ``challenge`` (used by tests and tools)."""
    params = parse_digest(challenge)
    algorithm = params.get("algorithm", "MD5")
    qop = "auth" if "auth" in [q.strip() for q in params.get("qop", "").split(",")] else None
    nc_text = f"{nc:08x}"
    response = digest_response(
        algorithm=algorithm,
        username=username,
        realm=params["realm"],
        password=password,
        method=method,
        uri=uri,
        nonce=params["nonce"],
        qop=qop,
        nc=nc_text,
        cnonce=cnonce,
    )
    value = (
        f'Digest username="{_quote(username)}", realm="{_quote(params["realm"])}", '
        f'nonce="{params["nonce"]}", uri="{uri}", response="{response}", algorithm={algorithm}'
    )
    if qop:
        value += f', qop={qop}, nc={nc_text}, cnonce="{cnonce}"'
    if "opaque" in params:
        value += f', opaque="{params["opaque"]}"'
    return value


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
