"""A registrar for agent softphones (RFC 3261 §10.3): AOR user → contact URIs with expiry.

Authentication happens before this runs; the registrar only applies the
binding rules.  Bindings live in memory: softphones re-register every few
minutes, so a restart heals itself within one registration interval.
Expiry is lazy (``lookup`` ignores stale bindings) and ``expire`` reports
what lapsed so the application can mark agents unreachable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .headers import HeaderValueError, parse_uint
from .uri import UriError, parse_name_addr, parse_uri

DEFAULT_EXPIRES = 3600
MIN_EXPIRES = 60
MAX_EXPIRES = 7200
MAX_BINDINGS_PER_AOR = 5


@dataclass(frozen=True, slots=True)
class Binding:
    user: str
    contact: str
    expires_at: float
    call_id: str
    cseq: int
    q: float = 1.0

    def expires_in(self, now: float) -> int:
        return max(0, round(self.expires_at - now))


@dataclass(frozen=True, slots=True)
class RegisterOutcome:
    """What to answer: ``status`` with ``bindings`` as Contact fields, and what changed.

    ``min_expires`` is set with 423; ``added`` and ``removed`` list bindings
    that appeared (or were refreshed) and disappeared, for the app's events.
    """

    status: int
    bindings: tuple[Binding, ...] = ()
    min_expires: int | None = None
    reason: str | None = None
    added: tuple[Binding, ...] = ()
    removed: tuple[Binding, ...] = ()


@dataclass(slots=True)
class _Aor:
    bindings: dict[tuple[object, ...], Binding] = field(default_factory=dict)


class Registrar:
    """In-memory location service keyed by the AOR's user part."""

    def __init__(
        self,
        *,
        min_expires: int = MIN_EXPIRES,
        max_expires: int = MAX_EXPIRES,
        default_expires: int = DEFAULT_EXPIRES,
        max_bindings: int = MAX_BINDINGS_PER_AOR,
    ) -> None:
        if not 0 < min_expires <= default_expires <= max_expires:
            raise ValueError("registrar expiry bounds need 0 < min <= default <= max")
        if max_bindings < 1:
            raise ValueError("max_bindings must be at least 1")
        self.min_expires = min_expires
        self.max_expires = max_expires
        self.default_expires = default_expires
        self.max_bindings = max_bindings
        self._aors: dict[str, _Aor] = {}
        self._next_expiry: float | None = None
        self._next_expiry_known = True

    def register(
        self,
        user: str,
        contacts: list[str],
        expires_header: str | None,
        call_id: str,
        cseq: int,
        now: float,
    ) -> RegisterOutcome:
        """Apply one REGISTER's Contact list for ``user`` (already authenticated)."""
        try:
            header_expires = None if expires_header is None else parse_uint(expires_header, "Expires", 2**31 - 1)
        except HeaderValueError:
            return RegisterOutcome(400, reason="Bad Expires")
        aor = self._aors.get(user) or _Aor()
        current = {k: b for k, b in aor.bindings.items() if b.expires_at > now}
        if any(c.strip() == "*" for c in contacts):
            if len(contacts) != 1 or header_expires != 0:
                return RegisterOutcome(400, reason="Wildcard Contact needs Expires: 0")
            return self._commit(user, aor, {}, [], now)
        wanted: list[tuple[tuple[object, ...], str, int, float]] = []
        for contact in contacts:
            try:
                addr = parse_name_addr(contact)
                key: tuple[object, ...] = parse_uri(addr.uri).binding_key
                expires = header_expires if header_expires is not None else self.default_expires
                if "expires" in addr.params:
                    expires = parse_uint(addr.params["expires"] or "", "expires", 2**31 - 1)
                q = float(addr.params["q"] or "") if "q" in addr.params else 1.0
                if not 0.0 <= q <= 1.0:
                    raise ValueError("q out of range")
            except (UriError, HeaderValueError, ValueError):
                return RegisterOutcome(400, reason="Bad Contact")
            if 0 < expires < self.min_expires:
                return RegisterOutcome(423, min_expires=self.min_expires)
            wanted.append((key, addr.uri, min(expires, self.max_expires), q))
        updated = dict(current)
        for key, uri, expires, q in wanted:
            old = current.get(key)
            if old is not None and old.call_id == call_id and cseq <= old.cseq:
                return RegisterOutcome(400, reason="Out Of Order CSeq")
            if expires == 0:
                updated.pop(key, None)
            else:
                updated[key] = Binding(user, uri, now + expires, call_id, cseq, q)
        refreshed = [updated[k] for k, _, e, _ in wanted if e and k in updated]
        return self._commit(user, aor, updated, refreshed, now)

    def _commit(
        self,
        user: str,
        aor: _Aor,
        after: dict[tuple[object, ...], Binding],
        refreshed: list[Binding],
        now: float,
    ) -> RegisterOutcome:
        before = aor.bindings
        self._next_expiry_known = False
        while len(after) > self.max_bindings:  # a new phone pushes out the oldest binding
            oldest = min(after, key=lambda k: after[k].expires_at)
            after.pop(oldest)
        if after:
            aor.bindings = after
            self._aors[user] = aor
        else:
            self._aors.pop(user, None)
        removed = tuple(b for k, b in before.items() if k not in after)
        added = tuple(b for b in refreshed if b in after.values())
        return RegisterOutcome(200, self.bindings(user, now), added=added, removed=removed)

    def bindings(self, user: str, now: float) -> tuple[Binding, ...]:
        """Live bindings for ``user``, preferred first (highest q, then most recently refreshed)."""
        aor = self._aors.get(user)
        if aor is None:
            return ()
        live = [b for b in aor.bindings.values() if b.expires_at > now]
        live.sort(key=lambda b: (-b.q, -b.expires_at))
        return tuple(live)

    def lookup(self, user: str, now: float) -> str | None:
        """The contact URI to redirect ``user``'s calls to, or None when not registered."""
        live = self.bindings(user, now)
        return live[0].contact if live else None

    def expire(self, now: float) -> list[Binding]:
        """Drop lapsed bindings and return them."""
        lapsed: list[Binding] = []
        for user in list(self._aors):
            aor = self._aors[user]
            gone = [k for k, b in aor.bindings.items() if b.expires_at <= now]
            for key in gone:
                lapsed.append(aor.bindings.pop(key))
            if not aor.bindings:
                del self._aors[user]
        self._next_expiry_known = False
        return lapsed

    def next_expiry(self) -> float | None:
        """The earliest binding expiry; rescanned only after a change (agents number in the hundreds)."""
        if not self._next_expiry_known:
            self._next_expiry = min(
                (b.expires_at for a in self._aors.values() for b in a.bindings.values()), default=None
            )
            self._next_expiry_known = True
        return self._next_expiry

    def users(self) -> list[str]:
        return list(self._aors)
