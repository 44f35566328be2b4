"""The routing decision's input, read from the database: the alert's facts, the region's units
and partners, and the phone's free-text transit context matched to a partner and a station.
``app.dispatch.routing.decide`` is pure; this is everything it is given."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.dispatch.availability import RegionSnapshot
from app.dispatch.routing import AlertFacts, RoutingInput, RoutingPolicy, StationNear
from app.models import Alert, Station


async def build_input(
    session: AsyncSession,
    alert: Alert,
    snapshot: RegionSnapshot,
    *,
    policy: RoutingPolicy,
    now: datetime,
    attempted: frozenset[str],
    include_transit: bool,
) -> RoutingInput:
    partner, station = await _transit_hint(session, alert, snapshot)
    located = alert.area_method != "none" and alert.last_lat is not None
    facts = AlertFacts(
        lat=alert.last_lat if located else None,
        lon=alert.last_lon if located else None,
        accuracy_m=alert.last_accuracy_m if located else None,
        area_code=alert.area_code,
        area_method=alert.area_method if located else "none",
        stations=tuple(
            StationNear(
                uid=c["uid"],
                partner_code=c["partner_code"],
                distance_m=float(c["distance_m"]),
                at_station=bool(c["at_station"]),
            )
            for c in alert.station_candidates
        ),
        transit_partner=partner,
        transit_station=station,
        is_drill=alert.is_drill,
        companion_preference=alert.companion_preference,
    )
    return RoutingInput(
        alert=facts,
        units=snapshot.units,
        partners=snapshot.partners,
        central_code=snapshot.central_code,
        now_local=snapshot.local(now),
        holidays=snapshot.holidays,
        policy=policy,
        attempted=attempted,
        include_transit=include_transit,
    )


def _norm(value: str) -> str:
    return re.sub(r"[^a-z0-9]", "", value.casefold())


async def _transit_hint(
    session: AsyncSession, alert: Alert, snapshot: RegionSnapshot
) -> tuple[str | None, str | None]:
    """Match the phone's free-text transit context to a partner and, if possible, a station."""
    context = alert.transit_context or {}
    operator = _norm(context.get("operator", ""))
    if not operator:
        return None, None
    partner = next(
        (
            code
            for code in sorted(snapshot.partners)
            if operator in (_norm(code), _norm(code) + "jakarta")
            or (code == "transjakarta" and operator in ("tj", "busway"))
        ),
        None,
    )
    if partner is None:
        return None, None
    station_text = context.get("station", "").strip()
    if not station_text:
        return partner, None
    stations = (
        await session.execute(
            select(Station.uid, Station.name).where(Station.partner_code == partner)
        )
    ).all()
    wanted = _norm(station_text)
    for uid, name in stations:
        if station_text == uid or _norm(name) == wanted:
            return partner, uid
    return partner, None
