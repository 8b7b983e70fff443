"""The voice tests' side of SIPp: their scenario files and the mark that skips them without SIPp.

Running SIPp itself is ``harness.sipp``, shared with the SIP benchmark.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.sipp import sipp_available

SCENARIOS = Path(__file__).parent / "scenarios"

needs_sipp = pytest.mark.skipif(
    not sipp_available(), reason="SIPp is not installed (the Debian package sip-tester provides /usr/bin/sipp)")


def scenario(name: str, workdir: Path, **replace: str) -> Path:
    """A scenario file, with placeholders (e.g. CONTACT_REGEXP) replaced, copied into ``workdir``."""
    text = (SCENARIOS / name).read_text()
    for placeholder, value in replace.items():
        text = text.replace(placeholder, value)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / name
    path.write_text(text)
    return path
