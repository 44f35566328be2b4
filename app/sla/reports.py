"""SLA reports: for a time range and a grouping, counts, the share of each clock met, interval
percentiles and breaches by cause. Drills and accidental presses are counted apart and never
against a target; alerts cancelled under duress are counted like any other.

What a reader may be told (the window's grain, the smallest group, duress counts) is decided by
``app.policy.reports``; this module applies it: ``snap`` the window, ``shape`` the figures.

Percentiles are continuous (linear interpolation, as PostgreSQL's ``percentile_cont``): computed
by PostgreSQL itself there, and by ``percentile_cont`` below on SQLite.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.policy.reports import Granularity, ReportAudience, suppressed_keys
from app.sla.charging import post_charged
from app.sla.policy import ALERT_CLOCKS

GroupBy = Literal["post", "partner", "kecamatan", "kota", "hour", "day"]
PERCENTILES = (0.5, 0.9, 0.99)

_KEYED = """
SELECT a.id AS alert_id, a.received_at, a.area_code, ar.city_code, a.is_drill, a.disposition,
       a.state, a.duress, a.acknowledged_at, a.device_closed_at,
       (SELECT s.unit_code FROM assignment s
         WHERE s.alert_id = a.id AND s.leg_kind <> 'transit'
         ORDER BY s.accepted_at IS NULL, s.accepted_at, s.offered_at LIMIT 1) AS post,
       (SELECT s.unit_code FROM assignment s
         WHERE s.alert_id = a.id AND s.leg_kind <> 'transit' AND s.accepted_at IS NOT NULL
         ORDER BY s.accepted_at LIMIT 1) AS holder,
       (SELECT s.leg_kind FROM assignment s
         WHERE s.alert_id = a.id AND s.accepted_at IS NOT NULL
         ORDER BY s.accepted_at LIMIT 1) AS first_accept_kind,
       (SELECT u.partner_code FROM assignment s JOIN unit u ON u.id = s.unit_id
         WHERE s.alert_id = a.id AND s.leg_kind = 'transit'
         ORDER BY s.offered_at LIMIT 1) AS partner
FROM alert a LEFT JOIN area ar ON ar.code = a.area_code
WHERE a.received_at >= :start AND a.received_at < :end AND a.region_code = :region
"""

_PG_KEY = {
    "post": "coalesce(k.post, 'none')",
    "partner": "coalesce(k.partner, 'none')",
    "kecamatan": "coalesce(k.area_code, 'unknown')",
    "kota": "coalesce(k.city_code, 'unknown')",
    "hour": "lpad(extract(hour FROM k.received_at AT TIME ZONE :tz)::int::text, 2, '0')",
    "day": "to_char(k.received_at AT TIME ZONE :tz, 'YYYY-MM-DD')",
}
_PG_CLOCKS = f"""
WITH k AS ({_KEYED})
SELECT {{key}} AS key, c.clock,
       count(*) FILTER (WHERE c.status IN ('met', 'breached')) AS finished,
       count(*) FILTER (WHERE c.status = 'met') AS met,
       count(*) FILTER (WHERE c.status = 'breached') AS breached,
       percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (
           ORDER BY extract(epoch FROM c.stopped_at - c.started_at)
       ) FILTER (WHERE c.stopped_at IS NOT NULL) AS percentiles
FROM k JOIN sla_clock c ON c.alert_id = k.alert_id AND NOT c.excluded
GROUP BY 1, 2
"""  # noqa: S608 - built from constants only; every value is a bound parameter
_PG_CAUSES = f"""
WITH k AS ({_KEYED})
SELECT {{key}} AS key, c.clock, c.breach_cause AS cause, count(*) AS n
FROM k JOIN sla_clock c ON c.alert_id = k.alert_id AND NOT c.excluded
WHERE c.status = 'breached'
GROUP BY 1, 2, 3
"""  # noqa: S608 - built from constants only; every value is a bound parameter
_CLOCK_ROWS = f"""
WITH k AS ({_KEYED})
SELECT k.alert_id, c.clock, c.target_key, c.status, c.started_at, c.stopped_at, c.deadline_at,
       c.breach_cause
