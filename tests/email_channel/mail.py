"""Customer mail for the tests, built the way common clients build it."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime


def customer_mail(*, sender: str, subject: str, body: str, message_id: str, name: str = "",
                  in_reply_to: str | None = None, references: Sequence[str] = (), charset: str = "utf-8",
                  to: str = "support@shop.example.com", extra: Sequence[tuple[str, str]] = ()) -> bytes:
    """A text/plain message in ``charset`` (base64 body, RFC 2047 subject and name), CRLF line ends."""
    display = Header(name, charset).encode() + " " if name else ""
    lines = [
        f"From: {display}<{sender}>",
        f"To: {to}",
        f"Subject: {Header(subject, charset).encode()}",
        f"Date: {format_datetime(datetime(2025, 4, 1, 10, 0, tzinfo=UTC))}",
        f"Message-ID: {message_id}",
    ]
    if in_reply_to:
        lines.append(f"In-Reply-To: {in_reply_to}")
    if references:
        lines.append("References: " + "\r\n ".join(references))
    lines += [f"{key}: {value}" for key, value in extra]
    lines += ["MIME-Version: 1.0", f'Content-Type: text/plain; charset="{charset}"',
              "Content-Transfer-Encoding: base64", ""]
    encoded = base64.encodebytes(body.encode(charset)).decode().replace("\n", "\r\n")
    return ("\r\n".join(lines) + "\r\n" + encoded).encode("ascii")


def bounce_for(original_message_id: str, recipient: str) -> bytes:
    """A Postfix-style RFC 3464 bounce of one of our messages."""
    return (
        "From: MAILER-DAEMON@mx.customer.example (Mail Delivery System)\r\n"
        "To: support@shop.example.com\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Date: Tue, 01 Apr 2025 10:05:00 +0000\r\n"
        "Message-ID: <bounce-" + original_message_id.strip("<>").replace("@", ".") + "@mx.customer.example>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="BOUND"\r\n'
        "\r\n"
        "--BOUND\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "Your message could not be delivered to one or more recipients.\r\n"
        "\r\n"
        "--BOUND\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        "Reporting-MTA: dns; mx.customer.example\r\n"
        "\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        "Action: failed\r\n"
        "Status: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n"
        "\r\n"
        "--BOUND\r\n"
        "Content-Type: text/rfc822-headers\r\n"
        "\r\n"
        "From: support@shop.example.com\r\n"
        f"To: {recipient}\r\n"
        f"Message-ID: {original_message_id}\r\n"
        "Subject: Re: something\r\n"
        "\r\n"
        "--BOUND--\r\n"
    ).encode("ascii")
