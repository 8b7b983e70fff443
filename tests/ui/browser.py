"""Headless Chromium for UI tests, launched the one way that works here (see TESTING.md).

``playwright install`` cannot download browsers on our machines, so tests use
Debian's ``/usr/bin/chromium`` with the flags that keep it from reaching the
network. A test module that needs it calls ``skip_without_chromium()`` at import
so the suite says why it skipped instead of failing on a machine without it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Browser, Playwright

CHROMIUM = Path(os.environ.get("CC_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def skip_without_chromium() -> None:
    """Skip the calling test module when there is no browser to drive (or no Playwright)."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CC_CHROMIUM)",
                    allow_module_level=True)
    pytest.importorskip("playwright.async_api", reason="the playwright package is not installed")


async def launch(playwright: Playwright) -> Browser:
    """A headless Chromium from ``async_playwright()``'s handle, with the flags TESTING.md lists."""
    return await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


def artifact(name: str) -> Path:
    """Where a test saves a screenshot (tests/artifacts/, ignored by git)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """One Chromium per test, in the test's own event loop (Playwright's async API needs that)."""
    skip_without_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await launch(playwright)
        try:
            yield chromium
        finally:
            await chromium.close()
