"""``GET /api/reports/daily.csv?date=YYYY-MM-DD&by=queue|agent``: one day's numbers, for Excel.

The day is a local day in ``server.timezone``. Its stored facts (touchpoints of
routing moves, presence changes) are read in one streamed query and replayed
through the same ``MetricsModel`` the live view uses, so a report and the
supervisor's "today" tiles agree by construction (docs/metrics.md). For today
the report runs up to now.

The file is UTF-8 with a byte-order mark so that Excel opens Chinese labels
and names correctly; a cell that would start with ``= + - @`` gets a leading
apostrophe so a name cannot become a formula.
"""

from __future__ import annotations

import csv
import io
import math
import re
import time
from datetime import date, datetime, timedelta
from datetime import time as day_start
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from contactcenter.api.auth import require_role
from contactcenter.api.errors import ApiError
from contactcenter.api.keys import DB, ROUTER, SETTINGS
from contactcenter.metrics.model import MetricsModel
from contactcenter.metrics.observer import queue_targets
from contactcenter.metrics.replay import replay
from contactcenter.metrics.views import agent_interval, agent_tallies, interval
from contactcenter.model import Role

routes = web.RouteTableDef()

QUEUE_COLUMNS = (
    "date", "queue", "label", "offered", "answered", "answered_within_sl", "abandoned", "short_abandoned",
    "timed_out", "transferred", "handled", "service_level_pct", "service_level_threshold_s", "asa_s", "aht_s",
    "avg_talk_s", "avg_wrap_s", "avg_abandon_wait_s",
)
AGENT_COLUMNS = (
    "date", "agent_id", "login", "display_name", "answered", "handled", "transferred", "aht_s", "talk_s",
    "wrap_s", "available_s", "busy_s", "wrap_up_s", "away_s", "occupancy_pct",
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@routes.get("/api/reports/daily.csv")
async def daily_report(request: web.Request) -> web.Response:
    await require_role(request, Role.SUPERVISOR)
    settings = request.app[SETTINGS]
    tz = ZoneInfo(settings.server.timezone)
    by = request.query.get("by", "queue")
    if by not in ("queue", "agent"):
        raise ApiError(400, "bad_by", "by must be 'queue' or 'agent'")
    now = time.time()
    day = _day(request.query.get("date"), datetime.fromtimestamp(now, tz).date())
    lo = datetime.combine(day, day_start(0), tz)
    hi = datetime.combine(day + timedelta(days=1), day_start(0), tz)
    end = min(hi.timestamp(), now)
    model = MetricsModel(queue_targets(request.app[ROUTER].config, settings.queues), tz)
    if lo.timestamp() < end:
        await replay(request.app[DB], model, lo, datetime.fromtimestamp(end, tz))
    read_at = math.nextafter(end, -math.inf)  # the day's last instant: still the same day
    if by == "queue":
        labels = {name: q.label or name for name, q in settings.queues.items()}
        rows = queue_report(model, read_at, day, labels)
        columns = QUEUE_COLUMNS
    else:
        async with request.app[DB].connection() as tx:
            accounts = {str(a.id): a for a in await tx.agents.all()}
        names = {aid: (a.login, a.display_name) for aid, a in accounts.items()}
        rows = agent_report(model, read_at, day, names)
        columns = AGENT_COLUMNS
    return web.Response(
        body=to_csv(columns, rows),
        headers={"Content-Type": "text/csv; charset=utf-8",
                 "Content-Disposition": f'attachment; filename="contactcenter-{by}-{day.isoformat()}.csv"',
                 "Cache-Control": "no-store"},
    )


def _day(text: str | None, today: date) -> date:
    if text is None:
        return today
    try:
        if not _DATE.match(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise ApiError(400, "bad_date", "date must be YYYY-MM-DD") from None


def queue_report(model: MetricsModel, read_at: float, day: date, labels: dict[str, str]) -> list[dict[str, Any]]:
    """One row per configured queue (and any other queue the day's facts name)."""
    names = list(model.queues) + sorted({k[1] for k in model.series if k[0] == "queue"} - set(model.queues))
    rows = []
    for name in names:
        numbers = interval(model.today(("queue", name), read_at))
        target = model.queues.get(name)
        rows.append({
            "date": day.isoformat(), "queue": name, "label": labels.get(name, name),
            **{k: numbers[k] for k in ("offered", "answered", "answered_within_sl", "abandoned", "short_abandoned",
                                       "timed_out", "transferred", "handled")},
            "service_level_pct": _pct(numbers["service_level"]),
            "service_level_threshold_s": None if target is None else target.service_level_s,
            **{k: _seconds(numbers[k]) for k in ("asa_s", "aht_s", "avg_talk_s", "avg_wrap_s",
                                                 "avg_abandon_wait_s")},
        })
    return rows


def agent_report(model: MetricsModel, read_at: float, day: date,
                 names: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """One row per agent who was present or worked that day, by login."""
    ids = set(model.agents) | {k[1] for k in model.series if k[0] == "agent"}
    rows = []
    for agent_id in ids:
        agent = model.agents.get(agent_id)
        tally = agent_tallies(model, agent, read_at)[1] if agent else model.today(("agent", agent_id), read_at)
        numbers = agent_interval(tally)
        if not any(numbers[k] for k in ("answered", "handled", "available_s", "busy_s", "wrap_up_s", "away_s")):
            continue
        login, display = names.get(agent_id, ("", ""))
        rows.append({
            "date": day.isoformat(), "agent_id": agent_id, "login": login, "display_name": display,
            **{k: numbers[k] for k in ("answered", "handled", "transferred")},
            **{k: _seconds(numbers[k]) for k in ("aht_s", "talk_s", "wrap_s", "available_s", "busy_s", "wrap_up_s",
                                                 "away_s")},
            "occupancy_pct": _pct(numbers["occupancy"]),
        })
    return sorted(rows, key=lambda row: (row["login"], row["agent_id"]))


def to_csv(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
