"""The rows a first press writes, built in memory before any of them is sent: the alert (with
its place, flags and encrypted private part), its first location, its routing clock, its routing
task and its ``alert.received`` event. Both ways of writing them use this: the general path
(``app.ingestion.press``) and the single statement on PostgreSQL (``app.ingestion.one_statement``).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from app.config import Settings
from app.geo.runtime import GeoService
from app.ingestion.payload import PressPayload
from app.ingestion.trail import apply_placement
from app.ingestion.views import private_aad
from app.models import Alert, AlertLocation, DispatchTask, OutboxEvent, SlaClock
from app.security.fields import KeyRing
from app.sla.clocks import clocks_at_receipt
from app.states import AlertState

_CASE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


def new_case_code() -> str:
    return "SGP-" + "".join(secrets.choice(_CASE_ALPHABET) for _ in range(8))


@dataclass
class NewAlert:
    """Every row a first press writes, built in memory before any of it is sent."""

    alert: Alert
    location: AlertLocation | None
    clocks: list[SlaClock]
    task: DispatchTask
    event: OutboxEvent


def build_new_alert(
    *,
    device_id: uuid.UUID,
    payload: PressPayload,
    received_at: datetime,
    settings: Settings,
    geo: GeoService,
    keyring: KeyRing,
    linked: uuid.UUID | None,
) -> NewAlert:
    alert = Alert(
        id=uuid.uuid4(),
        case_code=new_case_code(),
        device_id=device_id,
        region_code=settings.geo.default_region,
        state=AlertState.RECEIVED.value,
        is_drill=payload.is_drill,
        silent=payload.silent,
        reporter=payload.reporter,
        victim_is_child=payload.victim_is_child,
        companion_preference=payload.companion_preference,
        pressed_at=payload.pressed_at,
        received_at=received_at,
        flags=sorted(set(payload.flags)),
        station_candidates=[],
        area_method="none",
        transit_context=payload.transit,
        press_count=1,
        last_pressed_at=received_at,
        joinable=True,
        device_status="active",
        dispatch_step=0,
        escalations=0,
        sla_dirty=True,
        duress=False,
        do_not_call_back=False,
        legal_hold=False,  # every column is bound in the one-statement press
        linked_alert_id=linked,
        reopen_count=0,
        reopened_at=None,
        flood_suspected_at=None,
        updated_at=received_at,
    )
    if payload.private:
        alert.private_enc = keyring.encrypt_json(payload.private, aad=private_aad(alert.id))
    location = None
    fix = payload.location
    placement = None
    if fix is not None:
        if fix.usable and fix.lat is not None and fix.lon is not None:
            placement = geo.place(fix.lat, fix.lon, fix.accuracy_m)
        location = AlertLocation(
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
    if fix is not None and placement is not None:
        alert.last_lat, alert.last_lon = fix.lat, fix.lon
        alert.last_accuracy_m, alert.last_fix_at = fix.accuracy_m, fix.fix_at
        alert.last_location_source = fix.source
    apply_placement(alert, placement)
    event = OutboxEvent(
        event_type="alert.received",
        alert_id=alert.id,
        payload={
            "alert_id": str(alert.id),
            "case_code": alert.case_code,
            "region_code": alert.region_code,
            "area_code": alert.area_code,
            "area_method": alert.area_method,
            "is_drill": alert.is_drill,
            "silent": alert.silent,
            "reporter": alert.reporter,
            "has_location": alert.last_fix_at is not None,
            "transit": alert.transit_context is not None,
            "at_station": [c["uid"] for c in alert.station_candidates if c["at_station"]],
            "linked_alert_id": str(linked) if linked else None,
        },
        created_at=received_at,
    )
    task = DispatchTask(
        alert_id=alert.id,
        kind="route",
        ref="",
        due_at=received_at,
        attempts=0,
        created_at=received_at,
    )
    clocks = clocks_at_receipt(alert, sla=settings.sla)
    return NewAlert(alert=alert, location=location, clocks=clocks, task=task, event=event)
