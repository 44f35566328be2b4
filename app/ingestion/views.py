"""Views of an alert per audience. The device's view hides a duress cancel completely."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.geo.runtime import GeoService
from app.ingestion.body import clean_text
from app.models import Alert
from app.policy.fields import FULL, FieldAccess
from app.policy.profile import approach, do_not_call_back, linked_alert_id
from app.policy.restriction import BREAK_GLASS_MIN_REASON
from app.schemas.alerts import (
    AlertDeviceView,
    AlertStaffView,
    BreakGlassHint,
    DeviceStatus,
    LandmarkRead,
    LocationRead,
    PlaceRead,
    StationCandidateRead,
)
from app.security.fields import KeyRing

if TYPE_CHECKING:
    from app.policy.alerts import AlertAccess

_DEVICE_STATUS_BY_STATE: dict[str, DeviceStatus] = {
    "received": "received",
    "routed": "received",
    "acknowledged": "acknowledged",
    "contacted": "acknowledged",
    "on_scene": "help_on_scene",
    "handed_over": "help_on_scene",
    "resolved": "resolved",
    "cancelled": "cancelled",
}


def device_view(alert: Alert) -> AlertDeviceView:
    """Built only from what a genuine and a duress cancel set alike (``device_status``).

    ``state``, ``duress`` and ``do_not_call_back`` are never read here: whoever holds the phone
    must not be able to tell a duress cancel from a real one, now or later.
    """
    if alert.device_status == "active" and alert.reopened_at is not None:
        status = _since_reopen(alert, alert.reopened_at)
    elif alert.device_status == "active":
        status = _DEVICE_STATUS_BY_STATE[alert.state]
    else:
        status = "cancelled" if alert.device_status == "cancelled" else "resolved"
    return AlertDeviceView(
        id=alert.id,
        case_code=alert.case_code,
        status=status,
        is_drill=alert.is_drill,
        received_at=alert.received_at,
        closed_at=alert.device_closed_at,
        flags=list(alert.flags),
    )


def _since_reopen(alert: Alert, since: datetime) -> DeviceStatus:
    """A reopened alert as the phone sees it: only what happened from its re-press on (a
    responder who accepted since, who reached the victim since), the same whatever ended it
    before (a genuine or a duress cancel, a resolution)."""
    if any(t is not None and t >= since for t in (alert.on_scene_at, alert.handed_over_at)):
        return "help_on_scene"
    if alert.acknowledged_at is not None and alert.acknowledged_at >= since:
        return "acknowledged"
    return "received"


def private_aad(alert_id: object) -> str:
    return f"alert.private:{alert_id}"


def access_view(
    alert: Alert, access: AlertAccess, *, geo: GeoService, keyring: KeyRing
) -> AlertStaffView:
    """The staff view for the policy's whole answer: fields, and on a restricted record the
    caller's glass (until when, or how to break it)."""
    view = staff_view(alert, geo=geo, keyring=keyring, fields=access.fields)
    if access.until is not None:  # the caller's sight ended: the location as of then
        fix = access.last_fix
        view.last_location = (
            LocationRead(
                lat=fix.lat,
                lon=fix.lon,
                accuracy_m=fix.accuracy_m,
                fix_at=fix.fix_at,
                source=fix.source,
            )
            if fix is not None
            else None
        )
    if view.restricted:
        view.glass_until = access.glass_until
        if access.may_break_glass:
            view.break_glass = BreakGlassHint(
                href=f"/v1/alerts/{alert.id}/break-glass", min_reason_length=BREAK_GLASS_MIN_REASON
            )
    return view


