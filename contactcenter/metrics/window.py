"""Counting over time without keeping history: per-minute buckets and one total per local day.

Every fact adds to two tallies of each key it concerns (a queue, a channel, an
agent): the bucket of its minute and the total of its local day. The rolling
window is the sum of the last ``WINDOW_MINUTES`` buckets (a ring, so the work
per fact and per read is constant); "today" is the day total, dropped when a
fact of a later day arrives. Durations (an agent's time in a state) are split
over the minutes and the day they cover when the span closes; a span still
open is added at read time by the caller. Pure: no clock, time is passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import datetime, time, timedelta, tzinfo

WINDOW_MINUTES = 15
_MINUTE = 60.0

# an agent's activity -> the Tally field that accumulates its time (offline time is not counted)
ACTIVITY_FIELDS = {"available": "available_s", "busy": "busy_s", "wrap_up": "wrap_up_s", "away": "away_s"}


@dataclass(slots=True)
class Tally:
    """Counts and sums over one interval for one key. Fields mean what docs/metrics.md says."""

    offered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    answer_wait_s: float = 0.0
    abandoned: int = 0
    short_abandoned: int = 0
    abandon_wait_s: float = 0.0
    timed_out: int = 0
    transferred: int = 0
    handled: int = 0
    talk_s: float = 0.0
    wrap_s: float = 0.0
    available_s: float = 0.0
    busy_s: float = 0.0
    wrap_up_s: float = 0.0
    away_s: float = 0.0

    def add(self, other: Tally) -> None:
        for f in _FIELDS:
            setattr(self, f, getattr(self, f) + getattr(other, f))

    def copy(self) -> Tally:
        out = Tally()
        out.add(self)
        return out


_FIELDS = tuple(f.name for f in fields(Tally))


class Calendar:
    """Local days in one time zone: the day an instant belongs to, and where that day starts.

    Days are numbered by their proleptic ordinal so they compare in order. The
    current day's bounds are cached: most facts fall inside it.
    """

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self._day = 0
        self._start = math.inf
        self._end = -math.inf

    def day(self, at: float) -> tuple[int, float, float]:
        """(day number, start, end) of the local day holding instant ``at``."""
        if not self._start <= at < self._end:
            local = datetime.fromtimestamp(at, self.tz).date()
            self._day = local.toordinal()
            self._start = datetime.combine(local, time(0), self.tz).timestamp()
            self._end = datetime.combine(local + timedelta(days=1), time(0), self.tz).timestamp()
        return self._day, self._start, self._end


class Series:
    """One key's tallies: a ring of per-minute buckets and the total of its latest day."""

    __slots__ = ("day", "minutes", "ring", "today")

    def __init__(self) -> None:
        self.minutes = [-1] * WINDOW_MINUTES
        self.ring = [Tally() for _ in range(WINDOW_MINUTES)]
        self.day = -1
        self.today = Tally()

    def for_minute(self, minute: int) -> Tally | None:
        """The bucket of ``minute``, emptied if it held an older minute; None if the slot moved past it."""
        slot = minute % WINDOW_MINUTES
        held = self.minutes[slot]
        if held > minute:
            return None
        if held < minute:
            self.minutes[slot] = minute
            self.ring[slot] = Tally()
        return self.ring[slot]

    def for_day(self, day: int) -> Tally | None:
        """The total of ``day``, starting afresh on a later day; None for a day already passed."""
        if day > self.day:
            self.day = day
            self.today = Tally()
        return self.today if day == self.day else None

    def window(self, minute_now: int) -> Tally:
        """Sum of the buckets of minutes ``minute_now - WINDOW_MINUTES + 1 .. minute_now``."""
        total = Tally()
        for minute, tally in zip(self.minutes, self.ring, strict=True):
            if minute_now - WINDOW_MINUTES < minute <= minute_now:
                total.add(tally)
        return total

    def day_total(self, day: int) -> Tally:
        return self.today.copy() if day == self.day else Tally()


def minute_of(at: float) -> int:
    return math.floor(at / _MINUTE)


def window_start(now: float) -> float:
    """Where the rolling window read at ``now`` begins: the start of its oldest minute bucket."""
    return (minute_of(now) - WINDOW_MINUTES + 1) * _MINUTE


def credit_span(series: Series, calendar: Calendar, field: str, start: float, end: float) -> None:
    """Add the seconds of ``[start, end)`` to ``field`` of the minute buckets and the day they fall in.

    Only the part that can still be read is credited: the last ``WINDOW_MINUTES``
    minutes of the span, and its part in the day where it ends (earlier days are
    gone once a later one is counted). So the work is bounded, however long the span.
    """
    if end <= start:
        return
    last = math.nextafter(end, -math.inf)  # the span's last instant: [start, end) is half-open
    day, day_start, _ = calendar.day(last)
    total = series.for_day(day)
    if total is not None:
        setattr(total, field, getattr(total, field) + end - max(start, day_start))
    t = max(start, window_start(last))
    while t < end:
        minute = minute_of(t)
        upto = min(end, (minute + 1) * _MINUTE)
        bucket = series.for_minute(minute)
        if bucket is not None:
            setattr(bucket, field, getattr(bucket, field) + upto - t)
        t = upto


def open_span_parts(start: float, now: float, calendar: Calendar) -> tuple[float, float]:
    """Seconds of a span begun at ``start`` and still open at ``now``: (in the window, in today)."""
    if now <= start:
        return 0.0, 0.0
    _, day_start, _ = calendar.day(now)
    return now - max(start, window_start(now)), now - max(start, day_start)
