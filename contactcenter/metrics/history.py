"""The last hour of each queue's depth and service level, for the supervisor's charts.

Pure: ``QueueHistory.sample`` is offered the current queue rows on every tick
and keeps one sample per ``interval_s`` in a bounded ring, so a supervisor who
connects gets the hour at once and then one new point at a time.
"""

from __future__ import annotations

from collections import deque
from typing import Any

SAMPLE_EVERY_S = 20.0
KEEP_S = 3600.0


class QueueHistory:
    def __init__(self, interval_s: float = SAMPLE_EVERY_S, keep_s: float = KEEP_S) -> None:
        self.interval_s = interval_s
        self.samples: deque[dict[str, Any]] = deque(maxlen=max(1, int(keep_s // interval_s)))
        self._next = 0.0

    def sample(self, now: float, queue_rows: list[dict[str, Any]]) -> dict[str, Any] | None:
        """Record a point if one is due at ``now``; return it (None when not due)."""
        if now < self._next:
            return None
        self._next = now + self.interval_s
        point = {
            "at": now,
            "queues": {
                row["queue"]: {"waiting": row["waiting"], "service_level": row["window"]["service_level"]}
                for row in queue_rows
            },
        }
        self.samples.append(point)
        return point