def staff_view(
    alert: Alert, *, geo: GeoService, keyring: KeyRing, fields: FieldAccess = FULL
) -> AlertStaffView:
    """Only what ``fields`` (from ``app.policy``) allows; what it hides is never even decrypted."""
    private: dict[str, Any] = {}
    if alert.private_enc is not None and fields.shows_identity(alert.victim_is_child):
        private = keyring.decrypt_json(alert.private_enc, aad=private_aad(alert.id))
    last = None
    if alert.last_fix_at is not None:
        last = LocationRead(
            lat=alert.last_lat,
            lon=alert.last_lon,
            accuracy_m=alert.last_accuracy_m,
            fix_at=alert.last_fix_at,
            source=alert.last_location_source,
            place=place_read(geo, alert.last_lat, alert.last_lon, alert.last_accuracy_m),
        )
    return AlertStaffView(
        id=alert.id,
        case_code=alert.case_code,
        state=alert.state,
        region_code=alert.region_code,
        is_drill=alert.is_drill,
        silent=alert.silent,
        reporter=alert.reporter,
        victim_is_child=alert.victim_is_child if fields.shows_child_flag else None,
        pressed_at=alert.pressed_at,
        received_at=alert.received_at,
        flags=list(alert.flags),
        area_code=alert.area_code,
        area_name=geo.area_names.get(alert.area_code or ""),
        area_method=alert.area_method,
        station_candidates=[StationCandidateRead(**c) for c in alert.station_candidates],
        transit_context=alert.transit_context,
        last_location=last,
        press_count=alert.press_count,
        reopen_count=alert.reopen_count,
        flood_suspected_at=alert.flood_suspected_at,
        duress=alert.duress if fields.shows_profile else None,
        do_not_call_back=do_not_call_back(fields, alert.do_not_call_back),
        approach=approach(fields),
        linked_alert_id=linked_alert_id(fields, alert.linked_alert_id),
        cancelled_at=alert.cancelled_at,
        contact=_contact(private.get("contact")),
        message=_text(private.get("message")),
        companion_preference=alert.companion_preference if fields.shows_profile else None,
        legal_hold=alert.legal_hold,
        purged_at=alert.purged_at,
        body_text=body_text(private),
        # Transit staff and partners are not told: the marker itself says something.
        restricted=None if fields.pseudonymous else alert.restricted_at is not None,
        restriction_reason=None if fields.pseudonymous else alert.restriction_reason,
    )


def place_read(
    geo: GeoService, lat: float | None, lon: float | None, accuracy_m: float | None
) -> PlaceRead | None:
    """The point in words (``app.geo.places``) and a ``geo:`` link to the phone's map app."""
    if lat is None or lon is None:
        return None
    place = geo.describe(lat, lon)
    uri = f"geo:{lat:.5f},{lon:.5f}"
    if accuracy_m is not None and accuracy_m >= 0:
        uri += f";u={round(accuracy_m)}"
    landmark = place.landmark if place else None
    return PlaceRead(
        kelurahan_code=place.kelurahan_code if place else None,
        kelurahan=place.kelurahan if place else None,
        landmark=LandmarkRead(
            name=landmark.name,
            kind=landmark.kind,
            partner_code=landmark.partner_code,
            distance_m=round(landmark.distance_m),
            direction=landmark.direction,
        )
        if landmark
        else None,
        geo_uri=uri,
    )


def body_text(private: dict[str, Any]) -> str | None:
    """What a counselor can read of the raw body kept for a press; never raises.

    Bytes that are not UTF-8 become U+FFFD and NUL becomes ␀ (U+2400), so the text is safe in any
    JSON answer or console and still shows where the odd bytes were.
    """
    encoded = private.get("raw_body_b64")
    if isinstance(encoded, str):
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            return None
        return raw.decode("utf-8", "replace").replace("\x00", "\u2400")
    if "raw_body" in private:  # alerts recorded before the raw bytes were kept: the parsed value
        try:
            return clean_text(json.dumps(private["raw_body"]))
        except (RecursionError, ValueError):
            return None
    return None


def _text(value: Any) -> str | None:
    return clean_text(value) if isinstance(value, str) else None


def _contact(value: Any) -> dict[str, str] | None:
    if not isinstance(value, dict):
        return None
    return {str(k): clean_text(v) for k, v in value.items() if isinstance(v, str)}
