"""Who may talk to the endpoint: trusted trunks by source address, everyone else by digest.

INVITEs from a trunk's networks are trusted (and so is their
P-Asserted-Identity).  Other INVITEs get ``407`` with Proxy-Authenticate
when INVITE authentication is on, else ``403``; REGISTERs always need
digest credentials and get ``401`` with WWW-Authenticate.  A wrong password
is refused with 403 instead of re-challenged, so a misconfigured phone
stops instead of looping; a stale or foreign nonce is re-challenged with
``stale=true`` so a server restart never locks phones out.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import ip_address

from . import digest
from .events import EndpointConfig, Trunk
from .message import SipRequest
from .net import Address


@dataclass(frozen=True, slots=True)
class AuthDecision:
    """Either ``user`` (authenticated) or the ``status`` and ``headers`` to answer with."""

    user: str | None
    status: int = 0
    headers: tuple[tuple[str, str], ...] = ()


class TrunkMatcher:
    """Which trusted trunk a source IP belongs to, memoised.

    A trunk sends thousands of INVITEs from a handful of addresses, and
    ``ipaddress`` parsing costs more than the rest of the trust check; the
    memo is bounded so a scan from many addresses cannot grow it.
    """

    def __init__(self, trunks: tuple[Trunk, ...], *, memo_size: int = 4096) -> None:
        self.trunks = trunks
        self._memo: dict[str, Trunk | None] = {}
        self._memo_size = memo_size

    def match(self, source: Address) -> Trunk | None:
        host = source[0]
        try:
            return self._memo[host]
        except KeyError:
            pass
        if len(self._memo) >= self._memo_size:
            self._memo.clear()
        trunk = self._memo[host] = self._lookup(host)
        return trunk

    def _lookup(self, host: str) -> Trunk | None:
        if not self.trunks:
            return None
        try:
            address = ip_address(host.partition("%")[0])
        except ValueError:
            return None
        for trunk in self.trunks:
            if any(address in network for network in trunk.networks):
                return trunk
        return None


def authenticate(request: SipRequest, config: EndpointConfig, now: float, *, proxy: bool) -> AuthDecision:
    """Check the request's (Proxy-)Authorization headers against ``config.credentials``."""
    if config.credentials is None or (proxy and not config.invite_auth):
        return AuthDecision(None, 403)
    stale = False
    for value in request.headers.get_all("proxy-authorization" if proxy else "authorization"):
        result = digest.verify(
            value,
            request.method,
            config.credentials,
            config.realm,
            config.nonce_secret,
            now,
            request_uri=request.uri,
            nonce_ttl=config.nonce_ttl,
        )
        if result.ok:
            return AuthDecision(result.username)
        if result.status is digest.DigestStatus.BAD and result.reason != "wrong realm":
            return AuthDecision(None, 403)
        stale = stale or result.status is digest.DigestStatus.STALE
    name = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
    challenges = tuple(
        (name, digest.make_challenge(config.realm, config.nonce_secret, now, algorithm=alg, stale=stale))
        for alg in config.digest_algorithms
    )
    return AuthDecision(None, 407 if proxy else 401, challenges)
