"""Alert schemas: the press (documented, read leniently), views per audience, location updates."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.schemas.common import StrictInput
from app.schemas.dispatch import ActionRead

PRESS_EXAMPLE: dict[str, Any] = {
    "pressed_at": "2026-11-23T14:03:07+07:00",
    "location": {
        "lat": -6.2441,
        "lon": 106.8007,
        "accuracy_m": 12,
        "fix_at": "2026-11-23T07:03:05Z",
        "source": "gps",
    },
    "transit": {"operator": "transjakarta", "station": "Blok M", "route": "1"},
    "reporter": "victim",
    "victim_is_child": False,
    "silent": True,
    "is_drill": False,
}


class LocationIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    lat: float = Field(..., ge=-90, le=90, description="WGS 84 latitude")
    lon: float = Field(..., ge=-180, le=180, description="WGS 84 longitude")
    accuracy_m: float | None = Field(None, ge=0, description="Radius of 68% confidence, metres")
    fix_at: datetime | None = Field(None, description="When the phone took the fix (RFC 3339)")
    source: Literal["gps", "network", "fused", "wifi", "cell", "manual"] | None = None


class TransitContext(BaseModel):
    model_config = ConfigDict(extra="allow")

    operator: str | None = Field(None, description="transjakarta, mrt or lrt")
    station: str | None = Field(None, description="Station or halte name or code")
    vehicle: str | None = None
    route: str | None = None


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str | None = None
    phone: str | None = None


class AlertCreate(BaseModel):
    """A press. Read leniently: a bad or missing field is flagged, never refused (see `flags`)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [PRESS_EXAMPLE]})

    pressed_at: datetime | None = Field(None, description="The phone's clock at the press")
    location: LocationIn | None = None
    transit: TransitContext | None = None
    reporter: Literal["victim", "witness"] | None = Field(
        None, description="Who is pressing: the victim, or a witness (UU TPKS Art. 39)"
    )
    victim_is_child: bool | None = None
    silent: bool = Field(False, description="Nobody may ring or call the phone")
    is_drill: bool = False
    companion_preference: Literal["female", "male"] | None = Field(
        None, description="Preferred sex of the companion (UU TPKS Art. 26(4))"
    )
    contact: ContactIn | None = Field(None, description="Stored encrypted")
    message: str | None = Field(None, description="Free text, stored encrypted")


DeviceStatus = Literal["received", "acknowledged", "help_on_scene", "resolved", "cancelled"]


DEVICE_VIEW_EXAMPLE: dict[str, Any] = {
    "id": "1b7c5a8e-3f0e-4d38-9a55-1c2f0d7b9e21",
    "case_code": "SGP-7K3Q9MXA",
    "status": "received",
    "is_drill": False,
    "received_at": "2026-11-23T07:03:07.412000Z",
    "closed_at": None,
    "flags": [],
}


class AlertDeviceView(BaseModel):
    """What the phone may see. A duress cancel looks exactly like a genuine one, forever."""

    id: uuid.UUID
    case_code: str
    status: DeviceStatus
    is_drill: bool
    received_at: datetime
    closed_at: datetime | None
    flags: list[str] = Field(description="Problems found in what the phone sent")
    model_config = ConfigDict(json_schema_extra={"examples": [DEVICE_VIEW_EXAMPLE]})


class StationCandidateRead(BaseModel):
    uid: str
    partner_code: str
    name: str
    kind: str
    distance_m: float
    at_station: bool


class LandmarkRead(BaseModel):
    """The nearest transit station, and the way from it to the point."""

    name: str = Field(examples=["Bundaran HI"])
    kind: str = Field(examples=["brt_halte"])
    partner_code: str = Field(examples=["transjakarta"])
    distance_m: int = Field(examples=[180])
    direction: Literal["N", "NE", "E", "SE", "S", "SW", "W", "NW"] = Field(
        description="From the landmark to the point (compass, eight points)", examples=["NE"]
    )


class PlaceRead(BaseModel):
    """The location in words, for staff to say or walk to; descriptive, never used to route."""

    kelurahan_code: str | None = Field(examples=["3171060004"])
    kelurahan: str | None = Field(examples=["Menteng"])
    landmark: LandmarkRead | None = Field(
        description="The nearest station within 2 km, if any"
    )
    geo_uri: str = Field(
        description="RFC 5870 `geo:` URI (with the accuracy as `u=`): opens the phone's own "
        "map app",
        examples=["geo:-6.19940,106.84150;u=15"],
    )


