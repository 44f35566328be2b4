"""Lenient reading of a press body: record everything, flag what is unusable, refuse nothing.

A press is never refused for its content (PRODUCT.md section 2, step 1): any bytes come in, a
``PressPayload`` goes out. ``body.read_body`` turns the bytes into a safe document (or none) and
its fingerprint; here every field is read on its own, and a bad value of any type becomes a flag and
a safe default, so the alert goes on with what is usable. What the reading had to drop or alter is
kept as the raw bytes, encrypted with the alert's private data, for staff.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from app.config import IntakeSettings
from app.ingestion.body import read_body

KNOWN_FIELDS = frozenset(
    {
        "pressed_at",
        "location",
        "transit",
        "reporter",
        "victim_is_child",
        "silent",
        "is_drill",
        "contact",
        "message",
        "companion_preference",
    }
)
LOCATION_SOURCES = frozenset({"gps", "network", "fused", "wifi", "cell", "manual"})
REPORTERS = frozenset({"victim", "witness"})
_TEXT_LIMIT = 2000
_CONTACT_FIELDS = ("name", "phone")
_CONTACT_LIMIT = 200
_TRANSIT_FIELDS = ("operator", "station", "vehicle", "route")
_TRANSIT_LIMIT = 80
_LOCATION_FIELDS = frozenset({"lat", "lon", "accuracy_m", "fix_at", "source"})
# Flags that mean the reading dropped or altered something the phone sent: the raw bytes are kept.
_LOSSY_FLAGS = frozenset(
    {
        "body_not_object",
        "text_truncated",
        "unknown_fields",
        "location_invalid",
        "accuracy_invalid",
        "fix_time_invalid",
        "location_source_unknown",
        "pressed_at_invalid",
        "transit_invalid",
        "transit_partly_invalid",
        "contact_invalid",
        "contact_partly_invalid",
        "message_invalid",
        "reporter_invalid",
        "victim_is_child_invalid",
        "companion_preference_invalid",
        "silent_invalid",
        "is_drill_invalid",
    }
)


@dataclass
class LocationFix:
    lat: float | None
    lon: float | None
    accuracy_m: float | None
    fix_at: datetime
    source: str | None
    usable: bool
    flags: list[str] = field(default_factory=list)


@dataclass
class PressPayload:
    pressed_at: datetime | None
    location: LocationFix | None
    transit: dict[str, str] | None
    reporter: str
    victim_is_child: bool | None
    silent: bool
    is_drill: bool
    companion_preference: str | None
    private: dict[str, Any]
    """Personal or unvetted content, stored encrypted: contact, message, unknown fields."""
    flags: list[str]
    request_hash: str


def parse_press(body: bytes, *, received_at: datetime, settings: IntakeSettings) -> PressPayload:
    """Read any body of a press; never raises."""
    reading = read_body(body)
    flags = list(reading.flags)
    private: dict[str, Any] = {}
    document = reading.document
    if not isinstance(document, dict):
        if reading.readable:
            flags.append("body_not_object")
        document = {}
    # Nothing says whether the phone asked for silence: take it as silent, as an unreadable
    # "silent" is (ringing a phone the abuser may see is worse), and as real, never a drill.
    nothing_read = not reading.readable or "body_not_object" in flags

    unknown = sorted(k for k in document if k not in KNOWN_FIELDS)
    if unknown:
        flags.append("unknown_fields")
        private["unknown_fields"] = {k: document[k] for k in unknown}

    pressed_at = _read_pressed_at(document.get("pressed_at"), received_at, settings, flags, private)
    location = None
    if document.get("location") is None:
        flags.append("location_missing")
    else:
        location = read_fix(document["location"], received_at=received_at, settings=settings)
        flags.extend(location.flags)

    payload = PressPayload(
        pressed_at=pressed_at,
        location=location,
        transit=_read_transit(document.get("transit"), flags),
        reporter=_read_choice(document.get("reporter"), REPORTERS, "unknown", "reporter", flags),
        victim_is_child=_read_optional_bool(
            document.get("victim_is_child"), "victim_is_child", flags
        ),
        # An unreadable "silent" is taken as silent: ringing a phone the abuser may see is worse.
        silent=_read_bool(
            document.get("silent"), "silent", flags, default=nothing_read, if_invalid=True
        ),
        # An unreadable "is_drill" is taken as real: a real emergency must never become a drill.
        is_drill=_read_bool(
            document.get("is_drill"), "is_drill", flags, default=False, if_invalid=False
        ),
        companion_preference=_read_choice(
            document.get("companion_preference"),
            frozenset({"female", "male"}),
            None,
            "companion_preference",
            flags,
        ),
        private=private | _read_private(document, flags),
        flags=flags,
        request_hash=reading.fingerprint,
    )
    raw = reading.raw
    if raw is None and not _LOSSY_FLAGS.isdisjoint(flags):
        raw = body
    if raw is not None:
        # Bytes do not go into JSON: base64 keeps them exact, whatever they are.
        payload.private["raw_body_b64"] = base64.b64encode(raw).decode("ascii")
    return payload


def read_fix(value: Any, *, received_at: datetime, settings: IntakeSettings) -> LocationFix:
    """Read one location object leniently; ``usable`` says whether routing may rely on it."""
    flags: list[str] = []
    if not isinstance(value, dict):
        return LocationFix(None, None, None, received_at, None, False, ["location_invalid"])
    if not _LOCATION_FIELDS.issuperset(value):
        flags.append("unknown_fields")
    lat, lon = _finite(value.get("lat")), _finite(value.get("lon"))
    usable = True
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        flags.append("location_invalid")
        usable, lat, lon = False, None, None
    elif lat == 0 and lon == 0:
        flags.append("location_invalid")  # "null island": a phone's placeholder, not a place
        usable = False
    accuracy = _finite(value.get("accuracy_m"))
    if accuracy is None or accuracy < 0:
        flags.append("accuracy_unknown" if value.get("accuracy_m") is None else "accuracy_invalid")
        accuracy = None
    fix_at = parse_timestamp(value.get("fix_at"))
    if fix_at is None:
        flags.append("fix_time_missing" if value.get("fix_at") is None else "fix_time_invalid")
        fix_at = received_at
    elif fix_at - received_at > timedelta(seconds=settings.max_clock_skew_s):
        flags.append("fix_time_in_future")
        fix_at = received_at
    elif received_at - fix_at > timedelta(seconds=settings.max_fix_age_s):
        flags.append("location_stale")
        usable = False
    source = value.get("source")
    if not isinstance(source, str) or source not in LOCATION_SOURCES:
        if source is not None:
            flags.append("location_source_unknown")
        source = None
    return LocationFix(lat, lon, accuracy, fix_at, source, usable, flags)


def parse_timestamp(value: Any) -> datetime | None:
    """An RFC 3339 timestamp with a zone, in UTC; None for anything else."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        return None


