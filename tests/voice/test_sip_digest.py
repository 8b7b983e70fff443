"""Server-side digest authentication with stateless nonces (channels/voice/sip/digest.py)."""

from __future__ import annotations

import pytest

from channels.voice.sip import DigestStatus, make_authorization, make_challenge, verify
from channels.voice.sip.digest import digest_response, make_nonce, parse_digest

SECRET = b"0123456789abcdef0123"
REALM = "cc.example.com"
URI = "sip:cc.example.com"
PASSWORDS = {"1001": "pa55", "Mufasa": "Circle Of Life"}.get


def test_rfc_2617_example_vector() -> None:
    response = digest_response(
        algorithm="MD5",
        username="Mufasa",
        realm="testrealm@host.com",
        password="Circle Of Life",
        method="GET",
        uri="/dir/index.html",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        qop="auth",
        nc="00000001",
        cnonce="0a4f113b",
    )
    assert response == "6629fae49393a05397450978507c4ef1"


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc_7616_example_vectors(algorithm: str, expected: str) -> None:
    response = digest_response(
        algorithm=algorithm,
        username="Mufasa",
        realm="http-auth@example.org",
        password="Circle of Life",
        method="GET",
        uri="/dir/index.html",
        nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
        qop="auth",
        nc="00000001",
        cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    )
    assert response == expected


def answer(now: float = 1000.0, *, algorithm: str = "MD5", password: str = "pa55", uri: str = URI) -> str:
    challenge = make_challenge(REALM, SECRET, now, algorithm=algorithm)
    return make_authorization(challenge, username="1001", password=password, method="REGISTER", uri=uri)


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256", "MD5-sess", "SHA-256-sess"])
def test_round_trip_succeeds(algorithm: str) -> None:
    result = verify(answer(algorithm=algorithm), "REGISTER", PASSWORDS, REALM, SECRET, 1010.0, request_uri=URI)
    assert result.status is DigestStatus.OK and result.username == "1001" and result.ok


def test_no_qop_rfc_2069_style_credentials_are_accepted() -> None:
    nonce = make_nonce(REALM, SECRET, 1000.0)
    response = digest_response(
        algorithm="MD5", username="1001", realm=REALM, password="pa55", method="INVITE", uri=URI, nonce=nonce
    )
    header = f'Digest username="1001", realm="{REALM}", nonce="{nonce}", uri="{URI}", response="{response}"'
    assert verify(header, "INVITE", PASSWORDS, REALM, SECRET, 1001.0).ok


def test_expired_nonce_with_right_password_is_stale() -> None:
    result = verify(answer(), "REGISTER", PASSWORDS, REALM, SECRET, 1000.0 + 301, nonce_ttl=300)
    assert result.status is DigestStatus.STALE


def test_nonce_from_another_secret_with_right_password_is_stale() -> None:
    result = verify(answer(), "REGISTER", PASSWORDS, REALM, b"rotated-secret-0000", 1001.0)
    assert result.status is DigestStatus.STALE


def test_nonce_from_the_future_is_stale_not_ok() -> None:
    assert verify(answer(now=2000.0), "REGISTER", PASSWORDS, REALM, SECRET, 1000.0).status is DigestStatus.STALE


@pytest.mark.parametrize(
    ("header", "method", "reason"),
    [
        (answer(password="wrong"), "REGISTER", "wrong password"),
        (answer(), "INVITE", "wrong password"),
        (answer().replace('username="1001"', 'username="9999"'), "REGISTER", "unknown user"),
        (answer().replace(REALM, "other.realm"), "REGISTER", "wrong realm"),
        (answer(uri="sip:elsewhere"), "REGISTER", "uri does not match Request-URI"),
        (answer().replace("qop=auth", "qop=auth-int"), "REGISTER", "unsupported qop"),
        (answer().replace("algorithm=MD5", "algorithm=SHA-512"), "REGISTER", "unsupported algorithm"),
        (answer().replace("nc=00000001, ", ""), "REGISTER", "qop=auth needs nc and cnonce"),
        ("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "REGISTER", "malformed credentials"),
        ('Digest username="1001", realm="x', "REGISTER", "malformed credentials"),
        ('Digest username="1001"', "REGISTER", "incomplete credentials"),
    ],
)
def test_bad_credentials(header: str, method: str, reason: str) -> None:
    result = verify(header, method, PASSWORDS, REALM, SECRET, 1001.0, request_uri=URI)
    assert (result.status, result.reason) == (DigestStatus.BAD, reason)


def test_challenge_shape_and_parsing() -> None:
    challenge = make_challenge(REALM, SECRET, 1000.0, algorithm="SHA-256", stale=True)
    params = parse_digest(challenge)
    assert params["realm"] == REALM and params["algorithm"] == "SHA-256"
    assert params["qop"] == "auth" and params["stale"] == "true"
    assert params["nonce"] == make_nonce(REALM, SECRET, 1000.0)
    with pytest.raises(ValueError):
        make_challenge(REALM, SECRET, 1000.0, algorithm="SHA-1")


def test_quoted_values_with_escapes_and_commas() -> None:
    params = parse_digest('Digest username="a\\"b,c", realm="r" , nonce=n,uri="sip:x"')
    assert params == {"username": 'a"b,c', "realm": "r", "nonce": "n", "uri": "sip:x"}