FROM k JOIN sla_clock c ON c.alert_id = k.alert_id AND NOT c.excluded
"""  # noqa: S608 - built from constants only; every value is a bound parameter


def percentile_cont(values: list[float], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class ClockFigures:
    finished: int = 0
    met: int = 0
    breached: int = 0
    percentiles_s: dict[str, float | None] = field(default_factory=dict)
    breaches_by_cause: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "finished": self.finished,
            "met": self.met,
            "breached": self.breached,
            "share_met": round(self.met / self.finished, 4) if self.finished else None,
            **{
                f"{k}_s": (round(v, 3) if v is not None else None)
                for k, v in self.percentiles_s.items()
            },
            "breaches_by_cause": dict(sorted(self.breaches_by_cause.items())),
        }


@dataclass
class GroupFigures:
    alerts: int = 0
    drills: int = 0
    accidental: int = 0
    cancelled_under_duress: int = 0
    clocks: dict[str, ClockFigures] = field(default_factory=lambda: defaultdict(ClockFigures))
    members: set[Any] = field(default_factory=set)
    """The alerts it counts or whose clocks it counts (by post a clock may count elsewhere
    than its alert): the size a minimum cell is judged by."""

    def as_dict(self, key: str, *, shows_duress: bool = True) -> dict[str, Any]:
        duress = {"cancelled_under_duress": self.cancelled_under_duress} if shows_duress else {}
        return {
            "key": key,
            "suppressed": False,
            "alerts": self.alerts,
            "excluded": {"drills": self.drills, "accidental": self.accidental},
            **duress,
            "clocks": {name: fig.as_dict() for name, fig in sorted(self.clocks.items())},
        }


def snap(
    start: datetime, end: datetime, *, granularity: Granularity, timezone: str
) -> tuple[datetime, datetime]:
    """The window widened to whole hours or days of the region's wall clock: the start down,
    the end up (an end already on a boundary stays)."""
    zone = ZoneInfo(timezone)

    def floor(moment: datetime) -> datetime:
        local = moment.astimezone(zone).replace(minute=0, second=0, microsecond=0)
        return local.replace(hour=0) if granularity == "day" else local

    step = timedelta(days=1) if granularity == "day" else timedelta(hours=1)
    low, high = floor(start), floor(end)
    if high < end:
        # Wall-clock arithmetic for days (a zone with daylight saving keeps midnights); an hour
        # is added in UTC so that a repeated hour is not skipped.
        high = high + step if granularity == "day" else (high.astimezone(UTC) + step)
    return low.astimezone(UTC), high.astimezone(UTC)


ClockKey = Callable[[str, str], str]
"""The group a clock of one alert counts in, by (clock, target key)."""


def _same(key: str) -> ClockKey:
    return lambda _clock, _target: key


def _clock_key(row: Any) -> ClockKey:
    def key(clock: str, target_key: str) -> str:
        charged = post_charged(
            clock,
            target_key,
            post=row.post,
            holder=row.holder,
            first_accept_kind=row.first_accept_kind,
        )
        return charged or "none"

    return key


def _key_in_python(row: Any, group_by: GroupBy, zone: ZoneInfo) -> str:
    if group_by == "hour":
        return f"{_aware(row.received_at).astimezone(zone).hour:02d}"
    if group_by == "day":
        return _aware(row.received_at).astimezone(zone).date().isoformat()
    value = {
        "post": row.post,
        "partner": row.partner,
        "kecamatan": row.area_code,
        "kota": row.city_code,
    }[group_by]
    return value or ("none" if group_by in ("post", "partner") else "unknown")


async def sla_report(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    group_by: GroupBy,
    timezone: str,
    region: str,
    audience: ReportAudience,
) -> dict[str, Any]:
    """The report over ``start``…``end`` as already snapped (``snap``) for ``audience``."""
    zone = ZoneInfo(timezone)
    params = {"start": start, "end": end, "tz": timezone, "region": region}
    postgres = session.get_bind().dialect.name == "postgresql"
    keyed = (await session.execute(text(_KEYED), params)).all()
    groups: dict[str, GroupFigures] = defaultdict(GroupFigures)
    alert_key: dict[Any, ClockKey] = {}
    parents: dict[str, str] = {}
    told: dict[Any, datetime | None] = {}
    for row in keyed:
        key = _key_in_python(row, group_by, zone)
        alert_key[row.alert_id] = _clock_key(row) if group_by == "post" else _same(key)
        parents[key] = row.city_code or ""
        figures = groups[key]
        figures.alerts += 1
        figures.members.add(row.alert_id)
        figures.drills += bool(row.is_drill)
        cancelled = row.state == "cancelled"
        acknowledged = row.acknowledged_at is not None
        if row.duress and not audience.shows_duress and row.device_closed_at is not None:
            # Told as the genuine cancel the phone showed, at the moment it showed it.
            cancelled_at = _aware(row.device_closed_at)
            cancelled = True
            acknowledged = acknowledged and _aware(row.acknowledged_at) <= cancelled_at
            told[row.alert_id] = cancelled_at if acknowledged else None
        figures.accidental += (not row.is_drill) and (
            row.disposition == "accidental" or (cancelled and not acknowledged)
        )
        figures.cancelled_under_duress += bool(row.duress)
    # By post, each clock is charged to its own leg's post (``app.sla.charging``): keyed per
    # clock, which the SQL aggregation (one key per alert) does not do. The told view is
    # computed row by row too, on PostgreSQL as well: one path for one audience, whether or
    # not its window holds a duress cancel.
    if postgres and group_by != "post" and audience.shows_duress:
        await _aggregate_in_postgres(session, groups, group_by, params)
    else:
        await _aggregate_in_python(session, groups, alert_key, params, told=told)
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "group_by": group_by,
        "region": region,
        "timezone": timezone,
        "granularity": audience.granularity,
        "min_cell": audience.min_cell,
        "percentiles": "continuous (linear interpolation), seconds",
        "groups": shape(groups, audience, parents=parents if group_by == "kecamatan" else None),
    }


def shape(
    groups: dict[str, GroupFigures],
    audience: ReportAudience,
    *,
    parents: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The groups as ``audience`` may read them: small ones (and their complements) suppressed,
    duress counts only where it may see them."""
    hidden: set[str] = set()
    if audience.min_cell is not None:
        counts = {key: len(figures.members) for key, figures in groups.items()}
        hidden = suppressed_keys(counts, min_cell=audience.min_cell, parents=parents)
    return [
        {"key": key, "suppressed": True}
        if key in hidden
        else groups[key].as_dict(key, shows_duress=audience.shows_duress)
        for key in sorted(groups)
    ]