class LocationRead(BaseModel):
    lat: float | None
    lon: float | None
    accuracy_m: float | None
    fix_at: datetime
    source: str | None
    place: PlaceRead | None = None


class BreakGlassHint(BaseModel):
    """How to see a restricted record whole: a written reason, audited and reported."""

    method: Literal["POST"] = "POST"
    href: str = Field(examples=["/v1/alerts/5f0c.../break-glass"])
    min_reason_length: int


class AlertStaffView(BaseModel):
    """The full alert, for staff whose role and unit may see it."""

    id: uuid.UUID
    case_code: str
    state: str
    region_code: str
    is_drill: bool
    silent: bool
    reporter: str
    victim_is_child: bool | None
    pressed_at: datetime | None
    received_at: datetime
    flags: list[str]
    area_code: str | None
    area_name: str | None
    area_method: str
    station_candidates: list[StationCandidateRead]
    transit_context: dict[str, str] | None
    last_location: LocationRead | None
    press_count: int
    reopen_count: int = Field(
        0, description="Presses that reopened the alert after the phone saw it end"
    )
    flood_suspected_at: datetime | None = Field(
        None,
        description=(
            "Reopened past the flood bound: open as one attention item, offered to nobody "
            "(docs/intake.md, Floods)"
        ),
    )
    duress: bool | None = Field(None, description="Not shown to transit staff or partners")
    do_not_call_back: bool
    linked_alert_id: uuid.UUID | None = Field(
        None,
        description=(
            "An earlier alert of the same phone, cancelled under duress and still running. "
            "Not shown to transit staff or partners"
        ),
    )
    cancelled_at: datetime | None
    contact: dict[str, str] | None = Field(None, description="Decrypted; every read is audited")
    message: str | None = None
    companion_preference: str | None = None
    legal_hold: bool = Field(False, description="Kept whole past retention")
    purged_at: datetime | None = Field(
        None, description="When retention removed its personal data (then contact etc. are null)"
    )
    body_text: str | None = Field(
        None,
        description=(
            "The press body as the phone sent it, when the reading had to drop or alter something "
            "(see `flags`): decoded as UTF-8, with U+FFFD for bytes that are not and ␀ for NUL. "
            "Decrypted; every read is audited"
        ),
    )
    restricted: bool | None = Field(
        None,
        description=(
            "A restricted record: its identity (contact, message, body, notes, "
            "`victim_is_child`) only for the unit holding the claim and a supervisor who broke "
            "the glass; others get those fields as null. Null for pseudonymous audiences"
        ),
    )
    restriction_reason: (
        Literal["staff_member", "protected_witness", "public_figure", "other"] | None
    ) = None
    glass_until: datetime | None = Field(
        None, description="You see this restricted record whole through the glass until then"
    )
    break_glass: BreakGlassHint | None = Field(
        None, description="Present when the record is restricted and you may break the glass"
    )
    actions: dict[str, ActionRead] | None = Field(
        None,
        description=(
            "What you may do now (accept, decline, contacted, on_scene, handed_over, "
            "hand_to_counselor, resolve, note, reassign, break_claim, reopen), each allowed or "
            "not with a reason: computed by the code that judges the action when it arrives"
        ),
    )


class LocationBatch(StrictInput):
    points: list[LocationPoint] = Field(..., min_length=1, max_length=100)


class LocationPoint(StrictInput):
    lat: float = Field(..., ge=-90, le=90)
    lon: float = Field(..., ge=-180, le=180)
    accuracy_m: float | None = Field(None, ge=0, le=1_000_000)
    fix_at: AwareDatetime
    source: Literal["gps", "network", "fused", "wifi", "cell", "manual"] | None = None


LocationBatch.model_rebuild()


class LocationBatchResult(BaseModel):
    accepted: int = Field(description="New points stored")
    duplicates: int = Field(description="Points whose fix time was already stored")
    stale: int = Field(description="Points stored but too old to route on")
    latest_fix_at: datetime | None


class CancelRequest(StrictInput):
    pin: str | None = Field(None, max_length=32, description="The cancel PIN, if one is set")
