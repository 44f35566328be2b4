"""The location trail of an alert: ordered by device fix time, de-duplicated, never going back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.events import emit
from app.geo.runtime import GeoService, Placement
from app.ingestion.payload import LocationFix
from app.models import Alert, AlertLocation
from app.upsert import dialect_insert


@dataclass
class TrailResult:
    accepted: int = 0
    duplicates: int = 0
    stale: int = 0
    moved: bool = False
    """True when the alert's latest usable position (or its accuracy) changed."""


def apply_placement(alert: Alert, placement: Placement | None) -> None:
    if placement is None:
        alert.area_code, alert.area_method, alert.station_candidates = None, "none", []
        return
    alert.area_code = placement.area.area_code
    alert.area_method = placement.area.method
    if placement.area.region_code is not None:
        alert.region_code = placement.area.region_code
    alert.station_candidates = [
        {
            "uid": s.uid,
            "partner_code": s.partner_code,
            "name": s.name,
            "kind": s.kind,
            "distance_m": round(s.distance_m, 1),
            "at_station": s.at_station,
        }
        for s in placement.stations
    ]


async def append_fixes(
    session: AsyncSession,
    *,
    alert: Alert,
    fixes: list[LocationFix],
    geo: GeoService,
    received_at: datetime,
) -> TrailResult:
    result = TrailResult()
    newest: tuple[LocationFix, Placement] | None = None
    for fix in sorted(fixes, key=lambda f: f.fix_at):
        placement = None
        if fix.usable and fix.lat is not None and fix.lon is not None:
            placement = geo.place(fix.lat, fix.lon, fix.accuracy_m)
        statement = (
            dialect_insert(session, AlertLocation)
            .values(
                alert_id=alert.id,
                fix_at=fix.fix_at,
                received_at=received_at,
                lat=fix.lat,
                lon=fix.lon,
                accuracy_m=fix.accuracy_m,
                source=fix.source,
                usable=fix.usable,
                flags=fix.flags,
                area_code=placement.area.area_code if placement else None,
            )
            .on_conflict_do_nothing(index_elements=["alert_id", "fix_at"])
            .returning(AlertLocation.id)
        )
        inserted = (await session.execute(statement)).scalar_one_or_none()
        if inserted is None:
            result.duplicates += 1
            continue
        result.accepted += 1
        if not fix.usable:
            result.stale += 1
            continue
        if placement is not None and (alert.last_fix_at is None or fix.fix_at > alert.last_fix_at):
            newest = (fix, placement)
    if newest is not None:
        fix, placement = newest
        before = (alert.last_lat, alert.last_lon, alert.last_accuracy_m)
        alert.last_lat, alert.last_lon = fix.lat, fix.lon
        alert.last_accuracy_m, alert.last_fix_at = fix.accuracy_m, fix.fix_at
        alert.last_location_source = fix.source
        apply_placement(alert, placement)
        alert.updated_at = received_at
        # A newer fix at the same spot is not a move: nothing to re-route, nobody to tell.
        result.moved = before != (fix.lat, fix.lon, fix.accuracy_m)
    return result


def emit_location_updated(session: AsyncSession, alert: Alert, *, at: datetime) -> None:
    emit(
        session,
        "alert.location_updated",
        at=at,
        alert_id=alert.id,
        data={
            "fix_at": alert.last_fix_at.isoformat() if alert.last_fix_at else None,
            "accuracy_m": alert.last_accuracy_m,
            "area_code": alert.area_code,
            "at_station": any(c["at_station"] for c in alert.station_candidates),
        },
    )