async def _aggregate_in_postgres(
    session: AsyncSession,
    groups: dict[str, GroupFigures],
    group_by: GroupBy,
    params: dict[str, Any],
) -> None:
    key = _PG_KEY[group_by]
    for row in (await session.execute(text(_PG_CLOCKS.format(key=key)), params)).all():
        figures = groups[row.key].clocks[row.clock]
        figures.finished, figures.met, figures.breached = row.finished, row.met, row.breached
        values = row.percentiles or [None] * len(PERCENTILES)
        figures.percentiles_s = {_name(p): v for p, v in zip(PERCENTILES, values, strict=True)}
    for row in (await session.execute(text(_PG_CAUSES.format(key=key)), params)).all():
        groups[row.key].clocks[row.clock].breaches_by_cause[row.cause or "unknown"] = row.n


async def _aggregate_in_python(
    session: AsyncSession,
    groups: dict[str, GroupFigures],
    alert_key: dict[Any, ClockKey],
    params: dict[str, Any],
    *,
    told: dict[Any, datetime | None] | None = None,
) -> None:
    """``told``: alerts cancelled under duress, for a reader who is told a genuine cancel —
    with the moment of the cancel, or None where that cancel came before anyone accepted
    (the alert is then excluded, as a genuine one is)."""
    durations: dict[tuple[str, str], list[float]] = defaultdict(list)
    for row in (await session.execute(text(_CLOCK_ROWS), params)).all():
        status, stopped_at = row.status, row.stopped_at
        if told is not None and row.alert_id in told:
            cancelled_at = told[row.alert_id]
            if cancelled_at is None:
                continue
            as_told = told_clock(
                row.clock,
                status=status,
                started_at=_aware(row.started_at),
                stopped_at=_aware(stopped_at) if stopped_at is not None else None,
                deadline_at=_aware(row.deadline_at),
                cancelled_at=cancelled_at,
            )
            if as_told is None:
                continue
            status, stopped_at = as_told
        key = alert_key[row.alert_id](row.clock, row.target_key)
        groups[key].members.add(row.alert_id)
        figures = groups[key].clocks[row.clock]
        if status in ("met", "breached"):
            figures.finished += 1
        if status == "met":
            figures.met += 1
        if status == "breached":
            figures.breached += 1
            cause = row.breach_cause or "unknown"
            figures.breaches_by_cause[cause] = figures.breaches_by_cause.get(cause, 0) + 1
        if stopped_at is not None:
            started, stopped = _aware(row.started_at), _aware(stopped_at)
            durations[(key, row.clock)].append((stopped - started).total_seconds())
    for (key, clock), values in durations.items():
        groups[key].clocks[clock].percentiles_s = {
            _name(p): percentile_cont(values, p) for p in PERCENTILES
        }
    for group in groups.values():
        for clock_figures in group.clocks.values():
            clock_figures.percentiles_s = clock_figures.percentiles_s or {
                _name(p): None for p in PERCENTILES
            }


