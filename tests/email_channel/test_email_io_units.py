"""The I/O half's pure helpers (no servers, no loop), and its import rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from channels.email.envelope import parent_of, scrub, to_payload
from channels.email.imap_protocol import (
    announces_mail,
    chunk_uid_sets,
    encode_folder,
    parse_fetch,
    parse_search,
    parse_select,
    quote_folder,
    uid_set,
)
from channels.email.ingest import _reported_status
from channels.email.model import DeliveryReport, MessageKind, ParsedEmail, RecipientStatus
from channels.email.parse import parse_message
from channels.email.sender import classify_smtp_error
from contactcenter.outbox_worker import PermanentDeliveryError, TransientDeliveryError
from tests.email.corpus_gen import load
from tests.support import imported_names

ROOT = Path(__file__).resolve().parents[2] / "channels" / "email"
PURE = {"imap_protocol.py", "envelope.py"}
IO_MODULES = {"asyncio", "aiohttp", "asyncpg", "aioimaplib", "aiosmtplib", "socket", "contactcenter.db",
              "contactcenter.store"}


def test_uid_sets_are_compact_ranges() -> None:
    assert uid_set([107, 101, 102, 103, 103, 109, 110]) == "101:103,107,109:110"
    assert uid_set([5]) == "5"
    with pytest.raises(ValueError):
        uid_set([])


def test_long_uid_lists_are_split_to_fit_a_command_line() -> None:
    uids = list(range(1, 20000, 2))  # no ranges: the worst case
    chunks = chunk_uid_sets(uids, max_length=500)
    assert [uid for chunk in chunks for uid in chunk] == uids
    assert all(len(uid_set(chunk)) <= 500 for chunk in chunks)
    assert [len(c) for c in chunk_uid_sets(range(1, 11), max_items=4)] == [4, 4, 2]


def test_fetch_answers_with_interleaved_flag_updates_and_any_item_order() -> None:
    lines = [
        b"1 FETCH (FLAGS (\\Recent) UID 101)",  # unsolicited update, no body
        b"1 FETCH (UID 101 RFC822.SIZE 5 BODY[] {5}", bytearray(b"hello"), b")",
        b"2 FETCH (BODY[] {3}", bytearray(b"UID"), b" UID 102)",  # UID after the literal, "UID" inside it
        b"3 FETCH (FLAGS (\\Seen) UID 103)",
        b"UID FETCH completed.",
    ]
    found = parse_fetch(lines)
    assert (found[101].body, found[101].size) == (b"hello", 5)
    assert found[102].body == b"UID"
    assert found[103].body is None


def test_select_search_and_exists() -> None:
    selected = parse_select([b"OK [UIDVALIDITY 1234] UIDs valid.", b"4 EXISTS", b"OK [UIDNEXT 105] next",
                             b"[READ-WRITE] Selected mailbox."])
    assert (selected.uidvalidity, selected.uidnext, selected.exists) == (1234, 105, 4)
    with pytest.raises(ValueError):
        parse_select([b"[READ-WRITE] Selected mailbox."])
    assert parse_search([b"105 101 103", b"UID SEARCH completed."]) == [101, 103, 105]
    assert parse_search([b"", b"UID SEARCH completed."]) == []
    assert announces_mail(b"5 EXISTS") and not announces_mail(b"5 RECENT")


def test_folder_names_use_modified_utf7() -> None:
    assert encode_folder("客服/已处理") == "&W6JnDQ-/&XfJZBHQG-"
    assert encode_folder("R&D") == "R&-D"
    assert quote_folder("Processed") == "Processed"
    assert quote_folder("My Folder") == '"My Folder"'


def test_a_reply_gets_its_parent_back_from_the_stored_payload() -> None:
    parsed = parse_message(load("22_reply_with_references.eml"), max_attachment_bytes=1 << 20)
    payload = to_payload(parsed, mailbox="support", uidvalidity=1, uid=7, review=False)
    parent = parent_of(payload)
    assert (parent.message_id, parent.references, parent.subject, parent.from_address) == (
        parsed.message_id, parsed.references, parsed.subject, parsed.from_address)
    assert scrub({"a\x00": ["b\x00c", 1]}) == {"a": ["bc", 1]}


@pytest.mark.parametrize(("error", "kind"), [
    (ConnectionRefusedError(111, "refused"), TransientDeliveryError),
    (TimeoutError(), TransientDeliveryError),
])
def test_network_failures_are_retried(error: Exception, kind: type[Exception]) -> None:
    assert isinstance(classify_smtp_error(error), kind)


def test_smtp_answers_decide_retry_or_failure() -> None:
    import aiosmtplib

    assert isinstance(classify_smtp_error(aiosmtplib.SMTPDataError(451, "later")), TransientDeliveryError)
    assert isinstance(classify_smtp_error(aiosmtplib.SMTPDataError(554, "spam")), PermanentDeliveryError)
    assert isinstance(classify_smtp_error(aiosmtplib.SMTPAuthenticationError(535, "bad")), TransientDeliveryError)
    refused = aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(550, "no such user", "x@y.z")])
    assert isinstance(classify_smtp_error(refused), PermanentDeliveryError)
    deferred = aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(450, "greylisted", "x@y.z")])
    assert isinstance(classify_smtp_error(deferred), TransientDeliveryError)


@pytest.mark.parametrize(("actions", "status"), [
    (["failed"], "failed"),
    (["delayed"], "delayed"),
    (["delayed", "failed"], "failed"),  # any recipient that failed is a failure
    (["delayed", "delivered"], "delayed"),
    (["delivered"], "delivered"),
    (["relayed"], "relayed"),
    (["expanded"], "expanded"),
    ([None], "failed"),  # a report without an Action (plain-text bounces): failed, as before
    ([], "failed"),
])
def test_a_delivery_report_records_its_action_and_only_failures_as_failed(
        actions: list[str | None], status: str) -> None:
    recipients = [RecipientStatus(f"r{n}@customer.example", action=a) for n, a in enumerate(actions)]
    parsed = ParsedEmail(kind=MessageKind.BOUNCE, dsn=DeliveryReport("<ours@shop.example.com>", recipients))
    assert _reported_status(parsed) == status


def test_no_other_channel_is_imported_and_pure_helpers_do_no_io() -> None:
    other = [(p.name, n) for p in ROOT.glob("*.py") for n in imported_names(p)
             if n.startswith("channels.") and not n.startswith("channels.email")]
    assert not other
    impure = [(p.name, n) for p in ROOT.glob("*.py") if p.name in PURE for n in imported_names(p)
              if any(n == m or n.startswith(m + ".") for m in IO_MODULES)]
    assert not impure
