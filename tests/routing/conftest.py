"""Hypothesis profiles for the routing property tests.

``ci`` (selected when CI=true) runs a couple of thousand sequences per property;
``dev`` (the default) a few hundred so a local run stays quick.
HYPOTHESIS_PROFILE=name picks one explicitly.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile("dev", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI", "").lower() == "true" else "dev")
)
