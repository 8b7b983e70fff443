"""Supervisor alerts: a queue under its service-level target, or with too many waiting.

Pure: ``AlertRules.evaluate`` reads queue rows (``views.queue_rows``) and
returns what changed. Each queue is judged against its own goal, the row's
``service_level_target`` (``queues.*.service_level_target``, 80 % unless set):
queues promise different things, so 85 % is a breach on a 90 % VIP line and
fine on an 80 % one. Each alert is raised once when its condition starts and
cleared once when it ends, however often it is evaluated in between, so the
socket and the webhook see one "raised" and one "cleared" per episode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SL_ALERT_MIN_CONTACTS = 5  # a service level over fewer counted contacts is noise, not a breach


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str  # "service_level" | "waiting"
    queue: str
    status: str  # "raised" | "cleared"
    value: float
    threshold: float
    at: float

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.queue}"

    def to_json(self) -> dict[str, Any]:
        return {"id": self.key, "kind": self.kind, "queue": self.queue, "status": self.status,
                "value": self.value, "threshold": self.threshold, "at": self.at}


class AlertRules:
    """Which alerts are up, and the raise/clear changes since the last evaluation."""

    def __init__(self) -> None:
        self.active: dict[str, Alert] = {}

    def evaluate(self, now: float, queue_rows: list[dict[str, Any]]) -> list[Alert]:
        changes: list[Alert] = []
        for row in queue_rows:
            queue = row["queue"]
            limit = row.get("alert_waiting_above")
            if limit is not None:
                waiting = row["waiting"]
                self._update(changes, Alert("waiting", queue, "raised", waiting, limit, now),
                             breached=waiting > limit, over=waiting <= limit)
            window = row["window"]
            level = window["service_level"]
            counted = window["answered"] + window["abandoned"] - window["short_abandoned"] + window["timed_out"]
            target = row["service_level_target"]  # this queue's goal, never a global one
            self._update(changes, Alert("service_level", queue, "raised", level or 0.0, target, now),
                         breached=level is not None and counted >= SL_ALERT_MIN_CONTACTS and level < target,
                         over=level is None or (counted >= SL_ALERT_MIN_CONTACTS and level >= target))
        return changes

    def _update(self, changes: list[Alert], alert: Alert, *, breached: bool, over: bool) -> None:
        up = self.active.get(alert.key)
        if up is None and breached:
            self.active[alert.key] = alert
            changes.append(alert)
        elif up is not None and over:
            del self.active[alert.key]
            changes.append(Alert(alert.kind, alert.queue, "cleared", alert.value, alert.threshold, alert.at))