def _read_pressed_at(
    value: Any,
    received_at: datetime,
    settings: IntakeSettings,
    flags: list[str],
    private: dict[str, Any],
) -> datetime | None:
    if value is None:
        flags.append("pressed_at_missing")
        return None
    parsed = parse_timestamp(value)
    if parsed is None:
        naive = isinstance(value, str) and _is_naive_timestamp(value)
        flags.append("pressed_at_without_timezone" if naive else "pressed_at_invalid")
        private["pressed_at_raw"] = value if isinstance(value, str) else repr(value)[:100]
        return None
    if abs(parsed - received_at) > timedelta(seconds=settings.max_clock_skew_s):
        flags.append("clock_skew")
    return parsed


def _is_naive_timestamp(value: str) -> bool:
    try:
        return datetime.fromisoformat(value).tzinfo is None
    except ValueError:
        return False


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        return None
    return number if math.isfinite(number) else None


def _read_bool(value: Any, name: str, flags: list[str], *, default: bool, if_invalid: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    flags.append(f"{name}_invalid")
    return if_invalid


def _read_optional_bool(value: Any, name: str, flags: list[str]) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    flags.append(f"{name}_invalid")
    return None


def _read_choice(
    value: Any, allowed: frozenset[str], default: str | None, name: str, flags: list[str]
) -> Any:
    if value is None:
        return default
    if isinstance(value, str) and value.lower() in allowed:
        return value.lower()
    flags.append(f"{name}_invalid")
    return default


def _read_transit(value: Any, flags: list[str]) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        flags.append("transit_invalid")
        return None
    context = {
        key: _limited(str(value[key]), _TRANSIT_LIMIT, flags).strip()
        for key in _TRANSIT_FIELDS
        if isinstance(value.get(key), str | int) and not isinstance(value.get(key), bool)
    }
    if len(context) != len([k for k in value if value[k] is not None]):
        flags.append("transit_partly_invalid")
    return context or None


def _read_private(document: dict[str, Any], flags: list[str]) -> dict[str, Any]:
    private: dict[str, Any] = {}
    contact = document.get("contact")
    if isinstance(contact, dict):
        private["contact"] = {
            k: _limited(contact[k], _CONTACT_LIMIT, flags)
            for k in _CONTACT_FIELDS
            if isinstance(contact.get(k), str)
        }
        if len(private["contact"]) != len([k for k in contact if contact[k] is not None]):
            flags.append("contact_partly_invalid")
    elif contact is not None:
        flags.append("contact_invalid")
    message = document.get("message")
    if isinstance(message, str):
        private["message"] = _limited(message, _TEXT_LIMIT, flags)
    elif message is not None:
        flags.append("message_invalid")
    return private


def _limited(text: str, limit: int, flags: list[str]) -> str:
    if len(text) <= limit:
        return text
    flags.append("text_truncated")  # the whole text stays in the raw bytes kept for staff
    return text[:limit]
