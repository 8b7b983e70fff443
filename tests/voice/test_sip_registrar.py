"""Binding rules of the registrar (channels/voice/sip/registrar.py)."""

from __future__ import annotations

import pytest

from channels.voice.sip import Registrar

PHONE = "<sip:1001@198.51.100.7:40123;transport=udp>"
DESK = "<sip:1001@10.0.0.20:5060>"


@pytest.fixture
def registrar() -> Registrar:
    return Registrar(min_expires=60, max_expires=3600, default_expires=600)


def test_binding_lives_until_it_expires(registrar: Registrar) -> None:
    outcome = registrar.register("1001", [PHONE], "300", "c1", 1, 100.0)
    assert outcome.status == 200
    assert [(b.contact, b.expires_in(100.0)) for b in outcome.bindings] == [
        ("sip:1001@198.51.100.7:40123;transport=udp", 300)
    ]
    assert [b.contact for b in outcome.added] == ["sip:1001@198.51.100.7:40123;transport=udp"]
    assert registrar.lookup("1001", 399.0) == "sip:1001@198.51.100.7:40123;transport=udp"
    assert registrar.lookup("1001", 400.0) is None
    assert registrar.next_expiry() == 400.0
    assert [b.user for b in registrar.expire(400.0)] == ["1001"]
    assert registrar.users() == [] and registrar.next_expiry() is None


def test_contact_expires_param_beats_header_and_max_is_enforced(registrar: Registrar) -> None:
    outcome = registrar.register("1001", [f"{PHONE};expires=120", DESK], "99999", "c1", 1, 0.0)
    assert sorted(b.expires_in(0.0) for b in outcome.bindings) == [120, 3600]


def test_default_expiry_applies_without_any_expires(registrar: Registrar) -> None:
    (binding,) = registrar.register("1001", [PHONE], None, "c1", 1, 0.0).bindings
    assert binding.expires_in(0.0) == 600


def test_interval_too_brief_is_423_with_min_expires(registrar: Registrar) -> None:
    outcome = registrar.register("1001", [PHONE], "30", "c1", 1, 0.0)
    assert (outcome.status, outcome.min_expires) == (423, 60)
    assert registrar.lookup("1001", 0.0) is None


def test_refresh_with_higher_cseq_and_out_of_order_rejected(registrar: Registrar) -> None:
    registrar.register("1001", [PHONE], "300", "c1", 5, 0.0)
    assert registrar.register("1001", [PHONE], "300", "c1", 6, 200.0).status == 200
    assert registrar.lookup("1001", 450.0) is not None
    stale = registrar.register("1001", [PHONE], "0", "c1", 6, 210.0)
    assert (stale.status, stale.reason) == (400, "Out Of Order CSeq")
    assert registrar.lookup("1001", 450.0) is not None


def test_expires_zero_removes_one_binding_and_reports_it(registrar: Registrar) -> None:
    registrar.register("1001", [PHONE, DESK], "300", "c1", 1, 0.0)
    outcome = registrar.register("1001", [f"{DESK};expires=0"], None, "c1", 2, 10.0)
    assert [b.contact for b in outcome.removed] == ["sip:1001@10.0.0.20:5060"]
    assert [b.contact for b in outcome.bindings] == ["sip:1001@198.51.100.7:40123;transport=udp"]
    assert outcome.added == ()


def test_wildcard_with_expires_zero_removes_everything(registrar: Registrar) -> None:
    registrar.register("1001", [PHONE, DESK], "300", "c1", 1, 0.0)
    outcome = registrar.register("1001", ["*"], "0", "c2", 1, 10.0)
    assert outcome.status == 200 and outcome.bindings == () and len(outcome.removed) == 2
    assert registrar.lookup("1001", 10.0) is None


@pytest.mark.parametrize(("contacts", "expires"), [(["*"], "300"), (["*"], None), (["*", PHONE], "0")])
def test_wildcard_misuse_is_400(registrar: Registrar, contacts: list[str], expires: str | None) -> None:
    assert registrar.register("1001", contacts, expires, "c1", 1, 0.0).status == 400


def test_query_without_contacts_lists_bindings(registrar: Registrar) -> None:
    registrar.register("1001", [PHONE], "300", "c1", 1, 0.0)
    outcome = registrar.register("1001", [], None, "c9", 1, 5.0)
    assert outcome.status == 200 and len(outcome.bindings) == 1 and outcome.added == outcome.removed == ()


def test_lookup_prefers_higher_q_then_freshest(registrar: Registrar) -> None:
    registrar.register("1001", [f"{DESK};q=0.5", f"{PHONE};q=0.9"], "300", "c1", 1, 0.0)
    assert registrar.lookup("1001", 1.0) == "sip:1001@198.51.100.7:40123;transport=udp"


def test_binding_limit_pushes_out_the_oldest() -> None:
    registrar = Registrar(max_bindings=2)
    registrar.register("1001", ["<sip:1001@10.0.0.1>"], "300", "a", 1, 0.0)
    registrar.register("1001", ["<sip:1001@10.0.0.2>"], "300", "b", 1, 1.0)
    outcome = registrar.register("1001", ["<sip:1001@10.0.0.3>"], "300", "c", 1, 2.0)
    assert [b.contact for b in outcome.removed] == ["sip:1001@10.0.0.1"]
    assert len(outcome.bindings) == 2


@pytest.mark.parametrize(
    ("contacts", "expires"),
    [
        (["<mailto:x@y>"], "300"),
        (["<sip:1001@h>;expires=soon"], None),
        (["<sip:1001@h>;q=2"], None),
        ([PHONE], "-1"),
        ([PHONE], "10 minutes"),
    ],
)
def test_bad_contacts_and_expires_are_400(registrar: Registrar, contacts: list[str], expires: str | None) -> None:
    assert registrar.register("1001", contacts, expires, "c1", 1, 0.0).status == 400


def test_bad_bounds_fail_loudly() -> None:
    with pytest.raises(ValueError):
        Registrar(min_expires=600, default_expires=60)
    with pytest.raises(ValueError):
        Registrar(max_bindings=0)
