"""The one percentile every benchmark reports, so that their p50 and p99 mean the same thing."""

from __future__ import annotations

from collections.abc import Iterable


def nearest_rank(values: Iterable[float], q: float) -> float:
    """The value at quantile ``q`` (0 to 1) of ``values``, sorted here: the lower nearest rank. Needs a value."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