def told_clock(
    clock: str,
    *,
    status: str,
    started_at: datetime,
    stopped_at: datetime | None,
    deadline_at: datetime,
    cancelled_at: datetime,
) -> tuple[str, datetime | None] | None:
    """A clock of an alert cancelled under duress as it would stand had the cancel been
    genuine (``app.sla.policy.outcome``): what stopped before the cancel stays; an alert clock
    still running is closed, or breached if its deadline had passed; a clock started after
    the cancel never was (None). Legal clocks run on after an alert ends either way."""
    if clock not in ALERT_CLOCKS:
        return status, stopped_at
    if started_at > cancelled_at:
        return None
    if stopped_at is not None and stopped_at <= cancelled_at:
        return status, stopped_at
    return ("closed" if cancelled_at < deadline_at else "breached"), None


def _name(fraction: float) -> str:
    return f"p{round(fraction * 100):d}"


def _aware(value: Any) -> datetime:
    """SQLite hands raw SQL datetimes back as naive UTC (or text): make them aware."""
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def as_csv(report: dict[str, Any], *, shows_duress: bool) -> str:
    """One row per group and clock; a suppressed group is one row with ``suppressed`` true and
    no figures; the duress column only for readers who may see it."""
    duress_column = ["cancelled_under_duress"] if shows_duress else []
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "group_by",
            "key",
            "suppressed",
            "alerts",
            "excluded_drills",
            "excluded_accidental",
            *duress_column,
            "clock",
            "finished",
            "met",
            "breached",
            "share_met",
            "p50_s",
            "p90_s",
            "p99_s",
            "breaches_by_cause",
        ]
    )
    for group in report["groups"]:
        if group["suppressed"]:
            writer.writerow([report["group_by"], group["key"], "true"])
            continue
        duress = [group["cancelled_under_duress"]] if shows_duress else []
        for clock, fig in group["clocks"].items():
            writer.writerow(
                [
                    report["group_by"],
                    group["key"],
                    "false",
                    group["alerts"],
                    group["excluded"]["drills"],
                    group["excluded"]["accidental"],
                    *duress,
                    clock,
                    fig["finished"],
                    fig["met"],
                    fig["breached"],
                    fig["share_met"],
                    fig["p50_s"],
                    fig["p90_s"],
                    fig["p99_s"],
                    ";".join(f"{k}={v}" for k, v in fig["breaches_by_cause"].items()),
                ]
            )
    return buffer.getvalue()
