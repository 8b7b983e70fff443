"""SIP and tel URIs, name-addr values, and the numbers a contact center cares about.

The queue needs two numbers from an INVITE: what was dialled (it picks the
queue) and who is calling (it finds the customer).  Both are pulled out of
URIs here; turning them into canonical E.164 with a numbering plan is the
application's job, so this module only strips visual separators and keeps
a leading ``+``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from .headers import HeaderValueError, parse_hostport, parse_params, split_list

_VISUAL_SEPARATORS = str.maketrans("", "", "-.() ")
_MAX_NUMBER_DIGITS = 20


class UriError(ValueError):
    """Not a URI we understand."""


@dataclass(frozen=True, slots=True)
class SipUri:
    """``sip:user@host:port;params?headers`` or ``tel:number;params`` (then ``host`` is empty)."""

    scheme: str
    user: str | None
    host: str
    port: int | None = None
    params: tuple[tuple[str, str | None], ...] = ()
    headers: str = ""

    def param(self, name: str) -> str | None:
        for key, value in self.params:
            if key == name:
                return value
        return None

    def has_param(self, name: str) -> bool:
        return any(key == name for key, _ in self.params)

    @property
    def binding_key(self) -> tuple[str, str | None, str, int | None, str | None]:
        """What makes two Contact URIs "the same" for a registrar (a workable subset of §19.1.4)."""
        return (self.scheme, self.user, self.host.lower(), self.port, self.param("transport"))

    def __str__(self) -> str:
        if self.scheme == "tel":
            out = f"tel:{self.user or ''}"
        else:
            host = f"[{self.host}]" if ":" in self.host else self.host
            out = f"{self.scheme}:" + (f"{self.user}@" if self.user is not None else "") + host
            if self.port is not None:
                out += f":{self.port}"
        for key, value in self.params:
            out += f";{key}" if value is None else f";{key}={value}"
        return out + (f"?{self.headers}" if self.headers else "")


def parse_uri(text: str) -> SipUri:
    """Parse a sip:, sips: or tel: URI; the user part is percent-decoded, passwords are dropped."""
    text = text.strip()
    scheme, colon, rest = text.partition(":")
    scheme = scheme.lower()
    if not colon or not rest:
        raise UriError("not a URI")
    if scheme == "tel":
        number, _, params_text = rest.partition(";")
        if not number:
            raise UriError("empty tel number")
        return SipUri("tel", unquote(number), "", None, _param_tuple(params_text))
    if scheme not in ("sip", "sips"):
        raise UriError("unsupported URI scheme")
    rest, _, headers = rest.partition("?")
    userinfo, at, hostpart = rest.rpartition("@")
    user: str | None = None
    if at:
        user = unquote(userinfo.partition(":")[0])
    hostport, _, params_text = hostpart.partition(";")
    try:
        host, port = parse_hostport(hostport)
    except HeaderValueError as exc:
        raise UriError(str(exc)) from None
    return SipUri(scheme, user, host, port, _param_tuple(params_text), headers)


def _param_tuple(text: str) -> tuple[tuple[str, str | None], ...]:
    return tuple(parse_params(text).items()) if text else ()


@dataclass(frozen=True, slots=True)
class NameAddr:
    """A From/To/Contact/P-Asserted-Identity value: display name, URI text, header parameters."""

    display: str | None
    uri: str
    params: dict[str, str | None]

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")


def parse_name_addr(text: str) -> NameAddr:
    """``"Display" <sip:u@h;uparam>;tag=x``, ``Display <uri>`` or a bare ``uri;tag=x`` (§20.10)."""
    text = text.strip()
    display: str | None = None
    rest = text
    if rest.startswith('"'):
        end = _closing_quote(rest)
        display = _unescape(rest[1:end])
        rest = rest[end + 1 :].lstrip()
    open_at = rest.find("<")
    if open_at >= 0:
        close_at = rest.find(">", open_at)
        if close_at < 0:
            raise UriError("unterminated <")
        if display is None:
            display = rest[:open_at].strip() or None
        elif rest[:open_at].strip():
            raise UriError("text between display name and <")
        uri = rest[open_at + 1 : close_at].strip()
        params_text = rest[close_at + 1 :].strip()
        if params_text and not params_text.startswith(";"):
            raise UriError("junk after >")
    else:
        if display is not None:
            raise UriError("display name without <uri>")
        uri, _, params_text = rest.partition(";")
        uri = uri.strip()
    if not uri:
        raise UriError("empty URI")
    return NameAddr(display, uri, parse_params(params_text) if params_text else {})


def _closing_quote(text: str) -> int:
    i = 1
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            return i
        i += 1
    raise UriError("unterminated quoted string")


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    chars = iter(text)
    for ch in chars:
        out.append(next(chars, "") if ch == "\\" else ch)
    return "".join(out)


def phone_number(user: str | None) -> str | None:
    """An E.164-ish number from a URI user part: separators removed, ``+`` kept, else ``None``.

    ``anonymous``, ``unknown`` and other words give ``None``; a user part
    with parameters (``+1555;npdi``) keeps only the number.
    """
    if not user:
        return None
    number = user.partition(";")[0].translate(_VISUAL_SEPARATORS)
    digits = number[1:] if number.startswith("+") else number
    if not digits or len(digits) > _MAX_NUMBER_DIGITS or not digits.isascii() or not digits.isdigit():
        return None
    return number


def dialled_number(request_uri: str, to_value: str | None = None) -> str | None:
    """What the caller dialled: the Request-URI user part, else the To URI's (§8.2.2.1 targets the R-URI).

    Returns the user part itself (which may be a name such as ``sales``), not
    only digits, because queues are often addressed by name.
    """
    for text in (request_uri, _uri_of(to_value)):
        if not text:
            continue
        try:
            user = parse_uri(text).user
        except UriError:
            continue
        if user:
            return user.partition(";")[0]
    return None


def _uri_of(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return parse_name_addr(value).uri
    except UriError:
        return None


@dataclass(frozen=True, slots=True)
class CallerId:
    number: str | None
    display: str | None
    uri: str | None


def caller_id(from_value: str | None, asserted: list[str] | None = None) -> CallerId:
    """Who is calling: the first usable P-Asserted-Identity entry, else From.

    Pass ``asserted`` only for requests from a trusted trunk: RFC 3325 makes
    P-Asserted-Identity meaningful only inside a trust domain.  The display
    name falls back to From's when the asserted identity has none.
    """
    from_addr = _safe_name_addr(from_value)
    from_display = from_addr.display if from_addr else None
    for value in asserted or ():
        for element in split_list(value):
            addr = _safe_name_addr(element)
            if addr is None:
                continue
            number = _number_of(addr.uri)
            if number is not None:
                return CallerId(number, addr.display or from_display, addr.uri)
    if from_addr is None:
        return CallerId(None, None, None)
    return CallerId(_number_of(from_addr.uri), from_display, from_addr.uri)


def _safe_name_addr(value: str | None) -> NameAddr | None:
    if not value:
        return None
    try:
        return parse_name_addr(value)
    except UriError:
        return None


def _number_of(uri_text: str) -> str | None:
    try:
        return phone_number(parse_uri(uri_text).user)
    except UriError:
        return None
