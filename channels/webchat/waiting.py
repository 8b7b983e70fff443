"""Estimated wait: position in queue × the moving average of recent answer times.

Pure: no clock, no I/O. The answer time of a chat is ``assigned_at -
arrived_at``; the estimator keeps the last ``window`` of them per queue. Until
a queue has any, its ``service_level`` (the target answer time in the
configuration) stands in, so the first customers of the day see the promise
rather than nothing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping


class WaitEstimator:
    def __init__(self, defaults: Mapping[str, float], *, window: int = 20) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self._defaults = dict(defaults)
        self._window = window
        self._recent: dict[str, deque[float]] = {}

    def record(self, queue: str, answered_after_s: float) -> None:
        """A chat in ``queue`` was answered ``answered_after_s`` seconds after it arrived."""
        if answered_after_s < 0:
            return
        self._recent.setdefault(queue, deque(maxlen=self._window)).append(answered_after_s)

    def average(self, queue: str) -> float:
        recent = self._recent.get(queue)
        if not recent:
            return self._defaults.get(queue, 60.0)
        return sum(recent) / len(recent)

    def estimate(self, queue: str, position: int) -> int:
        """Whole seconds a customer at 1-based ``position`` can expect to wait."""
        return round(max(position, 1) * self.average(queue))
