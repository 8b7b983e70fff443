"""UI test fixtures: the browser (its fixture lives beside its launcher)."""

from tests.ui.browser import browser  # noqa: F401
