"""``contactcenter serve`` with the e-mail channel and a crash point, for the SIGKILL test.

Run as ``python -m tests.email_channel.serve_email serve --config FILE``. It
adds the e-mail channel to the composition root (unless it is listed there
already) and, when ``CC_TEST_EMAIL_PAUSE_AFTER_COMMIT=1`` is set, gives every
poller an ``after_commit`` hook that logs ``MARKER`` and then waits forever:
the batch is committed but not yet flagged, which is exactly where the test
kills the process. Production code has no such switch; the hook is the
poller's ordinary ``after_commit`` attribute, set only here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from aiohttp import web

import channels.email as email_channel
import contactcenter.api.app as composition
from channels.email import channel as email_io
from contactcenter.channel_context import ChannelContext
from contactcenter.cli import run

PAUSE_ENV = "CC_TEST_EMAIL_PAUSE_AFTER_COMMIT"
MARKER = "EMAIL-TEST paused after commit"


def _crash_point(app: web.Application, context: ChannelContext) -> None:
    if os.environ.get(PAUSE_ENV) != "1":
        return

    async def pause(mailbox: str, uids: Sequence[int]) -> None:
        logging.getLogger("tests.email").warning("%s: %s uids=%s", MARKER, mailbox, ",".join(map(str, uids)))
        await asyncio.Event().wait()  # never set: the test SIGKILLs the process here

    for poller in app[email_io.EMAIL_CHANNEL].pollers:
        poller.after_commit = pause


def main() -> int:
    setups = composition.CHANNEL_SETUPS
    if not any(setup in (email_channel.setup, email_io.setup) for setup in setups):
        setups = (*setups, email_channel.setup)
    composition.CHANNEL_SETUPS = (*setups, _crash_point)
    return run(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
