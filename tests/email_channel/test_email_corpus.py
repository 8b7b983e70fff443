"""The whole parsing corpus, plus a 10 MB attachment, through a real IMAP server into the store.

Each message is routed to an agent, stored without routing, or routed and
flagged for review, as its row in ``OUTCOME`` says; every one is flagged
``\\Seen`` only after it is stored; and the mailbox keeps working afterwards.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from contactcenter.config import Settings
from contactcenter.db import Database
from tests.email.corpus_gen import LARGE_FILENAME, corpus_names, large_payload, load, make_large_attachment_message
from tests.email_channel.conftest import Batches, email_agent, running_app
from tests.email_channel.mail import customer_mail
from tests.email_channel.servers import Mailbox

ROUTED, UNROUTED, REVIEW, JOINS_01 = "routed", "unrouted", "review", "joins 01"
LARGE = "large attachment"
LARGE_SIZE = 10 * 1000 * 1000  # over the test mailbox's 5 MiB max_attachment_bytes

# fmt: off
OUTCOME = {
    "01_plain_ascii.eml": ROUTED, "02_multipart_alternative.eml": ROUTED, "03_gbk_subject_qp_body.eml": ROUTED,
    "04_gbk_base64_body.eml": ROUTED, "05_gb2312_with_gbk_chars.eml": ROUTED, "06_gb18030.eml": ROUTED,
    "07_big5.eml": ROUTED, "08_utf8_emoji.eml": ROUTED, "09_iso8859_1.eml": ROUTED, "10_iso8859_15.eml": ROUTED,
    "11_qp_soft_breaks.eml": ROUTED, "12_attachment_rfc2231_chinese_filename.eml": ROUTED,
    "13_inline_cid_image.eml": ROUTED,
    "14_auto_reply.eml": UNROUTED,            # Auto-Submitted: auto-replied
    "15_outlook_oof.eml": UNROUTED,          # Exchange out-of-office
    "16_dsn_bounce.eml": UNROUTED,           # a bounce of a message that is not ours
    "17_mailing_list.eml": UNROUTED,         # List-Id
    "18_malformed_mime.eml": REVIEW,         # routed, flagged for review, raw bytes kept
    "19_no_message_id.eml": ROUTED, "20_bogus_charset.eml": ROUTED, "21_html_only_script.eml": ROUTED,
    "22_reply_with_references.eml": JOINS_01,  # References names 01's Message-ID
    "23_reply_token_only.eml": ROUTED,       # [#ABC123] is no token of ours
    "24_raw_8bit_gbk_headers.eml": ROUTED,
    "25_plain_bounce_qmail.eml": UNROUTED, "26_read_receipt_mdn.eml": UNROUTED,
}
# fmt: on


async def _rows(db: Database, uid: int) -> dict[str, Any]:
    """The touchpoint stored for ``uid``, its interaction, raw copy and attachments."""
    async with db.connection() as tx:
        touchpoint = await tx.conn.fetchrow(
            "SELECT id, interaction_id, body, payload FROM touchpoints WHERE kind = 'inbound_message' "
            "AND (payload->>'uid')::bigint = $1", uid)
        assert touchpoint is not None, f"uid {uid} was not stored"
        count = await tx.conn.fetchval(
            "SELECT count(*) FROM touchpoints WHERE kind = 'inbound_message' AND (payload->>'uid')::bigint = $1", uid)
        interaction = None
        if touchpoint["interaction_id"] is not None:
            interaction = await tx.interactions.get(touchpoint["interaction_id"])
        raw = await tx.conn.fetchval("SELECT raw FROM email_raw WHERE touchpoint_id = $1", touchpoint["id"])
        attachments = await tx.conn.fetch(
            "SELECT filename, size, sha256, data IS NOT NULL AS kept FROM email_attachments WHERE touchpoint_id = $1 "
            "ORDER BY position", touchpoint["id"])
    return {"touchpoint": touchpoint, "count": count, "interaction": interaction, "raw": raw,
            "attachments": attachments}


async def test_corpus_is_routed_ignored_or_flagged_per_file(settings: Settings, db: Database,
                                                            mailbox: Mailbox) -> None:
    assert len(OUTCOME) == len(corpus_names()) >= 20
    async with running_app(settings, db, parse_workers=1) as client:
        batches = Batches(client)
        alice = await email_agent(client, db, "alice", capacity=50)
        uids: dict[str, int] = {}
        for name in corpus_names():
            uids[name] = await mailbox.append(load(name))
        uids[LARGE] = await mailbox.append(make_large_attachment_message(LARGE_SIZE))
        await batches.flagged(list(uids.values()), timeout=60)

        rows = {name: await _rows(db, uid) for name, uid in uids.items()}
        outcome = {**OUTCOME, LARGE: ROUTED}
        first = rows["01_plain_ascii.eml"]["interaction"]
        routed = {name for name, kind in outcome.items() if kind in (ROUTED, REVIEW)}
        for name, kind in outcome.items():
            row = rows[name]
            assert row["count"] == 1, name
            payload, interaction = row["touchpoint"]["payload"], row["interaction"]
            if kind == UNROUTED:
                assert payload["routed"] is False and interaction is None, name
                continue
            assert interaction is not None and interaction.channel == "email" and interaction.queue == "support", name
            assert payload["review"] is (kind == REVIEW), name
            assert bool(interaction.attributes.get("review")) is (kind == REVIEW), name
            if kind == JOINS_01:
                assert interaction.id == first.id, name
            else:
                assert interaction.thread_key is not None, name  # its subject token

        # every routed message's interaction is offered to the agent (and nothing else is)
        expected = {rows[name]["interaction"].id for name in routed}
        offered: set[uuid.UUID] = set()
        while offered != expected:
            offered.add(uuid.UUID(await alice.offer(timeout=10)))
            assert offered <= expected

        # malformed and oddly encoded mail keeps its raw bytes; clean mail does not need to
        assert rows["18_malformed_mime.eml"]["raw"] == load("18_malformed_mime.eml")
        assert rows["24_raw_8bit_gbk_headers.eml"]["raw"] == load("24_raw_8bit_gbk_headers.eml")
        assert rows["01_plain_ascii.eml"]["raw"] is None

        # attachments: bytes under the limit, metadata only above it
        invoice = rows["12_attachment_rfc2231_chinese_filename.eml"]["attachments"]
        assert [(a["filename"], a["size"], a["kept"]) for a in invoice] == [
            ("发票_2025年3月.pdf", 148, True), ("对账单.xls", 516, True)]
        (video,) = rows[LARGE]["attachments"]
        assert (video["filename"], video["size"], video["kept"]) == (LARGE_FILENAME, LARGE_SIZE, False)
        assert video["sha256"] == hashlib.sha256(large_payload(LARGE_SIZE)).hexdigest()
        assert rows[LARGE]["touchpoint"]["payload"]["attachments"][0]["stored"] is False

        # the agent never sees the script of the HTML-only message
        html = rows["21_html_only_script.eml"]["touchpoint"]["payload"]["html"]
        assert "<script" not in html.lower() and "onerror" not in html.lower()

        # everything was flagged \Seen, and the mailbox keeps going after the corpus
        assert all("\\Seen" in flags for flags in (await mailbox.flags()).values())
        later = await mailbox.append(customer_mail(sender="late@customer.example", subject="还有一个问题",
                                                   body="请问发票什么时候开？", message_id="<late-1@customer.example>"))
        await batches.flagged([later])
        assert (await _rows(db, later))["interaction"] is not None
        await alice.offer(timeout=10)
        await alice.disconnect()
